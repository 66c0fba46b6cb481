package influx_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/eldersafe/eldersafe/clock"
	"github.com/eldersafe/eldersafe/history"
	"github.com/eldersafe/eldersafe/history/influx"
	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/store"
	"github.com/eldersafe/eldersafe/testkit"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

func TestReadingPoint(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    rules.Reading
		want string
	}{
		{"WaterMeter", rules.Reading{HouseholdID: "h1", DeviceID: "wm1", Kind: registry.WaterMeter, Stream: rules.Telemetry, TS: t0,
			TotalLiters: ptr(1234.5), FlowLPM: ptr(0.0), BatteryPct: ptr(88.0)},
			`reading,device_id=wm1,household_id=h1,kind=water_meter battery_pct=88,flow_lpm=0,stream="telemetry",total_liters=1234.5 1772442000000`},
		{"Motion", rules.Reading{HouseholdID: "h1", DeviceID: "pir1", Kind: registry.MotionSensor, Stream: rules.Event, TS: t0.Add(time.Millisecond),
			Motion: ptr(true), Room: "kitchen"},
			`reading,device_id=pir1,household_id=h1,kind=motion_sensor motion=true,room="kitchen",stream="event" 1772442000001`},
		{"FallWithoutPosition", rules.Reading{HouseholdID: "h1", DeviceID: "wb1", Kind: registry.Wristband, Stream: rules.Event, TS: t0, Event: rules.EventFall},
			`reading,device_id=wb1,household_id=h1,kind=wristband event="fall",stream="event" 1772442000000`},
		{"BareHeartbeat", rules.Reading{HouseholdID: "h1", DeviceID: "wb1", Kind: registry.Wristband, Stream: rules.Telemetry, TS: t0},
			`reading,device_id=wb1,household_id=h1,kind=wristband stream="telemetry" 1772442000000`},
		{"Status", rules.Reading{HouseholdID: "h1", DeviceID: "door1", Kind: registry.DoorSensor, Stream: rules.Status, TS: t0, Online: ptr(false)},
			`reading,device_id=door1,household_id=h1,kind=door_sensor online=false,stream="status" 1772442000000`},
		{"Power", rules.Reading{HouseholdID: "h1", DeviceID: "pm1", Kind: registry.PowerMeter, Stream: rules.Telemetry, TS: t0, TotalKWh: ptr(12.0), PowerW: ptr(-40.0)},
			`reading,device_id=pm1,household_id=h1,kind=power_meter power_w=-40,stream="telemetry",total_kwh=12 1772442000000`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := influx.ReadingLine(tc.r)
			if got != tc.want {
				t.Errorf("\ngot  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestTaskEventPoint(t *testing.T) {
	e := history.TaskEvent{At: t0, TaskID: "0193-task", HouseholdID: "h1", Rule: "fall", Severity: "critical", Kind: "visit",
		Event: "resolved", State: "resolved", AssigneeID: "w1", Outcome: "safe"}
	got := influx.TaskEventLine(e)
	want := `task_event,event=resolved,household_id=h1,kind=visit,rule=fall,severity=critical assignee_id="w1",outcome="safe",state="resolved",task_id="0193-task" 1772442000000`
	if got != want {
		t.Errorf("\ngot  %s\nwant %s", got, want)
	}
}

func TestOptions(t *testing.T) {
	for _, o := range []influx.Options{
		{Bucket: "b"},
		{URL: "tcp://127.0.0.1:8086", Bucket: "b"},
		{URL: "http://", Bucket: "b"},
		{URL: "http://127.0.0.1:8086"},
	} {
		if w, err := influx.New(o); err == nil {
			w.Close()
			t.Errorf("New(%+v) accepted", o)
		}
	}
}

// closedURL is an http URL on a loopback port nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	return "http://" + testkit.FreeAddr(t)
}

func reading(i int) rules.Reading {
	return rules.Reading{HouseholdID: "h1", DeviceID: "pir1", Kind: registry.MotionSensor, Stream: rules.Event,
		TS: t0.Add(time.Duration(i) * time.Millisecond), Motion: ptr(true)}
}

// InfluxDB refusing connections costs the caller nothing: failed writes are
// counted and Close returns.
func TestWriter_Down(t *testing.T) {
	reg := prometheus.NewRegistry()
	w, err := influx.New(influx.Options{URL: closedURL(t), Bucket: "eldersafe/autogen", FlushInterval: 20 * time.Millisecond,
		BatchSize: 100, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for i := range 5000 {
		w.Reading(reading(i))
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("5000 readings took %s to queue", d)
	}
	deadline := time.Now().Add(10 * time.Second)
	for testkit.MetricValue(t, reg, "eldersafe_influxdb_write_errors_total") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no write error counted against a closed port")
		}
		time.Sleep(10 * time.Millisecond)
	}
	start = time.Now()
	w.Close()
	if d := time.Since(start); d > influx.DefaultCloseTimeout+time.Second {
		t.Errorf("Close took %s", d)
	}
	w.Reading(reading(0)) // after Close: dropped, no panic
}

// InfluxDB accepting connections but never answering must not hold up the
// caller either: the queue fills and further points are dropped and counted.
func TestWriter_Hangs(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	reg := prometheus.NewRegistry()
	w, err := influx.New(influx.Options{URL: srv.URL, Bucket: "eldersafe/autogen", Queue: 10, BatchSize: 5,
		FlushInterval: 10 * time.Millisecond, Timeout: 30 * time.Second, CloseTimeout: 200 * time.Millisecond, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for i := range 2000 {
		w.Reading(reading(i))
		if i%100 == 0 {
			time.Sleep(time.Millisecond) // let the pump reach the stuck client
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("2000 readings took %s to queue against a hanging InfluxDB", d)
	}
	if n := testkit.MetricValue(t, reg, "eldersafe_influxdb_points_dropped_total"); n < 1000 {
		t.Errorf("eldersafe_influxdb_points_dropped_total = %g, want most of 2000", n)
	}
	// The pump may have taken the last ones just before it got stuck; once
	// it is, what comes next stays queued.
	deadline := time.Now().Add(5 * time.Second)
	for n := testkit.MetricValue(t, reg, "eldersafe_influxdb_queue_length"); n != 10; n = testkit.MetricValue(t, reg, "eldersafe_influxdb_queue_length") {
		if time.Now().After(deadline) {
			t.Fatalf("eldersafe_influxdb_queue_length = %g, want the queue full (10)", n)
		}
		w.Reading(reading(0))
		time.Sleep(time.Millisecond)
	}
	start = time.Now()
	if err := w.Close(); err == nil {
		t.Error("Close reported a clean flush against a hanging InfluxDB")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %s, want about its 200ms limit", d)
	}
}

// createDatabase creates a database of the test's own and returns its
// bucket name for the v2 API ("db/autogen").
func createDatabase(t *testing.T, base string) string {
	t.Helper()
	name := "eldersafe_test_" + strconv.FormatInt(time.Now().UnixNano(), 36)
	influxQL(t, base, "CREATE DATABASE "+name)
	t.Cleanup(func() { influxQL(t, base, "DROP DATABASE "+name) })
	return name + "/autogen"
}

// realWriter starts a Writer, with opts, on a database of the test's own
// in the InfluxDB 1.8 the test script runs, and returns it with the server's
// URL and the database; it is closed when the test ends.
func realWriter(t *testing.T, opts influx.Options) (w *influx.Writer, base, db string) {
	t.Helper()
	base = testkit.InfluxURL(t)
	opts.URL, opts.Bucket = base, createDatabase(t, base)
	db, _, _ = strings.Cut(opts.Bucket, "/")
	w, err := influx.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w, base, db
}

// influxQL runs an InfluxQL statement over /query and returns its first
// series' rows.
func influxQL(t *testing.T, base, q string, db ...string) [][]any {
	t.Helper()
	form := url.Values{"q": {q}}
	if len(db) > 0 {
		form.Set("db", db[0])
	}
	resp, err := http.PostForm(base+"/query", form)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer resp.Body.Close()
	var out struct {
		Results []struct {
			Error  string `json:"error"`
			Series []struct {
				Columns []string `json:"columns"`
				Values  [][]any  `json:"values"`
			} `json:"series"`
		} `json:"results"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %s, %v", q, resp.Status, err)
	}
	if len(out.Results) == 0 {
		return nil
	}
	if e := out.Results[0].Error; e != "" {
		t.Fatalf("%s: %s", q, e)
	}
	if len(out.Results[0].Series) == 0 {
		return nil
	}
	return out.Results[0].Series[0].Values
}

// scenario is a day of one household's readings, some late, some repeated,
// across three water meters' and a power meter's quirks.
func scenario(household string, start time.Time) []rules.Reading {
	at := func(d time.Duration) time.Time { return start.Add(d) }
	var rs []rules.Reading
	add := func(r rules.Reading) {
		r.HouseholdID = household
		rs = append(rs, r)
	}
	water := func(dev string, d time.Duration, l float64) {
		add(rules.Reading{DeviceID: dev, Kind: registry.WaterMeter, Stream: rules.Telemetry, TS: at(d), TotalLiters: ptr(l)})
	}
	power := func(d time.Duration, kwh float64) {
		add(rules.Reading{DeviceID: "pm1", Kind: registry.PowerMeter, Stream: rules.Telemetry, TS: at(d), TotalKWh: ptr(kwh), PowerW: ptr(120.0)})
	}
	// Kitchen meter every 15 minutes, rising in the mornings.
	liters := 5000.0
	for i := range 24 * 4 {
		d := time.Duration(i) * 15 * time.Minute
		if h := (i / 4) % 24; h == 0 || (h >= 7 && h <= 9) {
			liters += 2.5
		}
		water("wm1", d, liters)
	}
	// A second meter reporting hourly, replaced (register back to 0) at 12:00.
	for h := range 24 {
		v := 100 + float64(h)*1.25
		if h >= 12 {
			v = float64(h-12) * 0.5
		}
		water("wm2", time.Duration(h)*time.Hour+7*time.Minute, v)
	}
	for h := range 24 {
		power(time.Duration(h)*time.Hour+30*time.Minute, 700+float64(h)*0.125)
	}
	for i := range 40 {
		d := time.Duration(i)*17*time.Minute + 3*time.Minute
		add(rules.Reading{DeviceID: "pir1", Kind: registry.MotionSensor, Stream: rules.Event, TS: at(d), Motion: ptr(i%3 != 0), Room: "kitchen"})
		add(rules.Reading{DeviceID: "pir1", Kind: registry.MotionSensor, Stream: rules.Telemetry, TS: at(d + time.Second), BatteryPct: ptr(90.0)})
	}
	for i := range 6 {
		d := time.Duration(i)*4*time.Hour + 10*time.Minute
		add(rules.Reading{DeviceID: "door1", Kind: registry.DoorSensor, Stream: rules.Event, TS: at(d), Open: ptr(true)})
		add(rules.Reading{DeviceID: "door1", Kind: registry.DoorSensor, Stream: rules.Event, TS: at(d + time.Minute), Open: ptr(false)})
	}
	add(rules.Reading{DeviceID: "wb1", Kind: registry.Wristband, Stream: rules.Event, TS: at(9 * time.Hour), Event: rules.EventFall})
	return rs
}

// The InfluxDB chart equals the roll-up's for the same readings, and the
// points carry the contract's measurement, tags and fields.
func TestWriter_InfluxDB(t *testing.T) {
	reg := prometheus.NewRegistry()
	w, base, db := realWriter(t, influx.Options{FlushInterval: 50 * time.Millisecond, Registerer: reg})
	st, err := store.Open(context.Background(), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rollup, err := history.NewRollup(history.RollupOptions{Store: st, Clock: clock.Wall{}})
	if err != nil {
		t.Fatal(err)
	}

	// Readings over the chart's start: the first hour counts from what came before.
	start := t0.Add(-3 * time.Hour)
	readings := scenario("h1", start)
	readings = append(readings, scenario("h2", start)[:50]...) // another household: not in h1's chart
	for _, r := range readings {
		w.Reading(r)
		rollup.Reading(r)
	}
	// Late and repeated register readings, as QoS 1 redelivery brings them.
	for _, r := range readings[10:14] {
		w.Reading(r)
		rollup.Reading(r)
	}
	w.TaskChanged(history.TaskEvent{At: start.Add(9 * time.Hour), TaskID: "task-1", HouseholdID: "h1", Rule: "fall",
		Severity: "critical", Kind: "visit", Event: "opened", State: "open", AssigneeID: "w1"})
	if err := rollup.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}

	// A chart starting within the readings (the first hour counts from the
	// readings before it) and one starting before them (a meter's first
	// hour counts from its first reading).
	for _, rg := range []struct{ from, to time.Time }{
		{t0, t0.Add(22 * time.Hour)},
		{start.Add(-2 * time.Hour), t0.Add(22 * time.Hour)},
	} {
		want, err := rollup.Chart(context.Background(), "h1", rg.from, rg.to)
		if err != nil {
			t.Fatal(err)
		}
		var got history.Chart
		deadline := time.Now().Add(15 * time.Second)
		for {
			got, err = w.Chart(context.Background(), "h1", rg.from, rg.to)
			if err != nil {
				t.Fatalf("Chart: %v", err)
			}
			if fmt.Sprint(got.Hours) == fmt.Sprint(want.Hours) || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if got.Source != history.SourceInfluxDB {
			t.Errorf("source %q", got.Source)
		}
		if n := int(rg.to.Sub(rg.from) / time.Hour); len(got.Hours) != n || len(want.Hours) != n {
			t.Fatalf("%d hours from InfluxDB, %d from the roll-up, want %d", len(got.Hours), len(want.Hours), n)
		}
		var sum history.Hour
		for i := range want.Hours {
			if got.Hours[i] != want.Hours[i] {
				t.Errorf("hour %s: influxdb %+v, roll-up %+v", want.Hours[i].Hour.Format(time.RFC3339), got.Hours[i], want.Hours[i])
			}
			sum.WaterLiters += got.Hours[i].WaterLiters
			sum.MotionEvents += got.Hours[i].MotionEvents
			sum.DoorOpenings += got.Hours[i].DoorOpenings
			sum.PowerKWh += got.Hours[i].PowerKWh
		}
		if sum.WaterLiters == 0 || sum.MotionEvents == 0 || sum.DoorOpenings == 0 || sum.PowerKWh == 0 {
			t.Errorf("the chart misses a series: totals %+v", sum)
		}
	}

	rows := influxQL(t, base, `SELECT "event", "stream" FROM "reading" WHERE "device_id" = 'wb1' AND "household_id" = 'h1' AND "kind" = 'wristband'`, db)
	if len(rows) != 1 || rows[0][1] != "fall" || rows[0][2] != "event" {
		t.Errorf("the fall as stored: %v", rows)
	}
	rows = influxQL(t, base, `SELECT "task_id", "state", "assignee_id" FROM "task_event" WHERE "event" = 'opened' AND "rule" = 'fall' AND "severity" = 'critical' AND "kind" = 'visit'`, db)
	if len(rows) != 1 || rows[0][1] != "task-1" || rows[0][2] != "open" || rows[0][3] != "w1" {
		t.Errorf("the task event as stored: %v", rows)
	}
	if n := testkit.MetricValue(t, reg, "eldersafe_influxdb_write_errors_total"); n != 0 {
		t.Errorf("eldersafe_influxdb_write_errors_total = %g", n)
	}
	if n := testkit.MetricValue(t, reg, "eldersafe_influxdb_points_total"); n != float64(len(readings)+5) {
		t.Errorf("eldersafe_influxdb_points_total = %g, want %d", n, len(readings)+5)
	}
}

// Many writers at once, as the ingest workers are: nothing is lost while
// InfluxDB keeps up.
func TestWriter_Concurrent(t *testing.T) {
	w, base, db := realWriter(t, influx.Options{Queue: 100000})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				r := reading(g*1000 + i)
				r.DeviceID = fmt.Sprintf("pir%d", g)
				w.Reading(r)
			}
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rows := influxQL(t, base, `SELECT count("motion") FROM "reading"`, db)
	if len(rows) != 1 || rows[0][1] != float64(8000) {
		t.Errorf("count: %v, want 8000", rows)
	}
}

func TestLineEscaping(t *testing.T) {
	r := rules.Reading{HouseholdID: `h 1,a=b`, DeviceID: `d\`, Kind: registry.MotionSensor, Stream: rules.Event, TS: t0,
		Motion: ptr(true), Room: "living \"room\"\\\nupstairs"}
	want := `reading,device_id=d/,household_id=h\ 1\,a\=b,kind=motion_sensor motion=true,room="living \"room\"\\ upstairs",stream="event" 1772442000000`
	if got := influx.ReadingLine(r); got != want {
		t.Errorf("\ngot  %s\nwant %s", got, want)
	}
	nan := math.NaN()
	r = rules.Reading{HouseholdID: "h1", DeviceID: "pm1", Kind: registry.PowerMeter, Stream: rules.Telemetry, TS: t0, PowerW: &nan, TotalKWh: ptr(1e21)}
	want = `reading,device_id=pm1,household_id=h1,kind=power_meter stream="telemetry",total_kwh=1000000000000000000000 1772442000000`
	if got := influx.ReadingLine(r); got != want {
		t.Errorf("\ngot  %s\nwant %s", got, want)
	}
}
