package app_test

import (
	"strings"
	"testing"

	"github.com/eldersafe/eldersafe/app/apptest"
)

// TestRatingLinkEndToEnd: the family's resolved notice carries a link to
// rate the visit; its page and its rating need no log-in, the rating is the
// task's and the SLA report's, every use is audited, and the link rates
// once and does nothing else.
func TestRatingLinkEndToEnd(t *testing.T) {
	m, _, family := startLinkMonitor(t)
	m.MustCall("POST", "/api/v1/clock", map[string]any{"ts": "2026-11-20T08:00:00Z"}, 200, nil)
	var opened struct {
		ID string `json:"id"`
	}
	m.MustCall("POST", "/api/v1/tasks", map[string]any{"household_id": "h1", "severity": "high", "reason": "phoned: dizzy"}, 201, &opened)
	for _, step := range []struct{ path, body string }{
		{"ack", `{"worker_id":"w1"}`},
		{"checkin", `{"worker_id":"w1"}`},
		{"resolve", `{"worker_id":"w1","outcome":"safe"}`},
	} {
		m.MustCall("POST", "/api/v1/tasks/"+opened.ID+"/"+step.path, step.body, 200, nil)
	}
	var link string
	apptest.Eventually(t, "the family told of the resolution", func() bool {
		for _, r := range family.requests() {
			if r.Body["event"] == "resolved" {
				actions, _ := r.Body["actions"].([]any)
				if len(actions) == 1 {
					a, _ := actions[0].(map[string]any)
					if a["answer"] == "rate" {
						link, _ = a["url"].(string)
					}
				}
				return true
			}
		}
		return false
	})
	const base = "https://care.example/r/"
	token, ok := strings.CutPrefix(link, base)
	if !ok || len(token) < 22 {
		t.Fatalf("resolved notice's rating action url %q, want %s<token>", link, base)
	}
	// The page: the household, the visit, five stars; in the contact's language (zh-CN).
	if code, page := m.Public("/r/"+token, ""); code != 200 || !strings.Contains(page, "Li Guiying") || !strings.Contains(page, "请评价这次走访") ||
		strings.Count(page, "data-stars=") != 5 {
		t.Fatalf("GET /r/<token> = %d:\n%s", code, page)
	}
	for _, c := range []struct {
		name, path, body string
		want             int
	}{
		{"no stars", "/r/" + token, `{}`, 400},
		{"an answer link's work", "/a/" + token, `{"answer":"ok"}`, 404},
		{"unknown token", "/r/AAAAAAAAAAAAAAAAAAAAAA", `{"stars":3}`, 404},
		{"rated", "/r/" + token, `{"stars":5,"comment":"came within the hour"}`, 201},
		{"rated again", "/r/" + token, `{"stars":1}`, 409},
	} {
		if code, _ := m.Public(c.path, c.body); code != c.want {
			t.Errorf("%s: POST %s = %d, want %d", c.name, c.path, code, c.want)
		}
	}
	if code, page := m.Public("/r/"+token, ""); code != 200 || !strings.Contains(page, "★★★★★") || strings.Contains(page, "data-stars=") {
		t.Errorf("the page once rated = %d, want the five stars given and none to give:\n%s", code, page)
	}
	var task struct {
		Timeline []struct{ Actor, Type string } `json:"timeline"`
	}
	m.MustCall("GET", "/api/v1/tasks/"+opened.ID, nil, 200, &task)
	if last := task.Timeline[len(task.Timeline)-1]; last.Type != "rated" || last.Actor != "contact:Li Wei" {
		t.Errorf("last timeline entry %+v, want rated by contact:Li Wei", last)
	}
	var sla struct {
		Rows []struct {
			Ratings   int      `json:"ratings"`
			RatingAvg *float64 `json:"rating_avg"`
		} `json:"rows"`
	}
	m.MustCall("GET", "/api/v1/reports/sla?from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z", nil, 200, &sla)
	if len(sla.Rows) != 1 || sla.Rows[0].Ratings != 1 || sla.Rows[0].RatingAvg == nil || *sla.Rows[0].RatingAvg != 5 {
		t.Errorf("SLA rows %+v, want one rating of 5", sla.Rows)
	}
	var audit struct {
		Entries []struct{ Action, Object string } `json:"entries"`
	}
	m.MustCall("GET", "/api/v1/audit?actor=contact:Li%20Wei", nil, 200, &audit)
	rating := 0
	for _, e := range audit.Entries {
		if e.Object == "tasks/"+opened.ID+"/rating" {
			rating++
		}
	}
	// The page twice and the three ratings tried through it.
	if rating != 5 {
		t.Errorf("audit entries on the rating %+v, want 5: the page twice, three tries to rate", audit.Entries)
	}
}
