package trust

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/eldersafe/eldersafe/testkit"
)

func TestChart(t *testing.T) {
	data, err := os.ReadFile("testdata/report.json")
	if err != nil {
		t.Fatal(err)
	}
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	svg := Chart(r)
	// Well-formed, and what each bar says.
	all, elements := testkit.SVG(t, svg)
	widths := map[string]bool{}
	for _, el := range elements {
		if el.Name.Local == "rect" {
			widths[testkit.Attr(el, "width")] = true
		}
	}
	for _, want := range []string{
		"fall", "water_no_use", "power_no_use", // every rule that sent a worker on either side
		"10 true, 190 false", "10 true, 890 false", "0 true, 300 false",
		"0.196 as configured, 1.196 fixed rules alone",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("chart does not say %q:\n%s", want, all)
		}
	}
	if strings.Contains(all, "device_offline") {
		t.Error("the chart shows a maintenance rule")
	}
	// The longest bar (water_no_use, fixed: 890 false of 900) spans the scale.
	if !widths["514"] {
		t.Errorf("no bar 890/900 of 520 wide: %v", widths)
	}
}
