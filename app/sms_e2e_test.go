package app_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/app"
	"github.com/eldersafe/eldersafe/app/apptest"
)

// TestFallReachesWorkerAndFamilyBySMS: with notify.sms.provider set, a worker
// without a push URL and a contact who chose sms are texted through the
// provider (here Twilio's Messages API on loopback), and the task's
// notifications show the SMS sent.
func TestFallReachesWorkerAndFamilyBySMS(t *testing.T) {
	const sid, token, from = "AC0123456789abcdef0123456789abcdef", "twilio-auth-token", "+15005550006"
	var (
		mu   sync.Mutex
		sent []url.Values
	)
	twilio := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, _ := r.BasicAuth()
		if r.Method != http.MethodPost || r.URL.Path != "/2010-04-01/Accounts/"+sid+"/Messages.json" || user != sid || pass != token || r.ParseForm() != nil {
			t.Errorf("twilio: %s %s as %q: not the Messages API", r.Method, r.URL.Path, user)
			http.Error(w, `{"code":20003,"message":"Authenticate","status":401}`, http.StatusUnauthorized)
			return
		}
		mu.Lock()
		sent = append(sent, r.PostForm)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		w.Write([]byte(`{"sid":"SM0123456789abcdef0123456789abcdef","status":"queued"}`))
	}))
	t.Cleanup(twilio.Close)

	m := startMonitor(t, "", func(c *app.Config) {
		c.Notify.SMS.Provider = app.SMSTwilio
		c.Notify.SMS.Twilio = app.TwilioConfig{BaseURL: twilio.URL, AccountSID: sid, AuthToken: token, From: from}
	})
	m.MustCall("POST", "/api/v1/grids", map[string]any{"id": "g1", "name": "Grid"}, 201, nil)
	m.MustCall("POST", "/api/v1/workers", map[string]any{
		"id": "w1", "name": "Wang Fang", "phone": "+8613900000001", "grid_ids": []string{"g1"}, "role": "grid_worker",
	}, 201, nil)
	m.MustCall("POST", "/api/v1/households", map[string]any{
		"id": "h1", "name": "Li Guiying", "address": "Building 3, Unit 2, Room 401", "grid_id": "g1",
		"contacts": []map[string]any{{"name": "Li Wei", "relation": "son", "phone": "+8613800000001", "lang": "en", "channels": []string{"sms"}}},
	}, 201, nil)
	var dev struct {
		Secret string `json:"secret"`
	}
	m.MustCall("POST", "/api/v1/devices", map[string]any{"id": "wb-1", "kind": "wristband", "household_id": "h1"}, 201, &dev)
	apptest.Publish(t, m.Device("wb-1", dev.Secret), "eldersafe/v1/devices/wb-1/event", map[string]any{
		"ts": time.Now().Add(-time.Second).UTC().Format(time.RFC3339Nano), "seq": 1, "event": "fall",
	})

	var tasks []task
	apptest.Eventually(t, "fall task", func() bool { tasks = m.tasks("rule=fall"); return len(tasks) == 1 })
	var notes struct {
		Notifications []struct{ Channel, Recipient, Status string } `json:"notifications"`
	}
	apptest.Eventually(t, "both SMS sent", func() bool {
		m.MustCall("GET", "/api/v1/tasks/"+tasks[0].ID+"/notifications", nil, 200, &notes)
		sentSMS := 0
		for _, n := range notes.Notifications {
			if n.Channel == "sms" && n.Status == "sent" {
				sentSMS++
			}
		}
		return sentSMS == 2
	})
	mu.Lock()
	defer mu.Unlock()
	to := map[string]string{}
	for _, f := range sent {
		to[f.Get("To")] = f.Get("Body")
		if f.Get("From") != from {
			t.Errorf("From = %q, want %q", f.Get("From"), from)
		}
	}
	if len(sent) != 2 || to["+8613900000001"] == "" || to["+8613800000001"] == "" {
		t.Fatalf("SMS sent to %v, want the worker and the son once each", to)
	}
	if body := to["+8613800000001"]; !strings.HasPrefix(body, "Li Guiying: a fall (") || !strings.Contains(body, "A visit is being arranged") {
		t.Errorf("son's SMS = %q, want English that says who, what and that a visit is being arranged", body)
	}
}
