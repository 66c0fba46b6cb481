package testkit

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
)

// SVG reads a chart, failing t if it is not well-formed XML: its text, one
// line per run of characters, and its elements in document order.
func SVG(t testing.TB, svg []byte) (text string, elements []xml.StartElement) {
	t.Helper()
	var texts []string
	dec := xml.NewDecoder(bytes.NewReader(svg))
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return strings.Join(texts, "\n"), elements
		}
		if err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, svg)
		}
		switch el := tok.(type) {
		case xml.CharData:
			texts = append(texts, string(el))
		case xml.StartElement:
			elements = append(elements, el.Copy())
		}
	}
}

// Attr is the value of the attribute called name of el, or "".
func Attr(el xml.StartElement, name string) string {
	for _, a := range el.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}
