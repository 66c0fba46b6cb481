package console_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/eldersafe/eldersafe/console"
	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/tasks"
)

func get(t *testing.T, h http.Handler, method, target string, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func TestHandler(t *testing.T) {
	h := console.Handler()
	t.Run("Page", func(t *testing.T) {
		w := get(t, h, "GET", "/", nil)
		if w.Code != 200 || !strings.Contains(w.Body.String(), `<script type="module" src="/static/js/app.js">`) {
			t.Fatalf("GET /: %d %.200q", w.Code, w.Body.String())
		}
		for k, want := range map[string]string{
			"Content-Type":            "text/html; charset=utf-8",
			"Content-Security-Policy": console.ContentSecurityPolicy,
			"X-Content-Type-Options":  "nosniff",
			"X-Frame-Options":         "DENY",
			"Referrer-Policy":         "no-referrer",
			"Cache-Control":           "no-cache",
		} {
			if got := w.Header().Get(k); got != want {
				t.Errorf("%s: %q, want %q", k, got, want)
			}
		}
		etag := w.Header().Get("ETag")
		if etag == "" {
			t.Fatal("no ETag")
		}
		if w := get(t, h, "GET", "/", map[string]string{"If-None-Match": etag}); w.Code != http.StatusNotModified {
			t.Errorf("revalidation: %d, want 304", w.Code)
		}
	})
	t.Run("Assets", func(t *testing.T) {
		for target, ct := range map[string]string{
			"/static/js/app.js":       "text/javascript; charset=utf-8",
			"/static/app.css":         "text/css; charset=utf-8",
			"/static/i18n/zh-CN.json": "application/json; charset=utf-8",
			"/static/icon.svg":        "image/svg+xml",
		} {
			w := get(t, h, "GET", target, nil)
			if w.Code != 200 || w.Header().Get("Content-Type") != ct || w.Body.Len() == 0 {
				t.Errorf("GET %s: %d %q", target, w.Code, w.Header().Get("Content-Type"))
			}
			if w.Header().Get("Content-Security-Policy") == "" {
				t.Errorf("GET %s: no CSP", target)
			}
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		for _, target := range []string{"/static/", "/static/nothing.js", "/static/index.html", "/static/../console.go", "/index.html", "/x"} {
			if w := get(t, h, "GET", target, nil); w.Code != 404 {
				t.Errorf("GET %s: %d, want 404", target, w.Code)
			}
		}
	})
	t.Run("Methods", func(t *testing.T) {
		if w := get(t, h, "POST", "/", nil); w.Code != 405 || w.Header().Get("Allow") != "GET, HEAD" {
			t.Errorf("POST /: %d, Allow %q", w.Code, w.Header().Get("Allow"))
		}
		if w := get(t, h, "HEAD", "/static/app.css", nil); w.Code != 200 {
			t.Errorf("HEAD: %d", w.Code)
		}
	})
}

// TestCSP: the policy allows the monitor's own origin and nothing else, no
// inline code.
func TestCSP(t *testing.T) {
	p := console.ContentSecurityPolicy
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
		if !strings.Contains(p, want) {
			t.Errorf("CSP lacks %q", want)
		}
	}
	for _, bad := range []string{"unsafe-inline", "unsafe-eval", "http:", "https:", "*", "data:"} {
		if strings.Contains(p, bad) {
			t.Errorf("CSP allows %q", bad)
		}
	}
}

func assets(t *testing.T) map[string]string {
	t.Helper()
	names, err := console.Files()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, n := range names {
		b, ok := console.Asset(n)
		if !ok {
			t.Fatalf("asset %s listed but not readable", n)
		}
		out[n] = string(b)
	}
	return out
}

// TestOffline: nothing in the console comes from elsewhere. The only URLs
// are the SVG namespace and the map link a worker may follow, which the
// page never loads.
func TestOffline(t *testing.T) {
	url := regexp.MustCompile(`(?i)(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}[^\s'"` + "`" + `)]*`)
	allowed := []string{"http://www.w3.org/2000/svg", "https://www.openstreetmap.org/"}
	for name, src := range assets(t) {
		for _, u := range url.FindAllString(src, -1) {
			if !slices.ContainsFunc(allowed, func(a string) bool { return strings.HasPrefix(u, a) }) {
				t.Errorf("%s refers to %s", name, u)
			}
		}
	}
}

// TestNoInlineCode: the page has no inline script, style or handler, which
// the CSP would block anyway.
func TestNoInlineCode(t *testing.T) {
	page := assets(t)["index.html"]
	for _, re := range []string{`<script(?:\s[^>]*)?>[^<]`, `\sstyle=`, `\son[a-z]+=`, `<style`, `javascript:`} {
		if m := regexp.MustCompile(re).FindString(page); m != "" {
			t.Errorf("index.html has inline code: %q", m)
		}
	}
	for _, tag := range regexp.MustCompile(`<script[^>]*>`).FindAllString(page, -1) {
		if !strings.Contains(tag, `src="/static/`) {
			t.Errorf("script without a src of ours: %s", tag)
		}
	}
	for name, src := range assets(t) {
		if strings.HasSuffix(name, ".js") {
			for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"} {
				if strings.Contains(src, bad) {
					t.Errorf("%s uses %s: build DOM with dom.js's h()", name, bad)
				}
			}
		}
	}
}

