package api

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/clock"
	"github.com/eldersafe/eldersafe/history"
	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/store"
)

// personal are the details of household h9 that must be gone once it is
// deleted: name, address, phone, contact name, push URL, device ids, medical
// notes and an away reason.
var personal = []string{
	"Qian Guiying", "7 Plum Blossom Lane", "+8613912345678", "Qian Xiaoming", "family.example/qian-push",
	"d9-band", "d9-water", "insulin twice daily", "hip surgery",
}

// erasureEnv is the API over the real store and a real rules engine, with
// household h9 holding every kind of data the store keeps.
type erasureEnv struct {
	*testEnv
	tokens  map[string]string
	engine  *rules.Engine
	mu      sync.Mutex
	forgot  map[string][]string // household → device ids, by Options.Erase
	dataDir string
	tasks   []string // h9's tasks
}

func newErasureEnv(t *testing.T) *erasureEnv {
	t.Helper()
	engine, err := rules.NewEngine(rules.DefaultConfig(), time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	x := &erasureEnv{engine: engine, forgot: map[string][]string{}}
	x.testEnv = newEnv(t, func(o *Options) {
		o.Clock = clock.Func(func() time.Time { return t0 })
		o.Rules = newRules(t, o.Registry.(*store.DB), engine, o.Clock)
		o.Status = func(id string) []rules.DeviceStatus { return engine.Status(id, t0) }
		db := o.Registry.(*store.DB)
		o.Erase = func(ctx context.Context, id string, at time.Time, actor string) (registry.Erasure, error) {
			er, err := db.DeleteHousehold(ctx, id, at, actor)
			if err != nil {
				return er, err
			}
			x.mu.Lock()
			defer x.mu.Unlock()
			x.forgot[id] = er.DeviceIDs
			engine.Remove(id)
			return er, nil
		}
	})
	// openStore made the store's directory first under the test's root.
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(t.TempDir()), "*", store.FileName))
	if len(matches) != 1 {
		t.Fatalf("store files %v, want one", matches)
	}
	x.dataDir = filepath.Dir(matches[0])
	x.tokens, _, _ = x.people()
	e := x.testEnv
	ctx := context.Background()

	// h9 by CSV import: registry record, contact, medical notes, devices.
	csvBody := "household_id,name,address,grid_id,timezone,medical_notes,contact_name,contact_relation,contact_phone,contact_push_url,contact_lang,contact_channels,device_id,device_kind,device_secret\n" +
		"h9,Qian Guiying,7 Plum Blossom Lane,g1,Asia/Shanghai,insulin twice daily,Qian Xiaoming,son,+8613912345678,http://family.example/qian-push,en,sms;push,d9-band,wristband,band-secret-0123456789\n" +
		"h9,,,,,,,,,,,,d9-water,water_meter,water-secret-0123456789\n"
	b := e.must(200, "POST", "/api/v1/import/households", csvBody, withContentType("text/csv"))
	if b["created"] != 1.0 || len(b["errors"].([]any)) != 0 {
		t.Fatalf("import h9: %v", b)
	}
	e.must(200, "PUT", "/api/v1/households/h9/thresholds", `{"water_no_use":{"hours":10}}`)
	e.must(201, "POST", "/api/v1/households/h9/away", `{"from":"2026-02-01T00:00:00Z","until":"2026-02-10T00:00:00Z","reason":"hospital: hip surgery"}`)
	e.must(201, "POST", "/api/v1/users", `{"id":"fam9","password":"family-password","role":"family","household_id":"h9"}`)
	x.tokens["fam9"] = e.must(200, "POST", "/api/v1/login", `{"id":"fam9","password":"family-password"}`, noToken())["token"].(string)
	e.must(200, "GET", "/api/v1/households/h9", "", withToken(x.tokens["fam9"]))

	// A fall with evidence, acknowledged; a manual task, resolved with a note.
	fall, _, err := e.tasks.Raise(ctx, rules.Alert{HouseholdID: "h9", Rule: "fall", Severity: rules.Critical, Kind: rules.Visit, At: t0,
		Evidence: rules.Evidence{At: t0, DeviceID: "d9-band", Summary: "fall reported by d9-band", Values: map[string]any{"room": "Qian Guiying's bedroom"}}})
	if err != nil {
		t.Fatal(err)
	}
	e.must(200, "POST", "/api/v1/tasks/"+fall.ID+"/ack", `{"worker_id":"w1"}`)
	manual := e.must(201, "POST", "/api/v1/tasks", `{"household_id":"h9","reason":"Qian Xiaoming phoned: no answer at 7 Plum Blossom Lane","severity":"high"}`)["id"].(string)
	e.must(200, "POST", "/api/v1/tasks/"+manual+"/ack", `{"worker_id":"w1"}`)
	e.must(200, "POST", "/api/v1/tasks/"+manual+"/checkin", `{"worker_id":"w1"}`)
	e.must(200, "POST", "/api/v1/tasks/"+manual+"/resolve", `{"worker_id":"w1","outcome":"safe","note":"Qian Guiying fine, medication taken"}`)
	x.tasks = []string{fall.ID, manual}

	// A grant, and a day of readings in the roll-up.
	until := time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)
	e.must(201, "POST", "/api/v1/grants", `{"user_id":"sv","household_id":"h9","fields":["medical_notes"],"reason":"care plan review","until":"`+until+`"}`)
	if err := e.store.AddReadingHours(ctx,
		[]history.HouseholdHour{{HouseholdID: "h9", Hour: history.Hour{Hour: t0.Truncate(time.Hour), WaterLiters: 12.5, MotionEvents: 3}}},
		[]history.MeterRegister{{DeviceID: "d9-water", HouseholdID: "h9", Field: history.FieldTotalLiters, Meter: history.Meter{At: t0, Value: 1234}}},
	); err != nil {
		t.Fatal(err)
	}

	// The engine heard from the band, and checkpointed.
	engine.Process(rules.Reading{HouseholdID: "h9", DeviceID: "d9-band", Kind: registry.Wristband, Stream: rules.Telemetry, TS: t0,
		BatteryPct: new(80.0)})
	if err := engine.Checkpoint(func(s []rules.State, _ bool) error { return e.store.SaveCheckpoint(ctx, s, time.Time{}) }); err != nil {
		t.Fatal(err)
	}
	return x
}

