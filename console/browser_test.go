package console_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto"
	"github.com/chromedp/chromedp"

	"github.com/eldersafe/eldersafe/app"
	"github.com/eldersafe/eldersafe/app/apptest"
)

// Browser tests: the console in Debian's headless Chromium, driven by
// chromedp, against the whole monitor started in process (event clock,
// embedded broker), with devices publishing over MQTT. Screenshots go to
// $ELDERSAFE_TEST_ARTIFACTS/browser (default: test-artifacts/browser at the
// repository's root, which git ignores). Without Chromium the tests skip,
// unless ELDERSAFE_TEST_BROWSER=1 (set by scripts/test.sh), which makes its
// absence a failure.

const adminToken = apptest.AdminToken

// chromium finds the browser, or skips or fails the test.
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("ELDERSAFE_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	if os.Getenv("ELDERSAFE_TEST_BROWSER") == "1" {
		t.Fatal("ELDERSAFE_TEST_BROWSER=1 but Chromium is not installed: apt-get install chromium (or set ELDERSAFE_CHROMIUM)")
	}
	t.Skip("no Chromium: install Debian's chromium (apt-get install chromium) or run ./scripts/test.sh, which does; ELDERSAFE_CHROMIUM names another binary")
	return ""
}

// artifacts is where screenshots go.
func artifacts(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("ELDERSAFE_TEST_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "test-artifacts") // go test runs in console/
	}
	dir = filepath.Join(dir, "browser")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// monitor is the monitor under test (event clock, embedded broker) with an
// admin client for its API.
type monitor struct {
	*apptest.Monitor
	t *testing.T
}

func startMonitor(t *testing.T) *monitor {
	t.Helper()
	m := apptest.Start(t, func(cfg *app.Config) { cfg.Clock, cfg.Simulation = app.ClockEvent, true })
	return &monitor{Monitor: m, t: t}
}

// Passwords of the test's users.
const (
	workerPassword   = "grid-worker-password"
	operatorPassword = "operator-password"
	familyPassword   = "family-member-password"
)

// provision registers grid g1 with its grid worker w1, household h1 with a
// wristband and a water meter, and the users gw1 (w1), op1 (operator) and
// fam1 (family of h1); it returns the devices' secrets.
func (m *monitor) provision() map[string]string {
	m.t.Helper()
	m.MustCall("POST", "/api/v1/grids", map[string]any{"id": "g1", "name": "Xingfu Road"}, 201, nil)
	m.MustCall("POST", "/api/v1/workers", map[string]any{"id": "w1", "name": "Wang Fang", "phone": "+8613800000001", "grid_ids": []string{"g1"}, "role": "grid_worker"}, 201, nil)
	m.MustCall("POST", "/api/v1/households", map[string]any{
		"id": "h1", "name": "Li Guiying", "address": "Building 3, Unit 2, Room 401", "grid_id": "g1",
		"contacts": []map[string]any{{"name": "Li Wei", "relation": "son", "phone": "+8613900000002", "channels": []string{"log"}}},
	}, 201, nil)
	secrets := map[string]string{}
	for id, kind := range map[string]string{"wb-1": "wristband", "wm-1": "water_meter"} {
		var out struct {
			Secret string `json:"secret"`
		}
		m.MustCall("POST", "/api/v1/devices", map[string]any{"id": id, "kind": kind, "household_id": "h1"}, 201, &out)
		secrets[id] = out.Secret
	}
	m.MustCall("POST", "/api/v1/users", map[string]any{"id": "gw1", "password": workerPassword, "role": "grid_worker", "worker_id": "w1"}, 201, nil)
	m.MustCall("POST", "/api/v1/users", map[string]any{"id": "op1", "password": operatorPassword, "role": "operator"}, 201, nil)
	m.MustCall("POST", "/api/v1/users", map[string]any{"id": "fam1", "password": familyPassword, "role": "family", "household_id": "h1"}, 201, nil)
	return secrets
}

// browser is one Chromium for a test, with what its pages logged as errors.
type browser struct {
	t      *testing.T
	ctx    context.Context
	shots  string
	mu     sync.Mutex
	errors []string
}

// newBrowser starts headless Chromium with the flags this closed network
// needs (docs/console.md) and a fresh profile.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	exe := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &browser{t: t, ctx: ctx, shots: artifacts(t)}
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return b
}

