package tasks_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/tasks"
)

// TestNotices_Privacy: a resident's privacy settings decide which rules the
// family is told of and whether notices carry the wristband's position; the
// worker is told of every visit.
func TestNotices_Privacy(t *testing.T) {
	for _, tc := range []struct {
		name    string
		privacy registry.Privacy
		rule    string
		sev     rules.Severity
		// roles are the recipient roles told, without repeats, in order.
		roles string
		// workerMap: the worker's notice has a map link (every alert here
		// carries a position).
		workerMap bool
	}{
		{name: "defaults: water to family", rule: rules.RuleWaterNoUse, sev: rules.High, roles: "worker family", workerMap: true},
		{name: "water for workers only", privacy: registry.Privacy{"water": {"worker"}}, rule: rules.RuleWaterNoUse, sev: rules.High, roles: "worker", workerMap: true},
		{name: "water for nobody: the worker still visits", privacy: registry.Privacy{"water": {}}, rule: rules.RuleWaterContinuousFlow, sev: rules.High, roles: "worker", workerMap: true},
		{name: "water hidden, a fall is still told", privacy: registry.Privacy{"water": {"worker"}}, rule: rules.RuleFall, sev: rules.Critical, roles: "worker family", workerMap: true},
		{name: "health for workers only", privacy: registry.Privacy{"health": {"worker"}}, rule: rules.RuleSOS, sev: rules.Critical, roles: "worker", workerMap: true},
		{name: "door hidden from family", privacy: registry.Privacy{"door": {"worker"}}, rule: rules.RuleNoExit, sev: rules.Medium, roles: "worker", workerMap: true},
		{name: "location hidden from workers", privacy: registry.Privacy{"location": {}}, rule: rules.RuleFall, sev: rules.Critical, roles: "worker family"},
		{name: "manual tasks are about no signal", privacy: registry.Privacy{"water": {}, "power": {}, "motion": {}, "door": {}, "health": {}},
			rule: rules.RuleManual, sev: rules.High, roles: "worker family", workerMap: true},
		{name: "a rule not in rules.Table is kept from the family", rule: "unheard_of", sev: rules.High, roles: "worker", workerMap: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{})
			must(t, e.db.SetPrivacy(context.Background(), hhMain, tc.privacy))
			task, opened := e.raise(t, alert(hhMain, tc.rule, tc.sev, rules.Visit, e.clk.Now(), "what the rule saw"))
			if !opened {
				t.Fatal("no task opened")
			}
			var roles []string
			for _, n := range e.notices(t, task.ID) {
				if !slices.Contains(roles, n.Role) {
					roles = append(roles, n.Role)
				}
				if n.Role == tasks.RecipientWorker {
					hasMap := strings.Contains(n.Message, "marker")
					if hasMap != tc.workerMap {
						t.Errorf("worker notice has a map link: %v, want %v; message %q", hasMap, tc.workerMap, n.Message)
					}
				}
				if n.Role == tasks.RecipientFamily && strings.Contains(n.Message, "marker") {
					t.Errorf("family notice has a map link: %q", n.Message)
				}
			}
			if got := strings.Join(roles, " "); got != tc.roles {
				t.Errorf("told %q, want %q", got, tc.roles)
			}
		})
	}
}

// TestNotices_FamilyByRuleSignal walks every visit rule of rules.Table with
// every signal kept from the family: the family hears only of rules that
// reveal no signal.
func TestNotices_FamilyByRuleSignal(t *testing.T) {
	hidden := registry.Privacy{}
	for _, sig := range registry.Signals {
		hidden[sig] = []string{registry.AudienceWorker}
	}
	for _, r := range rules.Table {
		if r.Kind != rules.Visit {
			continue // the family is never told of device upkeep
		}
		t.Run(r.Name, func(t *testing.T) {
			t.Parallel()
			for _, privacy := range []registry.Privacy{nil, hidden} {
				e := newEnv(t, envOptions{})
				must(t, e.db.SetPrivacy(context.Background(), hhMain, privacy))
				task, opened := e.raise(t, alert(hhMain, r.Name, rules.High, r.Kind, e.clk.Now(), "what the rule saw"))
				if !opened {
					t.Fatal("no task opened")
				}
				told := slices.ContainsFunc(e.notices(t, task.ID), func(n tasks.Notice) bool { return n.Role == tasks.RecipientFamily })
				if want := privacy == nil || r.Signal == rules.SignalNone; told != want {
					t.Errorf("privacy %v, signal %s: family told %v, want %v", privacy, r.Signal, told, want)
				}
			}
		})
	}
}