func TestExportHousehold(t *testing.T) {
	x := newErasureEnv(t)
	as := func(user string) reqOption { return withToken(x.tokens[user]) }
	// The admin sees everything; anyone else sensitive fields under a grant.
	res := x.do("GET", "/api/v1/households/h9/export", "")
	if res.status != http.StatusOK {
		t.Fatalf("export: %d %s", res.status, res.body)
	}
	if cd := res.header.Get("Content-Disposition"); !strings.Contains(cd, "household-h9-export.json") {
		t.Errorf("Content-Disposition %q", cd)
	}
	body := string(res.body)
	for _, s := range personal {
		if !strings.Contains(body, strings.ReplaceAll(s, "'", `\u0027`)) && !strings.Contains(body, s) {
			t.Errorf("export lacks %q", s)
		}
	}
	for _, secret := range []string{"$6$", "$7$", "$2a$", "band-secret", "password_hash", "secret_hash"} {
		if strings.Contains(body, secret) {
			t.Errorf("export shows %q", secret)
		}
	}
	var doc struct {
		Household  registry.Household        `json:"household"`
		Devices    []map[string]any          `json:"devices"`
		Thresholds map[string]map[string]any `json:"thresholds"`
		Away       []map[string]any          `json:"away"`
		Users      []map[string]any          `json:"users"`
		Grants     []map[string]any          `json:"grants"`
		RuleState  []map[string]any          `json:"rule_state"`
		Tasks      []map[string]any          `json:"tasks"`
		Notices    []map[string]any          `json:"notices"`
		Readings   struct {
			Hourly []history.Hour   `json:"hourly"`
			Meters []map[string]any `json:"meters"`
		} `json:"readings"`
		Audit []map[string]any `json:"audit"`
	}
	if err := json.Unmarshal(res.body, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Grants) != 1 || doc.Grants[0]["user_id"] != "sv" || doc.Grants[0]["reason"] != "care plan review" || doc.Grants[0]["active"] != true {
		t.Errorf("grants %v", doc.Grants)
	}
	if len(doc.Readings.Hourly) != 1 || doc.Readings.Hourly[0].WaterLiters != 12.5 || doc.Readings.Hourly[0].MotionEvents != 3 {
		t.Errorf("hourly readings %+v", doc.Readings.Hourly)
	}
	if len(doc.Readings.Meters) != 1 || doc.Readings.Meters[0]["device_id"] != "d9-water" || doc.Readings.Meters[0]["value"] != 1234.0 {
		t.Errorf("meter registers %v", doc.Readings.Meters)
	}
	if doc.Household.ID != "h9" || len(doc.Household.Contacts) != 1 || doc.Household.Contacts[0].Phone != "+8613912345678" ||
		doc.Household.MedicalNotes != "insulin twice daily" {
		t.Errorf("household %+v", doc.Household)
	}
	if len(doc.Devices) != 2 || doc.Thresholds["water_no_use"]["hours"] != 10.0 || len(doc.Away) != 1 {
		t.Errorf("devices %v, thresholds %v, away %v", doc.Devices, doc.Thresholds, doc.Away)
	}
	if len(doc.Users) != 1 || doc.Users[0]["id"] != "fam9" {
		t.Errorf("users %v", doc.Users)
	}
	if len(doc.RuleState) != 2 || doc.RuleState[0]["status"] == nil || doc.RuleState[1]["status"] != nil {
		t.Errorf("rule state %v", doc.RuleState)
	}
	// Two tasks and the month's two routine visits.
	if len(doc.Tasks) != 4 || doc.Tasks[0]["evidence"] == nil || doc.Tasks[1]["timeline"] == nil || len(doc.Notices) == 0 {
		t.Errorf("tasks %v, notices %d", doc.Tasks, len(doc.Notices))
	}
	var audited []string
	for _, en := range doc.Audit {
		audited = append(audited, fmt.Sprint(en["actor"], " ", en["action"], " ", en["object"]))
	}
	for _, want := range []string{
		"admin create households/h9", // the import
		"admin update households/h9/thresholds",
		"fam9 login users/fam9",
		"fam9 read households/h9",
		"admin create tasks/" + x.tasks[1] + "/resolve",
		"admin export households/h9/export",
	} {
		if !slices.Contains(audited, want) {
			t.Errorf("export's audit lacks %q; has %q", want, audited)
		}
	}

	// An operator without a grant: phone numbers, notes and notice addresses
	// are withheld, and named.
	op := x.must(200, "GET", "/api/v1/households/h9/export", "", as("op"))
	b, _ := json.Marshal(op)
	for _, s := range []string{"+8613912345678", "insulin twice daily"} {
		if strings.Contains(string(b), s) {
			t.Errorf("an operator without a grant sees %q in the export", s)
		}
	}
	if hh := op["household"].(map[string]any); fmt.Sprint(hh["redacted"]) != "[medical_notes]" {
		t.Errorf("household redacted %v", hh["redacted"])
	}

	x.run(t, []call{
		{name: "supervisor exports", method: "GET", path: "/api/v1/households/h9/export", opts: []reqOption{as("sv")}, want: 200},
		{name: "grid worker may not", method: "GET", path: "/api/v1/households/h9/export", opts: []reqOption{as("gw1")}, want: 403, wantCode: "forbidden"},
		{name: "family may not", method: "GET", path: "/api/v1/households/h9/export", opts: []reqOption{as("fam9")}, want: 403, wantCode: "forbidden"},
		{name: "unknown household", method: "GET", path: "/api/v1/households/h404/export", want: 404, wantCode: "not_found"},
	})
}