// expectedErrors are console messages a test causes on purpose: the API
// refusing a bad threshold answers 400, which Chromium logs.
var expectedErrors = []string{"status of 400"}

// tab opens a new tab (its own sessionStorage: its own log-in) and collects
// the errors its pages log: uncaught exceptions, console.error and browser
// log entries such as a CSP violation.
func (b *browser) tab(t *testing.T) *tab {
	ctx, cancel := chromedp.NewContext(b.ctx)
	t.Cleanup(cancel)
	tb := &tab{b: b, t: t, ctx: ctx}
	messages := chromedp.Console(ctx)
	go func() {
		for msg, err := range messages {
			if err != nil {
				return
			}
			if msg.Type != chromedp.ConsoleError && msg.Type != chromedp.ConsoleException {
				continue
			}
			text := msg.String()
			if slices.ContainsFunc(expectedErrors, func(e string) bool { return strings.Contains(text, e) }) {
				continue
			}
			b.mu.Lock()
			b.errors = append(b.errors, text)
			b.mu.Unlock()
		}
	}()
	return tb
}

// noErrors fails the test if a page logged an error.
func (b *browser) noErrors() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range b.errors {
		b.t.Errorf("page error: %s", e)
	}
}

// stepTimeout bounds each step in a tab: generous, because a loaded machine
// can take seconds to lay out and capture a full page; it only ends a test
// that would otherwise hang.
const stepTimeout = 45 * time.Second

type tab struct {
	b   *browser
	t   *testing.T
	ctx context.Context
}

// do runs steps with a time limit, with a screenshot if they fail.
func (tb *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tb.shot("failed-" + strings.ReplaceAll(what, " ", "-"))
		tb.t.Fatalf("%s: %v", what, err)
	}
}

// shot saves a screenshot of the whole page as name.png.
func (tb *tab) shot(name string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	path := filepath.Join(tb.b.shots, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		tb.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	tb.t.Logf("screenshot %s", path)
}

func (tb *tab) text(sel string) string {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		tb.t.Fatalf("read %s: %v", sel, err)
	}
	return s
}

// attr is the attribute name of the first element matching sel.
func (tb *tab) attr(sel, name string) string {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector(`+jsString(sel)+`).getAttribute(`+jsString(name)+`)`))
	if err != nil {
		tb.t.Fatalf("read %s of %s: %v", name, sel, err)
	}
	return v
}

func (tb *tab) eval(expr string) bool {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
	if err != nil {
		tb.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

func (tb *tab) login(base, id, password string) {
	tb.t.Helper()
	tb.do("log in as "+id,
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(css(`input[name="id"]`)),
		chromedp.SendKeys(css(`input[name="id"]`), id),
		chromedp.SendKeys(css(`input[name="password"]`), password),
		click(`form.login button[type="submit"]`),
		chromedp.WaitVisible(css(`#logout`)),
	)
}

func css(s string) chromedp.CSS { return chromedp.CSS(s) }

