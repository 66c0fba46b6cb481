package app_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/app"
	"github.com/eldersafe/eldersafe/app/apptest"
	"github.com/eldersafe/eldersafe/testkit"
)

// chart is the answer of GET /api/v1/households/{id}/charts.
type chart struct {
	HouseholdID string `json:"household_id"`
	Source      string `json:"source"`
	Days        int    `json:"days"`
	From        string `json:"from"`
	To          string `json:"to"`
	Hours       []struct {
		Hour         time.Time `json:"hour"`
		WaterLiters  float64   `json:"water_liters"`
		MotionEvents int64     `json:"motion_events"`
		DoorOpenings int64     `json:"door_openings"`
		PowerKWh     float64   `json:"power_kwh"`
	} `json:"hours"`
}

// totals adds up a chart's hours.
func (c chart) totals() (water float64, motion, doors int64, power float64) {
	for _, h := range c.Hours {
		water += h.WaterLiters
		motion += h.MotionEvents
		doors += h.DoorOpenings
		power += h.PowerKWh
	}
	return
}

func (m *monitor) chart(household string, days int) (chart, int) {
	m.t.Helper()
	var c chart
	status := m.Call("GET", fmt.Sprintf("/api/v1/households/%s/charts?days=%d", household, days), nil, &c)
	return c, status
}

// homeDevices are the devices the history tests publish from.
var homeDevices = map[string]string{
	"wm-1": "water_meter", "pm-1": "power_meter", "pir-1": "motion_sensor", "door-1": "door_sensor", "wb-1": "wristband",
}

// day publishes an hour of a home's readings ending at end, plus heartbeat
// telemetry from every device.
func day(t *testing.T, m *monitor, secrets map[string]string, end time.Time, seq int) {
	t.Helper()
	ts := func(d time.Duration) string { return end.Add(d).UTC().Format(time.RFC3339Nano) }
	wm, pm, pir, door := m.Device("wm-1", secrets["wm-1"]), m.Device("pm-1", secrets["pm-1"]),
		m.Device("pir-1", secrets["pir-1"]), m.Device("door-1", secrets["door-1"])
	apptest.Publish(t, wm, "eldersafe/v1/devices/wm-1/telemetry", map[string]any{"ts": ts(-50 * time.Minute), "seq": seq, "total_liters": 1000})
	apptest.Publish(t, wm, "eldersafe/v1/devices/wm-1/telemetry", map[string]any{"ts": ts(-20 * time.Minute), "seq": seq + 1, "total_liters": 1012.5})
	apptest.Publish(t, wm, "eldersafe/v1/devices/wm-1/telemetry", map[string]any{"ts": ts(-10 * time.Minute), "seq": seq + 2, "total_liters": 1015})
	apptest.Publish(t, pm, "eldersafe/v1/devices/pm-1/telemetry", map[string]any{"ts": ts(-40 * time.Minute), "seq": seq, "total_kwh": 500, "power_w": 80})
	apptest.Publish(t, pm, "eldersafe/v1/devices/pm-1/telemetry", map[string]any{"ts": ts(-5 * time.Minute), "seq": seq + 1, "total_kwh": 500.75})
	apptest.Publish(t, pir, "eldersafe/v1/devices/pir-1/event", map[string]any{"ts": ts(-30 * time.Minute), "seq": seq, "motion": true, "room": "kitchen"})
	apptest.Publish(t, pir, "eldersafe/v1/devices/pir-1/event", map[string]any{"ts": ts(-29 * time.Minute), "seq": seq + 1, "motion": false})
	apptest.Publish(t, pir, "eldersafe/v1/devices/pir-1/event", map[string]any{"ts": ts(-3 * time.Minute), "seq": seq + 2, "motion": true})
	apptest.Publish(t, door, "eldersafe/v1/devices/door-1/event", map[string]any{"ts": ts(-15 * time.Minute), "seq": seq, "open": true})
	apptest.Publish(t, door, "eldersafe/v1/devices/door-1/event", map[string]any{"ts": ts(-14 * time.Minute), "seq": seq + 1, "open": false})
}

// wantDay checks a chart's totals against what day published.
func wantDay(t *testing.T, c chart) {
	t.Helper()
	water, motion, doors, power := c.totals()
	if water != 15 || motion != 2 || doors != 1 || power != 0.75 {
		t.Errorf("chart totals: water %g, motion %d, doors %d, power %g; want 15, 2, 1, 0.75", water, motion, doors, power)
	}
}