func TestDeleteHousehold(t *testing.T) {
	x := newErasureEnv(t)
	e := x.testEnv
	as := func(user string) reqOption { return withToken(x.tokens[user]) }
	const period = "?from=2026-02-01T00:00:00Z&to=2026-04-01T00:00:00Z"
	before := e.must(200, "GET", "/api/v1/reports/sla"+period, "")["rows"]

	x.run(t, []call{
		{name: "a reason is required", method: "DELETE", path: "/api/v1/households/h9", opts: []reqOption{as("op")}, want: 400, wantCode: "invalid", wantMsg: "reason"},
		{name: "a blank reason too", method: "DELETE", path: "/api/v1/households/h9", body: `{"reason":"  "}`, opts: []reqOption{as("op")}, want: 400, wantCode: "invalid"},
		{name: "unknown field", method: "DELETE", path: "/api/v1/households/h9", body: `{"reason":"x","force":true}`, opts: []reqOption{as("op")}, want: 400, wantCode: "bad_json"},
		{name: "supervisors do not delete", method: "DELETE", path: "/api/v1/households/h9", body: `{"reason":"moved"}`, opts: []reqOption{as("sv")}, want: 403, wantCode: "forbidden"},
		{name: "unknown household", method: "DELETE", path: "/api/v1/households/h404", body: `{"reason":"moved"}`, opts: []reqOption{as("op")}, want: 404, wantCode: "not_found"},
	})
	if got := e.must(200, "GET", "/api/v1/households/h9", "")["id"]; got != "h9" {
		t.Fatalf("a refused deletion deleted: %v", got)
	}

	const reason = "resident moved to a care home; daughter's request of 2026-03-01"
	b := e.must(200, "DELETE", "/api/v1/households/h9", `{"reason":"`+reason+`"}`, as("op"))
	if b["tasks_anonymised"] != 4.0 || b["tasks_cancelled"] != 3.0 || fmt.Sprint(b["device_ids"]) != "[d9-band d9-water]" || fmt.Sprint(b["user_ids"]) != "[fam9]" {
		t.Errorf("deletion answer %v", b)
	}
	x.mu.Lock()
	if got := fmt.Sprint(x.forgot); got != "map[h9:[d9-band d9-water]]" {
		t.Errorf("forgotten %s", got)
	}
	x.mu.Unlock()
	if st := x.engine.Status("h9", t0); st != nil {
		t.Errorf("the engine still knows h9: %v", st)
	}

	// Gone from the API.
	e.must(404, "GET", "/api/v1/households/h9", "")
	e.must(404, "DELETE", "/api/v1/households/h9", `{"reason":"again"}`, as("op"))
	if r := e.do("GET", "/api/v1/households/h9", "", as("fam9")); r.status != http.StatusUnauthorized {
		t.Errorf("the family member's session: %d, want 401", r.status)
	}
	// The devices cannot authenticate: the broker asks the store.
	for _, d := range []string{"d9-band", "d9-water"} {
		if _, err := e.store.Device(context.Background(), d); err == nil {
			t.Errorf("device %s is still registered", d)
		}
	}

	// The tasks are kept, anonymised, and the SLA report still counts them.
	if after := e.must(200, "GET", "/api/v1/reports/sla"+period, "")["rows"]; fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("SLA report changed:\nbefore %v\n after %v", before, after)
	}
	list := e.must(200, "GET", "/api/v1/tasks", "")["tasks"].([]any)
	anon := 0
	for _, x := range list {
		task := x.(map[string]any)
		hid := task["household_id"].(string)
		if hid == "h9" {
			t.Errorf("task still names h9: %v", task)
		}
		if registry.IsDeleted(hid) {
			anon++
			if task["state"] != "cancelled" && task["state"] != "resolved" || task["note"] != nil || task["rule"] == "" {
				t.Errorf("anonymised task %v", task)
			}
		}
	}
	if anon != 2 {
		t.Errorf("%d anonymised tasks listed, want 2", anon)
	}

	// Recorded, with the reason, and the log still verifies.
	var found bool
	for _, en := range e.must(200, "GET", "/api/v1/audit?object=households/h9", "", as("sv"))["entries"].([]any) {
		m := en.(map[string]any)
		if m["action"] == "delete" && m["actor"] == "op" && m["reason"] == reason {
			found = true
		}
	}
	if !found {
		t.Error("no audit entry of the deletion with its reason")
	}
	if _, err := e.store.VerifyAudit(context.Background(), testAuditKey); err != nil {
		t.Errorf("audit chain: %v", err)
	}

	// Nothing personal is left anywhere in the database: not in a table, not
	// in the file's free space, not in its write-ahead log.
	searchDatabase(t, x.dataDir, personal)

	// A deletion by header reason works as well, for clients that send no body.
	e.must(200, "DELETE", "/api/v1/households/h2", "", as("op"), func(r *http.Request) { r.Header.Set(ReasonHeader, "duplicate record") })
}