// TestModules: every module a script imports is embedded.
func TestModules(t *testing.T) {
	all := assets(t)
	imp := regexp.MustCompile(`(?m)^import .* from '(\./[^']+)';`)
	for name, src := range all {
		if !strings.HasSuffix(name, ".js") {
			continue
		}
		for _, m := range imp.FindAllStringSubmatch(src, -1) {
			dep := path.Join(path.Dir(name), m[1])
			if _, ok := all[dep]; !ok {
				t.Errorf("%s imports %s, which is not embedded", name, dep)
			}
		}
	}
}

// TestStrings: both languages have every string the console shows.
func TestStrings(t *testing.T) {
	all := assets(t)
	tables := map[string]map[string]string{}
	for _, lang := range []string{"en", "zh-CN"} {
		var m map[string]string
		if err := json.Unmarshal([]byte(all["i18n/"+lang+".json"]), &m); err != nil {
			t.Fatalf("%s: %v", lang, err)
		}
		for k, v := range m {
			if strings.TrimSpace(v) == "" {
				t.Errorf("%s: %s is empty", lang, k)
			}
		}
		tables[lang] = m
	}
	for k := range tables["en"] {
		if _, ok := tables["zh-CN"][k]; !ok {
			t.Errorf("zh-CN lacks %s", k)
		}
	}
	for k := range tables["zh-CN"] {
		if _, ok := tables["en"][k]; !ok {
			t.Errorf("en lacks %s", k)
		}
	}

	// Keys the scripts spell out, and those they build from the API's values.
	want := map[string]bool{}
	literal := regexp.MustCompile(`\bt\('([a-z_]+\.[a-z_.]+)'|(?:nav|label|unit): '([a-z_]+\.[a-z_]+)'|data-i18n="([a-z_.]+)"`)
	for _, src := range all {
		for _, m := range literal.FindAllStringSubmatch(src, -1) {
			want[m[1]+m[2]+m[3]] = true
		}
	}
	// Keys in lists ('devices.device', ...): any quoted name.name whose
	// first part is one of the tables' namespaces.
	spaces := map[string]bool{}
	for k := range tables["en"] {
		spaces[strings.Split(k, ".")[0]] = true
	}
	quoted := regexp.MustCompile(`'([a-z]+)\.([a-z_]+)'`)
	for name, src := range all {
		if !strings.HasSuffix(name, ".js") {
			continue
		}
		for _, m := range quoted.FindAllStringSubmatch(src, -1) {
			if spaces[m[1]] {
				want[m[1]+"."+m[2]] = true
			}
		}
	}
	for _, k := range []string{"countdown.ack", "countdown.resolve"} {
		delete(want, k)
		want[k+"_left"] = true
	}
	add := func(prefix string, values ...string) {
		for _, v := range values {
			want[prefix+v] = true
		}
	}
	add("rule.", rules.Names...)
	add("rule.", rules.RuleManual)
	for _, s := range rules.Severities {
		add("severity.", string(s))
	}
	for _, s := range tasks.States {
		add("state.", string(s))
	}
	add("outcome.", tasks.Outcomes...)
	for _, k := range registry.DeviceKinds {
		add("kind.", string(k))
	}
	add("role.", registry.UserRoles...)
	add("role.", "admin")
	add("device.", "online", "offline", "never")
	add("live.", "live", "reconnecting")
	add("timeline.", tasks.EntryOpened, tasks.EntryEvidence, tasks.EntryConditionCleared, tasks.EntryAcknowledged,
		tasks.EntryCheckedIn, tasks.EntryResolved, tasks.EntryHandedOver, tasks.EntryRescheduled, tasks.EntryCancelled, tasks.EntryEscalated,
		tasks.EntryNotice, tasks.EntryNoticeFailed, tasks.EntryNoticeSkipped, tasks.EntryNoticeDeferred)
	for _, p := range rules.Params {
		add("param.", p.Name)
	}
	for k := range want {
		for lang, table := range tables {
			if _, ok := table[k]; !ok {
				t.Errorf("%s lacks %q", lang, k)
			}
		}
	}
}

// TestThresholdParams: the threshold editor's PARAMS (operator.js) lists
// every parameter of rules.Table, in its order and with its unit.
func TestThresholdParams(t *testing.T) {
	src := assets(t)["js/operator.js"]
	block := regexp.MustCompile(`(?s)const PARAMS = \[(.*?)\n\];`).FindStringSubmatch(src)
	if block == nil {
		t.Fatal("operator.js has no PARAMS")
	}
	var got []string
	for _, m := range regexp.MustCompile(`\['(\w+)', '(\w+)', '(\w+)'\]`).FindAllStringSubmatch(block[1], -1) {
		got = append(got, m[1]+"."+m[2]+" "+m[3])
	}
	units := map[string]string{rules.UnitHours: "hours", rules.UnitKWh: "kwh", rules.UnitPercent: "percent", rules.UnitWindow: "window", rules.UnitMinutes: "minutes", rules.UnitFactor: "factor"}
	var want []string
	for _, p := range rules.Params {
		want = append(want, p.Key()+" "+units[p.Unit])
	}
	if !slices.Equal(got, want) {
		t.Errorf("operator.js PARAMS\n%v\nwant, as rules.Table:\n%v", got, want)
	}
}