// Without InfluxDB the charts come from the store's roll-up. Across a
// restart a meter counts on from its saved register.
func TestChartsFromTheRollup(t *testing.T) {
	dir := t.TempDir()
	onEventClock := func(c *app.Config) { c.Clock, c.Simulation, c.DataDir = app.ClockEvent, true, dir }
	m := startMonitor(t, "", onEventClock)
	worker, family := newPushServer(t), newPushServer(t)
	secrets := m.household("h1", worker, family, homeDevices)
	end := time.Date(2026, 3, 2, 10, 30, 0, 0, time.UTC)
	day(t, m, secrets, end, 1)

	c := m.chartOnceWater("h1", 15)
	if c.Source != "rollup" || c.Days != 1 || len(c.Hours) != 24 || c.To != "2026-03-02T11:00:00Z" {
		t.Errorf("chart: source %s, days %d, %d hours, to %s", c.Source, c.Days, len(c.Hours), c.To)
	}
	wantDay(t, c)

	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m = startMonitor(t, "", onEventClock)
	apptest.Publish(t, m.Device("wm-1", secrets["wm-1"]), "eldersafe/v1/devices/wm-1/telemetry",
		map[string]any{"ts": end.Add(-5 * time.Minute).Format(time.RFC3339), "seq": 100, "total_liters": 1020})
	if water, _, _, _ := m.chartOnceWater("h1", 20).totals(); water != 20 {
		t.Errorf("water after the restart: %g litres, want 20 (1020 against the saved register 1015)", water)
	}
}

