package notify

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/tasks"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// allRules are every rule that can open a task.
var allRules = []string{
	rules.RuleFall, rules.RuleSOS, rules.RuleWaterNoUse, rules.RuleWaterContinuousFlow,
	rules.RuleNoMotion, rules.RuleNoExit, rules.RulePowerNoUse, rules.RuleDeviceOffline,
	rules.RuleBatteryLow, rules.RuleManual,
}

func newTemplates(t *testing.T) *Templates {
	t.Helper()
	tpl, err := NewTemplates()
	if err != nil {
		t.Fatalf("NewTemplates: %v", err)
	}
	return tpl
}

func ptr(f float64) *float64 { return &f }

func shanghai(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// golden messages: two rules (one with a position and an assignee, one with
// neither), each in both languages for both recipient roles.
func goldenMessages(t *testing.T) map[string]tasks.Message {
	loc := shanghai(t)
	fall := tasks.Message{
		Event: tasks.NoticeOpened,
		Task: tasks.Task{
			ID: "t-1", HouseholdID: "hh-1", Rule: rules.RuleFall, Severity: rules.Critical, Kind: rules.Visit,
			OpenedAt: time.Date(2024, 3, 5, 1, 12, 30, 0, time.UTC), // 09:12 in Shanghai
			Evidence: []rules.Evidence{{
				At: time.Date(2024, 3, 5, 1, 12, 28, 0, time.UTC), DeviceID: "wb-1",
				Summary: "wristband wb-1 reported a fall",
				Values:  map[string]any{"lat": 31.2304, "lon": 121.4737},
			}},
		},
		Household: tasks.HouseholdInfo{Name: "王秀英", Address: "上海市黄浦区幸福路12弄3号401室", Location: loc},
		Assignee:  "李敏",
		Lat:       ptr(31.2304),
		Lon:       ptr(121.4737),
	}
	water := tasks.Message{
		Event: tasks.NoticeOpened,
		Task: tasks.Task{
			ID: "t-2", HouseholdID: "hh-2", Rule: rules.RuleWaterNoUse, Severity: rules.High, Kind: rules.Visit,
			OpenedAt: time.Date(2024, 3, 6, 14, 5, 0, 0, time.UTC), // 22:05 in Shanghai
			Evidence: []rules.Evidence{{
				At: time.Date(2024, 3, 6, 14, 5, 0, 0, time.UTC), DeviceID: "wm-2",
				Summary: "total_liters stayed at 1532.5 for 12h since 2024-03-06 10:05",
			}},
		},
		Household: tasks.HouseholdInfo{Name: "Chen Guoqiang", Address: "7 Riverside Lane, Flat 2", Location: loc},
	}
	out := make(map[string]tasks.Message)
	for name, m := range map[string]tasks.Message{"fall": fall, "water_no_use": water} {
		for _, lang := range registry.Languages {
			for _, role := range roles {
				mm := m
				mm.Lang, mm.Role = lang, role
				out[lang+"_"+role+"_"+name] = mm
			}
		}
	}
	return out
}

func TestTemplates_Golden(t *testing.T) {
	tpl := newTemplates(t)
	for name, m := range goldenMessages(t) {
		t.Run(name, func(t *testing.T) {
			title, text, err := tpl.Compose(m)
			if err != nil {
				t.Fatalf("Compose: %v", err)
			}
			got := title + "\n\n" + text + "\n"
			path := filepath.Join("testdata", "golden", name+".txt")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./notify -run TestTemplates_Golden -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs (run with -update if the change is intended)\n--- got\n%s--- want\n%s", path, got, want)
			}
		})
	}
}

func TestTemplates_FamilyGetsLess(t *testing.T) {
	tpl := newTemplates(t)
	for name, m := range goldenMessages(t) {
		if m.Role != tasks.RecipientFamily {
			continue
		}
		_, text, err := tpl.Compose(m)
		if err != nil {
			t.Fatal(err)
		}
		for _, leak := range []string{"http", "wristband wb-1", "total_liters"} {
			if strings.Contains(text, leak) {
				t.Errorf("%s: family text contains %q:\n%s", name, leak, text)
			}
		}
	}
}