// click clicks the first element matching sel, again if the page replaced
// that element between finding it and clicking it: a live update redraws
// lists, and Chromium then no longer knows the node it found (a person's
// tap simply lands on the new element).
func click(sel string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		for {
			v, err := chromedp.Click(css(sel))(ctx, t)
			var cdpErr *cdproto.Error
			if !errors.As(err, &cdpErr) || !strings.Contains(strings.ToLower(cdpErr.Message), "node") {
				return v, err
			}
			select {
			case <-ctx.Done():
				return v, fmt.Errorf("click %s: %w (last: %v)", sel, ctx.Err(), err)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
}

// choose sets a control's value as a person's pick does: the page hears
// input and change (chromedp.SetValue alone only sets the property).
func choose(sel, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](`(() => {
		const el = document.querySelector(` + jsString(sel) + `);
		el.value = ` + jsString(value) + `;
		el.dispatchEvent(new Event('input', {bubbles: true}));
		el.dispatchEvent(new Event('change', {bubbles: true}));
	})()`)
}

type task struct {
	ID       string `json:"id"`
	State    string `json:"state"`
	Rule     string `json:"rule"`
	Outcome  string `json:"outcome"`
	Note     string `json:"note"`
	DueAt    string `json:"due_at"`
	Timeline []struct {
		Type  string `json:"type"`
		Actor string `json:"actor"`
	} `json:"timeline"`
}

func TestBrowser(t *testing.T) {
	b := newBrowser(t)
	m := startMonitor(t)
	secrets := m.provision()
	band, meter := m.Device("wb-1", secrets["wb-1"]), m.Device("wm-1", secrets["wm-1"])

	// A day of hourly readings (water for the charts, the wristband's
	// heartbeat), then the clock at now.
	now := time.Now().UTC().Truncate(time.Second)
	for i, liters := 24, 1000.0; i >= 1; i-- {
		at := now.Add(-time.Duration(i) * time.Hour).Format(time.RFC3339)
		if i%3 == 0 {
			liters += float64(20 + i)
		}
		apptest.Publish(t, meter, "eldersafe/v1/devices/wm-1/telemetry", map[string]any{"ts": at, "total_liters": liters, "battery_pct": 90})
		apptest.Publish(t, band, "eldersafe/v1/devices/wb-1/telemetry", map[string]any{"ts": at, "battery_pct": 80, "worn": true})
		// Hour by hour: devices are handled in parallel, and the event
		// clock must not run ahead of one of them.
		n := float64(25 - i)
		apptest.Eventually(t, "readings handled", func() bool {
			return m.Metric(`eldersafe_ingest_messages_total{kind="water_meter",stream="telemetry"}`) == n &&
				m.Metric(`eldersafe_ingest_messages_total{kind="wristband",stream="telemetry"}`) == n
		})
	}
	m.MustCall("POST", "/api/v1/clock", map[string]any{"ts": now.Format(time.RFC3339)}, 200, nil)

	t.Run("GridWorker", func(t *testing.T) {
		w := b.tab(t)
		w.do("phone screen", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
		w.login(m.APIURL, "gw1", workerPassword)
		w.do("my tasks, live",
			chromedp.WaitVisible(css(`#mine .empty`)),
			chromedp.WaitVisible(css(`#live[data-state="live"]`)),
			// Marks this page load: a reload would lose it.
			chromedp.Evaluate[chromedp.Void](`window.loadedOnce = true; undefined`),
		)
		w.shot("worker-1-no-tasks")

		// The resident falls; the wristband reports it with its position.
		apptest.Publish(t, band, "eldersafe/v1/devices/wb-1/event", map[string]any{
			"ts": now.Add(time.Second).Format(time.RFC3339), "seq": 1, "event": "fall", "lat": 31.2304, "lon": 121.4737, "accuracy_m": 8,
		})
		w.do("the fall's task appears without reload",
			chromedp.WaitVisible(css(`#mine .task-card[data-state="open"]`)),
		)
		if !w.eval(`window.loadedOnce === true`) {
			t.Fatal("the page reloaded to show the task")
		}
		if card := w.text(`#mine .task-card`); !strings.Contains(card, "Fall") || !strings.Contains(card, "Li Guiying") || !strings.Contains(card, "Acknowledge within") {
			t.Errorf("task card says %q", card)
		}
		w.shot("worker-2-fall-appears")

		w.do("task detail",
			click(`#mine .task-card .rule`),
			chromedp.WaitVisible(css(`.task-detail button[data-action="ack"]`)),
			chromedp.WaitVisible(css(`.task-detail a[data-map="geo"]`)),
		)
		if detail := w.text(`.task-detail`); !strings.Contains(detail, "Building 3, Unit 2, Room 401") || !strings.Contains(detail, "wb-1") {
			t.Errorf("task detail says %q", detail)
		}
		w.shot("worker-3-task-detail")

		w.do("acknowledge",
			click(`.task-detail button[data-action="ack"]`),
			chromedp.WaitVisible(css(`.task-detail [data-state="acknowledged"]`)),
			chromedp.WaitVisible(css(`.task-detail button[data-action="checkin"]`)),
		)
		w.do("check in",
			click(`.task-detail button[data-action="checkin"]`),
			chromedp.WaitVisible(css(`.task-detail [data-state="on_site"]`)),
			chromedp.WaitVisible(css(`.task-detail button[data-outcome="safe"]`)),
		)
		w.do("open the hand-over, choose an outcome, begin the note",
			click(`.task-detail details.handover summary`),
			chromedp.SendKeys(css(`.task-detail input[name="handover_reason"]`), "called to another fall"),
			click(`.task-detail button[data-outcome="safe"]`),
			chromedp.SendKeys(css(`.task-detail textarea[name="note"]`), "Slipped"),
			chromedp.Evaluate[chromedp.Void](`window.noteBefore = document.querySelector('.task-detail textarea[name="note"]'); undefined`),
		)
		// A live update redraws the task while the worker types (the band
		// reports the fall again): what was opened and typed stays, and so
		// does the focus, so the next keys go on into the note.
		apptest.Publish(t, band, "eldersafe/v1/devices/wb-1/event", map[string]any{
			"ts": now.Add(2 * time.Second).Format(time.RFC3339), "seq": 2, "event": "fall", "lat": 31.2304, "lon": 121.4737, "accuracy_m": 8,
		})
		w.do("the task redrawn under the worker's typing",
			chromedp.Poll[chromedp.Void](`document.querySelector('.task-detail textarea[name="note"]') !== window.noteBefore`),
			chromedp.KeyEvent(" in the kitchen, unhurt."),
		)
		if !w.eval(`document.querySelector('.task-detail details.handover').open && document.querySelector('.task-detail input[name="handover_reason"]').value === 'called to another fall'`) {
			t.Error("the redraw closed the hand-over the worker had begun, or lost its reason")
		}
		w.shot("worker-4-resolve")
		w.do("resolve",
			click(`.task-detail button[data-action="resolve"]`),
			chromedp.WaitVisible(css(`.task-detail [data-state="resolved"]`)),
		)
		w.shot("worker-5-resolved")

		var tasks struct{ Tasks []task }
		m.MustCall("GET", "/api/v1/tasks?rule=fall", nil, 200, &tasks)
		if len(tasks.Tasks) != 1 {
			t.Fatalf("fall tasks: %+v", tasks.Tasks)
		}
		var got task
		m.MustCall("GET", "/api/v1/tasks/"+tasks.Tasks[0].ID, nil, 200, &got)
		var steps []string
		for _, e := range got.Timeline {
			if e.Actor == "w1" {
				steps = append(steps, e.Type)
			}
		}
		if got.State != "resolved" || got.Outcome != "safe" || got.Note != "Slipped in the kitchen, unhurt." || strings.Join(steps, ",") != "acknowledged,checked_in,resolved" {
			t.Errorf("task %s, outcome %s, note %q, worker's steps %v", got.State, got.Outcome, got.Note, steps)
		}
		w.do("back to my tasks", click(`.back a`), chromedp.WaitVisible(css(`#mine .empty`)))
		w.do("routine visits apart", chromedp.WaitVisible(css(`#routine h2`)))
		if s := w.text(`#routine`); !strings.Contains(s, "Routine visits") {
			t.Errorf("routine visits section says %q", s)
		}
	})

	t.Run("Operator", func(t *testing.T) {
		o := b.tab(t)
		o.login(m.APIURL, "op1", operatorPassword)
		o.do("households",
			chromedp.WaitVisible(css(`tr[data-household-id="h1"] .chip[data-device="wm-1"][data-device-state="online"]`)),
		)
		o.shot("operator-1-households")

		o.do("household h1",
			click(`tr[data-household-id="h1"] a`),
			chromedp.WaitVisible(css(`#thresholds input[name="water_no_use.hours"]`)),
			chromedp.WaitVisible(css(`#charts figure`)),
		)
		// A good value is saved...
		o.do("save a threshold",
			chromedp.SendKeys(css(`#thresholds input[name="water_no_use.hours"]`), "10"),
			click(`#thresholds button[data-action="save-thresholds"]`),
			chromedp.WaitVisible(css(`#thresholds .notice`)),
		)
		if v := o.text(`#thresholds tr[data-param="water_no_use.hours"] .effective`); v != "10" {
			t.Errorf("water_no_use.hours in force: %q, want 10", v)
		}
		// ... a bad one is refused, with the API's message naming it.
		o.do("refuse a bad threshold",
			chromedp.Evaluate[chromedp.Void](`document.querySelector('#thresholds input[name="water_no_use.hours"]').value = ''; undefined`),
			chromedp.SendKeys(css(`#thresholds input[name="water_no_use.hours"]`), "-5"),
			click(`#thresholds button[data-action="save-thresholds"]`),
			chromedp.WaitVisible(css(`#threshold-error`)),
			chromedp.WaitVisible(css(`#thresholds input[name="water_no_use.hours"][aria-invalid="true"]`)),
		)
		if msg := o.text(`#threshold-error`); !strings.Contains(msg, "water_no_use.hours") || !strings.Contains(msg, "-5") {
			t.Errorf("threshold error says %q, want it to name water_no_use.hours and -5", msg)
		}
		o.shot("operator-2-threshold-refused")
		var hh struct {
			Overrides map[string]map[string]any `json:"overrides"`
		}
		m.MustCall("GET", "/api/v1/households/h1", nil, 200, &hh)
		if v := hh.Overrides["water_no_use"]["hours"]; v != 10.0 {
			t.Errorf("stored override %v, want 10 (the refused value changes nothing)", v)
		}
		// A hospital stay is recorded, then ended early: she is back.
		o.do("record an away period",
			chromedp.Evaluate[chromedp.Void](`(() => {
				const pad = (n) => String(n).padStart(2, '0');
				const local = (d) => d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + 'T' + pad(d.getHours()) + ':' + pad(d.getMinutes());
				document.querySelector('#away input[name="from"]').value = local(new Date(Date.now() - 3600e3));
				document.querySelector('#away input[name="until"]').value = local(new Date(Date.now() + 48 * 3600e3));
			})(); undefined`),
			chromedp.SendKeys(css(`#away input[name="reason"]`), "hospital stay"),
			click(`#away button[data-action="add-away"]`),
			chromedp.WaitVisible(css(`#away li[data-away-id] button[data-action="end-away"]`)),
		)
		o.do("end it early",
			click(`#away li[data-away-id] button[data-action="end-away"]`),
			chromedp.WaitVisible(css(`#away .empty`)),
		)
		var ended struct {
			Away []struct{ Until time.Time } `json:"away"`
		}
		m.MustCall("GET", "/api/v1/households/h1", nil, 200, &ended)
		if len(ended.Away) != 0 {
			t.Errorf("current away periods after ending: %+v", ended.Away)
		}
		o.do("charts drawn", chromedp.WaitVisible(css(`#charts svg.chart-water_liters rect.bar`)))
		o.do("scroll to charts", chromedp.ScrollIntoView(css(`#charts`)))
		o.shot("operator-3-household")

		// An import with one bad line: the rest is imported, the line named.
		csv := strings.Join([]string{
			"household_id,name,address,grid_id,contact_name,contact_relation,contact_phone,contact_channels,device_id,device_kind",
			"h2,Zhao Min,7 Heping Lane,g1,Zhao Lei,daughter,+8613700000001,sms,wb-2,wristband",
			"h3,Sun Hua,9 Heping Lane,g1,,,,,pir-3,motion_sensor",
			"h4,Qian Lan,11 Heping Lane,g1,,,,,x-4,toaster",
		}, "\n")
		o.do("import",
			click(`#nav a[data-nav="#/import"]`),
			chromedp.WaitVisible(css(`textarea[name="csv"]`)),
			chromedp.SetValue(css(`textarea[name="csv"]`), csv),
			click(`button[data-action="import"]`),
			chromedp.WaitVisible(css(`#import-result .import-errors tr[data-line="4"]`)),
		)
		if s := o.text(`#import-result [data-created]`); !strings.Contains(s, "2 created") || !strings.Contains(s, "1 lines with errors") {
			t.Errorf("import summary %q", s)
		}
		if s := o.text(`#import-result .import-errors`); !strings.Contains(s, "toaster") {
			t.Errorf("import errors %q, want the bad device kind named", s)
		}
		o.shot("operator-4-import")
		var list struct {
			Households []struct{ ID string } `json:"households"`
		}
		m.MustCall("GET", "/api/v1/households", nil, 200, &list)
		if len(list.Households) != 3 {
			t.Errorf("households after import: %+v, want h1, h2, h3", list.Households)
		}

		o.do("task board", click(`#nav a[data-nav="#/board"]`),
			chromedp.WaitVisible(css(`[data-column="closed"] .board-card`)))
		o.shot("operator-5-board")
		o.do("SLA report", click(`#nav a[data-nav="#/sla"]`),
			chromedp.WaitVisible(css(`table.sla tbody tr td .badge`)))
		o.shot("operator-6-sla")
		o.do("in Chinese",
			choose(`#lang`, "zh-CN"),
			chromedp.WaitVisible(css(`html[lang="zh-CN"]`)),
			click(`#nav a[data-nav="#/households"]`),
			chromedp.WaitVisible(css(`tr[data-household-id="h3"]`)),
		)
		if s := o.text(`#nav`); !strings.Contains(s, "住户") {
			t.Errorf("menu in Chinese: %q", s)
		}
		o.shot("operator-7-households-zh")
	})

	t.Run("Family", func(t *testing.T) {
		f := b.tab(t)
		f.do("phone screen", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
		f.login(m.APIURL, "fam1", familyPassword)
		f.do("their relative's home", chromedp.WaitVisible(css(`.family-devices .chip.online`)))
		if s := f.text(`.family`); !strings.Contains(s, "Li Guiying") {
			t.Errorf("family page says %q", s)
		}
		f.shot("family-1-home")
		f.do("rate the visit", click(`#visits button.star[data-stars="4"]`), chromedp.WaitVisible(css(`#visits .rated`)))
		if s := f.text(`#visits .rated`); !strings.Contains(s, "4") {
			t.Errorf("the rating shows as %q", s)
		}
		var sla struct{ Rows []struct{ Ratings int } }
		m.MustCall("GET", "/api/v1/reports/sla?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z", nil, 200, &sla)
		if len(sla.Rows) == 0 || sla.Rows[0].Ratings != 1 {
			t.Errorf("SLA rows after the rating: %+v", sla.Rows)
		}
		f.shot("family-2-rated")
	})
	b.noErrors()
}

func TestMain(m *testing.M) {
	code := m.Run()
	if code != 0 {
		fmt.Fprintln(os.Stderr, "console tests failed; screenshots of browser tests are under $ELDERSAFE_TEST_ARTIFACTS/browser")
	}
	os.Exit(code)
}
