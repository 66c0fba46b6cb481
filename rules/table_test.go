package rules

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/registry"
)

// ruleConstants are the values of the package's Rule* string constants: every
// rule name the engine can raise an alert for, and manual.
func ruleConstants(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, id := range vs.Names {
					if !strings.HasPrefix(id.Name, "Rule") || i >= len(vs.Values) {
						continue
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						t.Fatalf("%s: want a string literal", id.Name)
					}
					name, err := strconv.Unquote(lit.Value)
					if err != nil {
						t.Fatal(err)
					}
					names = append(names, name)
				}
			}
		}
	}
	if len(names) < 10 {
		t.Fatalf("found only the rule constants %v", names)
	}
	return names
}

// TestTable: every rule the engine knows of, by constant or in Table, has its
// one entry with a class, a signal, a task kind and (but manual) a severity.
func TestTable(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Table {
		if seen[r.Name] {
			t.Errorf("%s: twice in Table", r.Name)
		}
		seen[r.Name] = true
	}
	for _, name := range slices.Concat(Names, ruleConstants(t)) {
		r, ok := Lookup(name)
		if !ok {
			t.Errorf("%s: not in Table", name)
			continue
		}
		if !slices.Contains([]Class{ClassAlarm, ClassWelfare, ClassMaintenance, ClassRoutine}, r.Class) {
			t.Errorf("%s: class %q", name, r.Class)
		}
		if r.Signal != SignalNone && !slices.Contains(registry.Signals, r.Signal) {
			t.Errorf("%s: signal %q, want one of registry.Signals or SignalNone", name, r.Signal)
		}
		if r.Kind != Visit && r.Kind != Maintenance && r.Kind != RoutineVisit {
			t.Errorf("%s: task kind %q", name, r.Kind)
		}
		if valid := r.Severity.Valid(); valid == (name == RuleManual) {
			t.Errorf("%s: severity %q", name, r.Severity)
		}
		for _, p := range r.Params {
			if p.Rule != name {
				t.Errorf("%s.%s: Rule is %q", name, p.Name, p.Rule)
			}
		}
	}
	if slices.Contains(registry.Signals, SignalNone) {
		t.Errorf("SignalNone %q is a signal", SignalNone)
	}
}

// TestTableIsTheContract holds Table to CONTRACT.md §3 (severity, task) and
// §12 (class), and to the signal each rule's task reveals (docs/privacy.md).
func TestTableIsTheContract(t *testing.T) {
	want := map[string]string{
		RuleFall:                "critical visit alarm health",
		RuleSOS:                 "critical visit alarm health",
		RuleWaterNoUse:          "high visit welfare water",
		RuleWaterContinuousFlow: "high visit alarm water",
		RuleNoMotion:            "high visit welfare motion",
		RuleNoExit:              "medium visit welfare door",
		RulePowerNoUse:          "medium visit welfare power",
		RuleUnusualQuiet:        "high visit welfare motion",
		RuleLateWake:            "high visit welfare motion",
		RuleDeviceOffline:       "low maintenance maintenance none",
		RuleBatteryLow:          "low maintenance maintenance none",
		RuleUnmonitored:         "high maintenance maintenance none",
		RuleManual:              " visit alarm none",
		RuleRoutineVisit:        "low routine_visit routine none",
	}
	for _, r := range Table {
		got := strings.Join([]string{string(r.Severity), string(r.Kind), string(r.Class), r.Signal}, " ")
		if got != want[r.Name] {
			t.Errorf("%s: %q, want %q", r.Name, got, want[r.Name])
		}
	}
	if len(Table) != len(want) {
		t.Errorf("Table has %d rules, want %d", len(Table), len(want))
	}
	// The welfare rules are the absence rules: those an away household does not open.
	var welfare, absent []string
	for _, r := range Table {
		if r.Class == ClassWelfare {
			welfare = append(welfare, r.Name)
		}
	}
	for _, a := range absences {
		absent = append(absent, a.rule)
	}
	if !slices.Equal(welfare, absent) {
		t.Errorf("welfare rules %v, absence rules %v", welfare, absent)
	}
}

// TestAlertFromTable: an alert carries its rule's severity and task kind.
func TestAlertFromTable(t *testing.T) {
	h := household{id: "h1"}
	for _, r := range Table {
		if r.Name == RuleManual || r.Name == RuleRoutineVisit {
			continue // opened by a person or a schedule, never by the engine
		}
		a := h.alert(r.Name, t0, "d1", "seen", nil)
		if a.Severity != r.Severity || a.Kind != r.Kind || a.Rule != r.Name {
			t.Errorf("%s: alert %+v", r.Name, a)
		}
	}
}

func TestDefaultsFromTable(t *testing.T) {
	want := Config{
		WaterNoUse:          12 * time.Hour,
		WaterContinuousFlow: 2 * time.Hour,
		NoMotion:            6 * time.Hour,
		NoMotionWindow:      Window{Start: 7 * 60, End: 22 * 60},
		NoExit:              72 * time.Hour,
		PowerNoUse:          24 * time.Hour,
		PowerNoUseFloorKWh:  1.2,
		DeviceOffline:       6 * time.Hour,
		WristbandOffline:    2 * time.Hour,
		BatteryLowPct:       15,
		UnusualQuietFactor:  1.5,
		UnusualQuietMin:     2 * time.Hour,
		LateWakeMargin:      90 * time.Minute,
	}
	if got := DefaultConfig(); got != want {
		t.Errorf("DefaultConfig() = %+v, want the contract's %+v", got, want)
	}
	th := DefaultConfig().Thresholds()
	for _, p := range Params {
		if th[p.Rule][p.Name] != p.Default {
			t.Errorf("%s: default %v (%T), Thresholds says %v", p.Key(), p.Default, p.Default, th[p.Rule][p.Name])
		}
	}
}