// chartOnceWater waits, while the roll-up's writes come every 5 s, until
// the household's chart of a day shows water litres, and returns it.
func (m *monitor) chartOnceWater(household string, water float64) chart {
	m.t.Helper()
	var c chart
	deadline := time.Now().Add(15 * time.Second)
	for {
		var status int
		c, status = m.chart(household, 1)
		if status != http.StatusOK {
			m.t.Fatalf("charts: status %d", status)
		}
		if got, _, _, _ := c.totals(); got == water || time.Now().After(deadline) {
			return c
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// influxQL runs an InfluxQL statement and returns the first series' rows.
func influxQL(t *testing.T, base, db, q string) [][]any {
	t.Helper()
	resp, err := http.PostForm(base+"/query", url.Values{"q": {q}, "db": {db}})
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer resp.Body.Close()
	var out struct {
		Results []struct {
			Error  string `json:"error"`
			Series []struct {
				Values [][]any `json:"values"`
			} `json:"series"`
		} `json:"results"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %s, %v", q, resp.Status, err)
	}
	if len(out.Results) == 0 || len(out.Results[0].Series) == 0 {
		if len(out.Results) > 0 && out.Results[0].Error != "" {
			t.Fatalf("%s: %s", q, out.Results[0].Error)
		}
		return nil
	}
	return out.Results[0].Series[0].Values
}

// count is the number InfluxQL's SELECT count(...) answers, 0 for no rows.
func count(t *testing.T, base, db, q string) int {
	t.Helper()
	rows := influxQL(t, base, db, q)
	if len(rows) == 0 {
		return 0
	}
	n, _ := rows[0][1].(float64)
	return int(n)
}

// Readings and task events reach InfluxDB, the charts come from it, and
// InfluxDB going away stops nothing: a fall still opens its task, the
// failures are counted, and what was held back arrives once it is back.
func TestReadingsHistoryInInfluxDB(t *testing.T) {
	base := testkit.InfluxURL(t)
	db := "eldersafe_e2e_" + strconv.FormatInt(time.Now().UnixNano(), 36)
	influxQL(t, base, "", "CREATE DATABASE "+db)
	t.Cleanup(func() { influxQL(t, base, "", "DROP DATABASE "+db) })
	target, _ := url.Parse(base)
	proxy := newProxy(t, target.Host)

	m := startMonitor(t, "", func(c *app.Config) {
		c.InfluxDB = app.InfluxDBConfig{URL: "http://" + proxy.addr, Bucket: db + "/autogen"}
	})
	worker, family := newPushServer(t), newPushServer(t)
	secrets := m.household("h1", worker, family, homeDevices)
	end := time.Now().UTC()
	day(t, m, secrets, end, 1)

	const readings = `SELECT count("stream") FROM "reading" WHERE "household_id" = 'h1'`
	apptest.Eventually(t, "readings in InfluxDB", func() bool { return count(t, base, db, readings) == 10 })
	rows := influxQL(t, base, db, `SELECT "total_liters", "stream" FROM "reading" WHERE "device_id" = 'wm-1' AND "kind" = 'water_meter' AND "household_id" = 'h1'`)
	if len(rows) != 3 || rows[2][1] != 1015.0 || rows[2][2] != "telemetry" {
		t.Errorf("water meter points: %v", rows)
	}
	c, status := m.chart("h1", 2)
	if status != http.StatusOK || c.Source != "influxdb" || len(c.Hours) != 48 {
		t.Fatalf("charts: status %d, source %s, %d hours", status, c.Source, len(c.Hours))
	}
	wantDay(t, c)

	// InfluxDB goes away.
	proxy.stop()
	band := m.Device("wb-1", secrets["wb-1"])
	apptest.Publish(t, band, "eldersafe/v1/devices/wb-1/event", map[string]any{"ts": time.Now().UTC().Format(time.RFC3339Nano), "seq": 1, "event": "fall"})
	apptest.Eventually(t, "fall task while InfluxDB is down", func() bool { return len(m.tasks("rule=fall")) == 1 })
	apptest.Eventually(t, "write errors counted", func() bool { return m.Metric("eldersafe_influxdb_write_errors_total") > 0 })
	if _, status := m.chart("h1", 1); status != http.StatusServiceUnavailable {
		t.Errorf("charts while InfluxDB is down: status %d, want 503", status)
	}
	if resp, err := http.Get("http://" + m.HTTPAddr() + "/readyz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("readyz while InfluxDB is down: %v %v", resp, err)
	}

	// It comes back: the client retries what failed with the next writes.
	proxy.start()
	pir := m.Device("pir-1", secrets["pir-1"])
	deadline := time.Now().Add(60 * time.Second)
	for seq := 100; ; seq++ {
		apptest.Publish(t, pir, "eldersafe/v1/devices/pir-1/telemetry", map[string]any{"ts": time.Now().UTC().Format(time.RFC3339Nano), "seq": seq, "battery_pct": 90})
		fall := count(t, base, db, `SELECT count("stream") FROM "reading" WHERE "device_id" = 'wb-1' AND "event" = 'fall'`)
		opened := count(t, base, db, `SELECT count("task_id") FROM "task_event" WHERE "rule" = 'fall' AND "event" = 'opened' AND "household_id" = 'h1'`)
		if fall == 1 && opened == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after InfluxDB came back: fall points %d, task events %d; want 1 and 1", fall, opened)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// With InfluxDB unreachable from the start, ingest and the rules go on.
func TestInfluxDBDownStopsNothing(t *testing.T) {
	closed := testkit.FreeAddr(t)
	m := startMonitor(t, "", func(c *app.Config) {
		c.InfluxDB = app.InfluxDBConfig{URL: "http://" + closed, Bucket: "eldersafe/autogen"}
	})
	worker, family := newPushServer(t), newPushServer(t)
	secrets := m.household("h1", worker, family, map[string]string{"wb-1": "wristband"})
	band := m.Device("wb-1", secrets["wb-1"])
	for i := range 50 {
		apptest.Publish(t, band, "eldersafe/v1/devices/wb-1/telemetry", map[string]any{"ts": time.Now().UTC().Format(time.RFC3339Nano), "seq": i + 1, "battery_pct": 80, "worn": true})
	}
	apptest.Publish(t, band, "eldersafe/v1/devices/wb-1/event", map[string]any{"ts": time.Now().UTC().Format(time.RFC3339Nano), "seq": 100, "event": "fall"})
	apptest.Eventually(t, "fall task", func() bool { return len(m.tasks("rule=fall")) == 1 })
	apptest.Eventually(t, "family told", func() bool { return len(family.requests()) > 0 })
	apptest.Eventually(t, "write errors counted", func() bool { return m.Metric("eldersafe_influxdb_write_errors_total") > 0 })
	if n := m.Metric("eldersafe_influxdb_points_total"); n < 51 {
		t.Errorf("eldersafe_influxdb_points_total = %g, want at least 51", n)
	}
	if n := m.Metric(`eldersafe_ingest_messages_total{kind="wristband",stream="event"}`); n != 1 {
		t.Errorf("fall accepted %g times", n)
	}
}

// proxy forwards TCP connections to a target and can be stopped and
// started again on the same address, to take a server away and back.
type proxy struct {
	t      *testing.T
	addr   string
	target string
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]struct{}
}

func newProxy(t *testing.T, target string) *proxy {
	p := &proxy{t: t, target: target, conns: map[net.Conn]struct{}{}}
	p.listen("127.0.0.1:0")
	t.Cleanup(p.stop)
	return p
}

func (p *proxy) listen(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
}

func (p *proxy) serve(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.ln == nil {
		p.mu.Unlock()
		c.Close()
		up.Close()
		return
	}
	p.conns[c], p.conns[up] = struct{}{}, struct{}{}
	p.mu.Unlock()
	go func() { io.Copy(up, c); up.Close() }()
	io.Copy(c, up)
	c.Close()
}

// stop closes the listener and every connection: the server is gone.
func (p *proxy) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// start listens again on the same address.
func (p *proxy) start() { p.listen(p.addr) }
