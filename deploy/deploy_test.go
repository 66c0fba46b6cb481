// Package deploy_test checks the deployment files against the code: every
// metric that deploy/prometheus/alerts.yml and deploy/grafana/*.json name
// is one the monitor exports, and every InfluxDB field and tag the
// dashboard queries is one the monitor writes.
package deploy_test

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.yaml.in/yaml/v3"

	"github.com/eldersafe/eldersafe/history"
	"github.com/eldersafe/eldersafe/history/influx"
	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
)

// exported lists every metric the monitor can export: each eldersafe_*
// name in the source (a CounterVec appears on /metrics only once it has a
// child, so scraping a fresh monitor would miss some), the Go and process
// collectors' metrics, and Prometheus's own up.
func exported(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{"up": true}
	name := regexp.MustCompile(`^eldersafe_[a-z0-9_]+$`)
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if base := d.Name(); path != ".." && (strings.HasPrefix(base, ".") || base == "testdata" || base == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil && name.MatchString(s) {
					names[s] = true
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	for _, want := range []string{"eldersafe_ingest_messages_total", "eldersafe_tasks_open", "eldersafe_mqtt_connected", "go_goroutines"} {
		if !names[want] {
			t.Fatalf("the metric scan missed %s: %v", want, names)
		}
	}
	return names
}

var metricRef = regexp.MustCompile(`\b((?:eldersafe|go|process)_[a-z0-9_]+)\b|\b(up)\{`)

// checkPromQL checks that expr is balanced and that every metric it names
// exists (a histogram's _bucket, _sum and _count series by its name).
func checkPromQL(t *testing.T, where, expr string, names map[string]bool) {
	t.Helper()
	if strings.TrimSpace(expr) == "" {
		t.Errorf("%s: empty expression", where)
		return
	}
	if err := balanced(expr); err != nil {
		t.Errorf("%s: %v in %q", where, err, expr)
	}
	refs := metricRef.FindAllStringSubmatch(expr, -1)
	if len(refs) == 0 {
		t.Errorf("%s: names no metric: %q", where, expr)
	}
	for _, m := range refs {
		n := m[1] + m[2]
		base := n
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			base = strings.TrimSuffix(base, suffix)
		}
		if !names[n] && !names[base] {
			t.Errorf("%s: metric %s does not exist", where, n)
		}
	}
}

// balanced checks brackets and double quotes.
func balanced(s string) error {
	var stack []rune
	inQuote := false
	for i, r := range s {
		if r == '"' && (i == 0 || s[i-1] != '\\') {
			inQuote = !inQuote
			continue
		}
		if inQuote {
			continue
		}
		switch r {
		case '(', '{', '[':
			stack = append(stack, r)
		case ')', '}', ']':
			open := map[rune]rune{')': '(', '}': '{', ']': '['}[r]
			if len(stack) == 0 || stack[len(stack)-1] != open {
				return fmt.Errorf("unbalanced %q at %d", r, i)
			}
			stack = stack[:len(stack)-1]
		}
	}
	if inQuote || len(stack) > 0 {
		return fmt.Errorf("unclosed %q", string(stack))
	}
	return nil
}

func TestAlertRules(t *testing.T) {
	names := exported(t)
	data, err := os.ReadFile("prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Expr        string            `yaml:"expr"`
				For         string            `yaml:"for"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&file); err != nil {
		t.Fatalf("alerts.yml: %v", err)
	}
	seen := map[string]bool{}
	for _, g := range file.Groups {
		if g.Name == "" || len(g.Rules) == 0 {
			t.Errorf("group %q: a name and rules are required", g.Name)
		}
		for _, r := range g.Rules {
			where := "alert " + r.Alert
			if !regexp.MustCompile(`^Eldersafe[A-Z][A-Za-z]+$`).MatchString(r.Alert) || seen[r.Alert] {
				t.Errorf("%s: want a unique CamelCase name starting Eldersafe", where)
			}
			seen[r.Alert] = true
			checkPromQL(t, where, r.Expr, names)
			if r.For != "" {
				if _, err := time.ParseDuration(r.For); err != nil {
					t.Errorf("%s: for %q: %v", where, r.For, err)
				}
			}
			if s := r.Labels["severity"]; s != "page" && s != "ticket" {
				t.Errorf("%s: severity %q, want page or ticket", where, s)
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("%s: summary and description are required", where)
			}
			for k, v := range r.Annotations {
				if err := balanced(strings.NewReplacer("{{", "(", "}}", ")").Replace(v)); err != nil {
					t.Errorf("%s: annotation %s: %v", where, k, err)
				}
			}
		}
	}
	// What the monitor must alert on about itself.
	for _, want := range []string{"EldersafeDown", "EldersafeIngestStalled", "EldersafeBrokerDisconnected", "EldersafeOutboxBacklog", "EldersafeTasksOverdue"} {
		if !seen[want] {
			t.Errorf("no alert %s", want)
		}
	}
}

// written lists the tags and fields the monitor writes to InfluxDB, by
// measurement, from points with every field set.
func written(t *testing.T) map[string]map[string]bool {
	t.Helper()
	f, b := 1.0, true
	r := rules.Reading{HouseholdID: "h", DeviceID: "d", Kind: registry.Wristband, Stream: rules.Event, TS: time.Now(),
		TotalLiters: &f, FlowLPM: &f, Motion: &b, Room: "r", Open: &b, Event: "fall", Lat: &f, Lon: &f, AccuracyM: &f,
		BatteryPct: &f, Worn: &b, HeartRate: &f, TotalKWh: &f, PowerW: &f, Online: &b}
	e := history.TaskEvent{At: time.Now(), TaskID: "t", HouseholdID: "h", Rule: "fall", Severity: "critical", Kind: "visit",
		Event: "resolved", State: "resolved", AssigneeID: "w", Outcome: "safe"}
	out := map[string]map[string]bool{}
	// The test values hold no space, comma or equals sign to escape.
	for _, line := range []string{influx.ReadingLine(r), influx.TaskEventLine(e)} {
		head, rest, _ := strings.Cut(line, " ")
		fields, _, _ := strings.Cut(rest, " ")
		tags := strings.Split(head, ",")
		keys := map[string]bool{}
		for _, kv := range append(tags[1:], strings.Split(fields, ",")...) {
			k, _, _ := strings.Cut(kv, "=")
			keys[k] = true
		}
		out[tags[0]] = keys
	}
	return out
}

var (
	fromMeasurement = regexp.MustCompile(`FROM "([a-z_]+)"`)
	quotedIdent     = regexp.MustCompile(`"([a-z_]+)"`)
)

func TestGrafanaDashboard(t *testing.T) {
	names := exported(t)
	keys := written(t)
	files, err := filepath.Glob("grafana/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards in deploy/grafana: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var dash struct {
				Title      string `json:"title"`
				UID        string `json:"uid"`
				Templating struct {
					List []struct {
						Name       string          `json:"name"`
						Type       string          `json:"type"`
						Query      json.RawMessage `json:"query"`
						Datasource *datasource     `json:"datasource"`
					} `json:"list"`
				} `json:"templating"`
				Panels []panel `json:"panels"`
			}
			if err := json.Unmarshal(data, &dash); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			if dash.Title == "" || dash.UID == "" {
				t.Errorf("title %q, uid %q: both required", dash.Title, dash.UID)
			}
			vars := map[string]string{}
			for _, v := range dash.Templating.List {
				if v.Type == "datasource" {
					var q string
					json.Unmarshal(v.Query, &q)
					vars[v.Name] = q
				}
			}
			if vars["DS_PROMETHEUS"] != "prometheus" || vars["DS_INFLUXDB"] != "influxdb" {
				t.Fatalf("datasource variables: %v; want DS_PROMETHEUS (prometheus) and DS_INFLUXDB (influxdb)", vars)
			}
			dsOf := map[string]string{"prometheus": "${DS_PROMETHEUS}", "influxdb": "${DS_INFLUXDB}"}
			check := func(where string, ds *datasource) {
				if ds == nil || dsOf[ds.Type] == "" || ds.UID != dsOf[ds.Type] {
					t.Errorf("%s: datasource %+v, want the DS_PROMETHEUS or DS_INFLUXDB variable", where, ds)
				}
			}
			for _, v := range dash.Templating.List {
				if v.Type == "query" {
					check("variable "+v.Name, v.Datasource)
				}
			}
			ids := map[int]bool{}
			prom, flux := 0, 0
			for _, p := range dash.Panels {
				if ids[p.ID] {
					t.Errorf("panel id %d used twice", p.ID)
				}
				ids[p.ID] = true
				if p.Type == "row" {
					continue
				}
				where := "panel " + strconv.Quote(p.Title)
				check(where, p.Datasource)
				if len(p.Targets) == 0 {
					t.Errorf("%s: no queries", where)
				}
				for _, tg := range p.Targets {
					check(where, tg.Datasource)
					switch {
					case tg.Datasource == nil:
					case tg.Datasource.Type == "prometheus":
						prom++
						checkPromQL(t, where, tg.Expr, names)
					case tg.Datasource.Type == "influxdb":
						flux++
						checkInfluxQL(t, where, tg.Query, keys)
					}
				}
			}
			if prom == 0 || flux == 0 {
				t.Errorf("%d Prometheus and %d InfluxDB queries; want both", prom, flux)
			}
		})
	}
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type panel struct {
	ID         int         `json:"id"`
	Type       string      `json:"type"`
	Title      string      `json:"title"`
	Datasource *datasource `json:"datasource"`
	Targets    []struct {
		Datasource *datasource `json:"datasource"`
		Expr       string      `json:"expr"`
		Query      string      `json:"query"`
	} `json:"targets"`
}

// checkInfluxQL checks that a query reads a measurement the monitor writes,
// and names only its tags and fields.
func checkInfluxQL(t *testing.T, where, q string, keys map[string]map[string]bool) {
	t.Helper()
	m := fromMeasurement.FindStringSubmatch(q)
	if m == nil || keys[m[1]] == nil {
		t.Errorf("%s: reads no measurement the monitor writes: %q", where, q)
		return
	}
	if err := balanced(q); err != nil {
		t.Errorf("%s: %v in %q", where, err, q)
	}
	for _, id := range quotedIdent.FindAllStringSubmatch(q, -1) {
		if id[1] != m[1] && !keys[m[1]][id[1]] {
			t.Errorf("%s: %q is no tag or field of %s (known: %v)", where, id[1], m[1], slices.Sorted(maps.Keys(keys[m[1]])))
		}
	}
}