func TestTemplates_MapLinks(t *testing.T) {
	tpl := newTemplates(t)
	m := goldenMessages(t)["en_worker_fall"]
	tests := []struct {
		lang, want string
	}{
		{"zh-CN", "https://uri.amap.com/marker?position=121.4737,31.2304&coordinate=wgs84"},
		{"en", "https://www.openstreetmap.org/?mlat=31.2304&mlon=121.4737"},
	}
	for _, tt := range tests {
		m.Lang = tt.lang
		_, text, err := tpl.Compose(m)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(text, tt.want) {
			t.Errorf("%s worker text lacks %s:\n%s", tt.lang, tt.want, text)
		}
	}
	// No position, or a nonsense one: no link.
	for _, pos := range [][2]*float64{{nil, nil}, {ptr(31), nil}, {ptr(95), ptr(121)}, {ptr(31), ptr(-200)}} {
		m.Lat, m.Lon = pos[0], pos[1]
		_, text, err := tpl.Compose(m)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(text, "http") {
			t.Errorf("position %v: text has a link:\n%s", pos, text)
		}
	}
}

func TestTemplates_EveryRuleInEveryLanguage(t *testing.T) {
	tpl := newTemplates(t)
	for _, lang := range registry.Languages {
		w := vocabulary[lang]
		for _, r := range allRules {
			if w.rules[r] == "" {
				t.Errorf("%s: no phrase for rule %s", lang, r)
			}
		}
		for _, s := range rules.Severities {
			if w.severities[s] == "" {
				t.Errorf("%s: no word for severity %s", lang, s)
			}
		}
		for _, r := range allRules {
			for _, role := range roles {
				m := tasks.Message{Event: tasks.NoticeOpened, Role: role, Lang: lang,
					Task:      tasks.Task{Rule: r, Severity: rules.Low, Kind: rules.Maintenance, OpenedAt: time.Now()},
					Household: tasks.HouseholdInfo{Name: "X", Address: "Y"}}
				title, text, err := tpl.Compose(m)
				if err != nil || title == "" || text == "" || strings.Contains(title+text, "<no value>") {
					t.Errorf("%s %s %s: %q / %q, %v", lang, r, role, title, text, err)
				}
				if !strings.Contains(title, w.rules[r]) {
					t.Errorf("%s %s: title %q does not name the rule", lang, r, title)
				}
			}
		}
	}
}

func TestTemplates_Language(t *testing.T) {
	tpl := newTemplates(t)
	m := goldenMessages(t)["en_family_fall"]
	tests := map[string]string{
		"":      "【紧急】",
		"fr":    "【紧急】", // unknown: the default, zh-CN
		"zh-CN": "【紧急】",
		"zh":    "【紧急】",
		"en":    "[Critical]",
		"en-GB": "[Critical]",
		"EN":    "[Critical]",
	}
	for lang, prefix := range tests {
		m.Lang = lang
		title, _, err := tpl.Compose(m)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(title, prefix) {
			t.Errorf("lang %q: title %q, want prefix %q", lang, title, prefix)
		}
	}
}

func TestTemplates_TimeInHouseholdZone(t *testing.T) {
	tpl := newTemplates(t)
	m := goldenMessages(t)["en_family_fall"] // opened 01:12 UTC
	for _, tt := range []struct {
		loc  *time.Location
		want string
	}{
		{shanghai(t), "When: 2024-03-05 09:12"},
		{nil, "When: 2024-03-05 09:12"}, // no zone: the registry's default, Asia/Shanghai
		{time.UTC, "When: 2024-03-05 01:12"},
		{time.FixedZone("", -5*3600), "When: 2024-03-04 20:12"},
	} {
		m.Household.Location = tt.loc
		_, text, err := tpl.Compose(m)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(text, tt.want) {
			t.Errorf("location %v: text lacks %q:\n%s", tt.loc, tt.want, text)
		}
	}
}

func TestTemplates_UnknownsDoNotLoseTheNotice(t *testing.T) {
	tpl := newTemplates(t)
	m := goldenMessages(t)["en_worker_fall"]
	m.Task.Rule, m.Task.Severity = "gas_leak", "extreme"
	m.Household.Name = "Wang\nInjected: line"
	title, text, err := tpl.Compose(m)
	if err != nil {
		t.Fatalf("unknown rule: %v", err)
	}
	if title != "[extreme] Wang Injected: line: gas_leak" {
		t.Errorf("title = %q", title)
	}
	if strings.Contains(text, "\nInjected") {
		t.Errorf("a newline in a name broke the layout:\n%s", text)
	}

	m.Event = "no_such_event"
	if _, _, err := tpl.Compose(m); err == nil {
		t.Error("unknown event: want an error")
	}
	m.Event, m.Role = tasks.NoticeOpened, "stranger"
	if _, _, err := tpl.Compose(m); err == nil {
		t.Error("unknown role: want an error")
	}
}
