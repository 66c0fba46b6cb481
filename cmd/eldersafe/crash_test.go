package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/eldersafe/eldersafe/notify"
	"github.com/eldersafe/eldersafe/testkit"
)

// TestCrashLosesNoNotice kills `eldersafe serve` with SIGKILL while a fall's
// notices are in flight (their push receiver stalls), those handed over as
// they were committed and those the outbox found, or still waiting for a
// free slot, restarts it on the same data directory, and checks that every
// notice is delivered: at least once, a repeat only under the same
// Idempotency-Key to the same recipient, and all of them `sent` in the API.
func TestCrashLosesNoNotice(t *testing.T) {
	const (
		token = "crash-test-admin-token-0001"
		// With the worker, more notices than the dispatcher sends at once:
		// Concurrency handed over at the commit, as many found by its look.
		contacts = 2 * notify.DefaultConcurrency
	)
	notices := contacts + 1
	inFlight := min(notices, 2*notify.DefaultConcurrency)
	bin := binary(t)
	dataDir := t.TempDir()
	broker := testkit.FreeAddr(t)
	env := []string{"ELDERSAFE_AUTH_ADMIN_TOKEN=" + token, "ELDERSAFE_MQTT_BROKER_ADDR=" + broker}
	push := newPushReceiver(t)
	push.setStall(true)

	s := serve(t, bin, dataDir, env...)
	api := apiClient{t: t, addr: s.addr, token: token}
	api.must("POST", "/api/v1/grids", map[string]any{"id": "g1", "name": "Xingfu Road"}, 201, nil)
	api.must("POST", "/api/v1/workers", map[string]any{"id": "w1", "name": "Li Min", "phone": "+8613900000001",
		"grid_ids": []string{"g1"}, "role": "grid_worker", "push_url": push.URL + "/worker"}, 201, nil)
	var family []map[string]any
	for i := 1; i <= contacts; i++ {
		family = append(family, map[string]any{"name": fmt.Sprintf("Relative %d", i), "relation": "child",
			"push_url": fmt.Sprintf("%s/family/%d", push.URL, i), "channels": []string{"push"}})
	}
	api.must("POST", "/api/v1/households", map[string]any{"id": "h1", "name": "Wang Xiuying",
		"address": "Flat 401, 12 Xingfu Road", "grid_id": "g1", "contacts": family}, 201, nil)
	var device struct {
		Secret string `json:"secret"`
	}
	api.must("POST", "/api/v1/devices", map[string]any{"id": "wb-1", "kind": "wristband", "household_id": "h1"}, 201, &device)

	publishFall(t, broker, "wb-1", device.Secret)
	var taskID string
	poll(t, "fall task", func() bool {
		var out struct {
			Tasks []struct{ ID string } `json:"tasks"`
		}
		api.must("GET", "/api/v1/tasks?rule=fall", nil, 200, &out)
		if len(out.Tasks) == 1 {
			taskID = out.Tasks[0].ID
		}
		return taskID != ""
	})
	poll(t, fmt.Sprintf("%d notices in flight", inFlight), func() bool { return push.stalled() == inFlight })

	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = s.cmd.Wait() // "signal: killed"
	if n := len(push.answered()); n != 0 {
		t.Fatalf("%d notices were answered before the crash, want none", n)
	}
	push.setStall(false)

	s = serve(t, bin, dataDir, env...)
	api.addr = s.addr
	var list struct {
		Notifications []struct {
			ID, Channel, Status string
			Attempts            int
		} `json:"notifications"`
	}
	poll(t, "every notice sent after the restart", func() bool {
		api.must("GET", "/api/v1/tasks/"+taskID+"/notifications", nil, 200, &list)
		sent := 0
		for _, n := range list.Notifications {
			if n.Status == "sent" {
				sent++
			}
		}
		return sent == notices && len(list.Notifications) == notices
	})
	s.stop(t)

	// Every notice reached its recipient, and every delivery was one of them.
	ids := map[string]bool{}
	for _, n := range list.Notifications {
		if n.Channel != "push" || n.Attempts < 1 {
			t.Errorf("notification %+v, want a push attempted at least once", n)
		}
		ids[n.ID] = true
	}
	delivered := push.delivered()
	if len(delivered) != notices {
		t.Errorf("%d notices delivered, want %d: %v", len(delivered), notices, delivered)
	}
	for key := range delivered {
		if !ids[key] {
			t.Errorf("delivered under Idempotency-Key %q, which is no notice of the task", key)
		}
	}
	if repeats := push.repeats(t); repeats != inFlight {
		t.Errorf("%d notices came twice, want the %d in flight at the crash", repeats, inFlight)
	}
	paths := slices.Sorted(maps.Values(delivered))
	if want := append([]string{"/worker"}, familyPaths(contacts)...); !slices.Equal(paths, slices.Sorted(slices.Values(want))) {
		t.Errorf("recipients reached %v, want %v", paths, want)
	}
}