// searchDatabase fails the test for every needle found in any text or blob
// column of any table, or anywhere in the database's files.
func searchDatabase(t *testing.T, dir string, needles []string) {
	t.Helper()
	path := filepath.Join(dir, store.FileName)
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT name FROM sqlite_schema WHERE type = 'table'`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		rows.Scan(&name)
		tables = append(tables, name)
	}
	rows.Close()
	searched := 0
	for _, table := range tables {
		cols, err := db.Query(`SELECT name FROM pragma_table_info(?)`, table)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for cols.Next() {
			var n string
			cols.Scan(&n)
			names = append(names, n)
		}
		cols.Close()
		for _, col := range names {
			searched++
			for _, needle := range needles {
				var n int
				q := fmt.Sprintf(`SELECT COUNT(*) FROM %q WHERE instr(CAST(%q AS BLOB), CAST(? AS BLOB)) > 0`, table, col)
				if err := db.QueryRow(q, needle).Scan(&n); err != nil {
					t.Fatalf("%s.%s: %v", table, col, err)
				}
				if n > 0 {
					t.Errorf("%q is still in %s.%s (%d rows)", needle, table, col, n)
				}
			}
		}
	}
	if searched < 50 {
		t.Errorf("searched only %d columns", searched)
	}
	for _, suffix := range []string{"", "-wal"} {
		raw, err := os.ReadFile(path + suffix)
		if err != nil {
			continue
		}
		for _, needle := range needles {
			if bytes.Contains(raw, []byte(needle)) {
				t.Errorf("%q is still in the bytes of %s", needle, filepath.Base(path+suffix))
			}
		}
	}
}
