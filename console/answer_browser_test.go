package console_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/eldersafe/eldersafe/app"
	"github.com/eldersafe/eldersafe/app/apptest"
)

// TestBrowserAnswerLink: a family contact opens the answer link of a
// verifying task's notice on a phone (390 px wide), taps "All is well",
// and the task is resolved without anyone sent.
func TestBrowserAnswerLink(t *testing.T) {
	b := newBrowser(t)
	const public = "http://answers.invalid"
	m := apptest.Start(t, func(cfg *app.Config) {
		cfg.Clock, cfg.Simulation = app.ClockEvent, true
		cfg.Notify.PublicURL = public
	})
	pushes := make(chan map[string]any, 4)
	family := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		pushes <- body
	}))
	t.Cleanup(family.Close)
	m.MustCall("POST", "/api/v1/grids", map[string]any{"id": "g1", "name": "Xingfu Road"}, 201, nil)
	m.MustCall("POST", "/api/v1/workers", map[string]any{"id": "w1", "name": "Wang Fang", "phone": "+8613800000001", "grid_ids": []string{"g1"}, "role": "grid_worker"}, 201, nil)
	m.MustCall("POST", "/api/v1/households", map[string]any{
		"id": "h1", "name": "Li Guiying", "address": "Building 3, Unit 2, Room 401", "grid_id": "g1",
		"contacts": []map[string]any{{"name": "Li Wei", "relation": "son", "lang": "en", "push_url": family.URL, "channels": []string{"push"}}},
	}, 201, nil)
	var meter struct {
		Secret string `json:"secret"`
	}
	m.MustCall("POST", "/api/v1/devices", map[string]any{"id": "wm-1", "kind": "water_meter", "household_id": "h1"}, 201, &meter)
	wm := m.Device("wm-1", meter.Secret)
	start := time.Now().UTC().Truncate(time.Second).Add(-13 * time.Hour)
	for h := 0; h <= 12; h++ {
		apptest.Publish(t, wm, "eldersafe/v1/devices/wm-1/telemetry", map[string]any{"ts": start.Add(time.Duration(h) * time.Hour).Format(time.RFC3339), "total_liters": 100})
	}
	var push map[string]any
	select {
	case push = <-pushes:
	case <-time.After(20 * time.Second):
		t.Fatal("no family notice")
	}
	actions, _ := push["actions"].([]any)
	if push["state"] != "verifying" || len(actions) == 0 {
		t.Fatalf("family push %v, want a verifying notice with answers", push)
	}
	link, _ := actions[0].(map[string]any)["url"].(string)
	link, _, _ = strings.Cut(strings.Replace(link, public, m.APIURL, 1), "?")

	f := b.tab(t)
	f.do("phone screen", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	f.do("open the link", chromedp.Navigate(link), chromedp.WaitVisible(css(`button[data-answer="ok"]`)))
	if s := f.text(`body`); !strings.Contains(s, "Li Guiying") || !strings.Contains(s, "no water used") {
		t.Errorf("page says %q, want who and what", s)
	}
	if !f.eval(`document.documentElement.scrollWidth <= 390`) {
		t.Error("the page is wider than the phone")
	}
	f.shot("answer-1-page")
	f.do("answer all is well", click(`button[data-answer="ok"]`))
	apptest.Eventually(t, "the page says thank you", func() bool { return f.eval(`document.getElementById('answers').hidden`) })
	if s := f.text(`#msg`); !strings.Contains(s, "Thank you") {
		t.Errorf("after answering the page says %q", s)
	}
	f.shot("answer-2-answered")
	var tasks struct {
		Tasks []struct{ ID, State, Outcome string } `json:"tasks"`
	}
	apptest.Eventually(t, "resolved by the answer", func() bool {
		m.MustCall("GET", "/api/v1/tasks?rule=water_no_use", nil, 200, &tasks)
		return len(tasks.Tasks) == 1 && tasks.Tasks[0].State == "resolved"
	})
	if tasks.Tasks[0].Outcome != "verified_ok" {
		t.Errorf("outcome %q, want verified_ok", tasks.Tasks[0].Outcome)
	}
	b.noErrors()
}