func familyPaths(n int) []string {
	var p []string
	for i := 1; i <= n; i++ {
		p = append(p, fmt.Sprintf("/family/%d", i))
	}
	return p
}

// pushReceiver is every recipient's push endpoint on loopback. It records each
// request as it arrives and, while stalled, never answers: the request stays in
// flight until the sender gives up or dies.
type pushReceiver struct {
	*httptest.Server
	mu         sync.Mutex
	stall      bool
	deliveries []pushDelivery
}

type pushDelivery struct {
	path, key string
	body      []byte
	answered  bool
}

func newPushReceiver(t *testing.T) *pushReceiver {
	p := &pushReceiver{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		d := pushDelivery{path: r.URL.Path, key: r.Header.Get("Idempotency-Key"), body: body}
		p.mu.Lock()
		stall := p.stall
		d.answered = !stall
		p.deliveries = append(p.deliveries, d)
		p.mu.Unlock()
		if d.key == "" || r.Method != http.MethodPost {
			t.Errorf("push %s %s without an Idempotency-Key", r.Method, r.URL.Path)
		}
		if stall {
			<-r.Context().Done() // the sender's timeout, or its death
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *pushReceiver) setStall(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stall = on
}

func (p *pushReceiver) all() []pushDelivery {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.deliveries)
}

func (p *pushReceiver) answered() []pushDelivery {
	return slices.DeleteFunc(p.all(), func(d pushDelivery) bool { return !d.answered })
}

func (p *pushReceiver) stalled() int { return len(p.all()) - len(p.answered()) }

// repeats counts the pushes that came again under a key seen before, and
// fails the test unless each is the same notice: same recipient, same body
// (in flight when its monitor died, then sent again).
func (p *pushReceiver) repeats(t *testing.T) int {
	t.Helper()
	first := map[string]pushDelivery{}
	n := 0
	for _, d := range p.all() {
		f, seen := first[d.key]
		if !seen {
			first[d.key] = d
			continue
		}
		n++
		if d.path != f.path || !bytes.Equal(d.body, f.body) {
			t.Errorf("key %s came to %s and %s, or with another body:\n%s\n%s", d.key, f.path, d.path, f.body, d.body)
		}
	}
	return n
}

// delivered maps the Idempotency-Key of every answered push (a notice's id)
// to the path of the recipient it reached.
func (p *pushReceiver) delivered() map[string]string {
	m := map[string]string{}
	for _, d := range p.answered() {
		m[d.key] = d.path
	}
	return m
}

// apiClient calls the monitor's HTTP API with a bearer token.
type apiClient struct {
	t           *testing.T
	addr, token string
}

// must sends the request, fails the test unless the status is want, and decodes the answer into out.
func (c apiClient) must(method, path string, body any, want int, out any) {
	c.t.Helper()
	got, data := c.call(method, path, body)
	if got != want {
		c.t.Fatalf("%s %s: status %d, want %d: %s", method, path, got, want, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			c.t.Fatalf("%s %s: decode %s: %v", method, path, data, err)
		}
	}
}

// call sends the request, body as JSON, and returns the status and the answer.
func (c apiClient) call(method, path string, body any) (int, []byte) {
	c.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://"+c.addr+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// publishFall publishes a wristband's fall to the embedded broker with the device's own credentials.
func publishFall(t *testing.T, brokerAddr, deviceID, secret string) {
	t.Helper()
	c := dialDevice(t, "tcp://"+brokerAddr, "dev-"+deviceID, deviceID, secret)
	defer c.Disconnect(100)
	payload, err := json.Marshal(map[string]any{
		"ts": time.Now().Add(-time.Second).UTC().Format(time.RFC3339Nano), "seq": 1, "event": "fall", "lat": 31.2304, "lon": 121.4737,
	})
	if err != nil {
		t.Fatal(err)
	}
	if tok := c.Publish("eldersafe/v1/devices/"+deviceID+"/event", 1, false, payload); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
}

// dialDevice connects to the broker at url (tcp://host:port) as a device:
// username its id, password its secret. It does not reconnect by itself, so
// a publish in flight when the broker dies completes with an error.
func dialDevice(t *testing.T, url, clientID, deviceID, secret string) mqtt.Client {
	t.Helper()
	c, err := connectDevice(url, clientID, deviceID, secret)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func connectDevice(url, clientID, deviceID, secret string) (mqtt.Client, error) {
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(url).SetClientID(clientID).
		SetUsername(deviceID).SetPassword(secret).SetConnectTimeout(5 * time.Second).SetAutoReconnect(false))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		return nil, fmt.Errorf("device %s connect to %s: %v", deviceID, url, tok.Error())
	}
	return c, nil
}

// poll checks cond every 20 ms until it holds, failing the test after 30 s.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if !within(30*time.Second, cond) {
		t.Fatalf("timed out waiting for %s", what)
	}
}

// within checks cond every 20 ms until it holds or d has passed, and tells
// whether it held.
func within(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}
