// Package console is eldersafe's web console (docs/console.md): plain HTML,
// CSS and JavaScript modules, with no build step and no framework, embedded
// in the binary and served at / (the page) and /static/ (its assets). It
// loads nothing from anywhere else, so it works on a closed network, and its
// Content-Security-Policy allows nothing but the monitor itself.
//
// The console is a client of the JSON API like any other: it logs in with
// POST /api/v1/login, keeps the token in the tab's sessionStorage, and follows
// task changes on GET /api/v1/events.
package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed static
var static embed.FS

// ContentSecurityPolicy is sent with every console response: scripts,
// styles, images and connections from the monitor's own origin only; no
// inline script or style, no plugins, no framing.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// asset is one embedded file, ready to serve.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

// Handler serves the console: GET / is the page, GET /static/{file} its
// assets; anything else is 404. Assets are revalidated on every load (ETag),
// so an upgraded binary is never mixed with a cached old script.
func Handler() http.Handler {
	assets, err := load()
	if err != nil {
		panic(err) // the embedded files are part of the binary: a test catches this
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "geolocation=(self), camera=(), microphone=(), payment=()")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := "index.html"
		if r.URL.Path != "/" {
			rest, ok := strings.CutPrefix(r.URL.Path, "/static/")
			if !ok || rest == "" || rest == "index.html" {
				http.NotFound(w, r)
				return
			}
			name = rest
		}
		a, ok := assets[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h.Set("Content-Type", a.contentType)
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", a.etag)
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(a.body))
	})
}

// Files lists the embedded assets by their path below /static/
// (index.html is the page at /).
func Files() ([]string, error) {
	assets, err := load()
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(assets))
	for n := range assets {
		names = append(names, n)
	}
	return names, nil
}

// Asset is the content of an embedded file, by its path below /static/.
func Asset(name string) ([]byte, bool) {
	b, err := fs.ReadFile(static, path.Join("static", name))
	return b, err == nil
}

func load() (map[string]asset, error) {
	assets := make(map[string]asset)
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(static, p)
		if err != nil {
			return err
		}
		ct := mime.TypeByExtension(path.Ext(p))
		switch path.Ext(p) {
		case ".js":
			ct = "text/javascript; charset=utf-8"
		case ".json":
			ct = "application/json; charset=utf-8"
		case ".svg":
			ct = "image/svg+xml"
		}
		if ct == "" {
			return fmt.Errorf("console: %s: unknown content type", p)
		}
		sum := sha256.Sum256(body)
		assets[strings.TrimPrefix(p, "static/")] = asset{body: body, contentType: ct, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("console: load assets: %w", err)
	}
	return assets, nil
}
