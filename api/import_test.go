package api

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/clock"
	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/store"
)

const importHeader = "household_id,name,address,grid_id,timezone,contact_name,contact_relation,contact_phone,contact_push_url,contact_lang,contact_channels,device_id,device_kind,device_secret\n"

func newImportEnv(t *testing.T) (*testEnv, *rules.Engine) {
	t.Helper()
	engine, err := rules.NewEngine(rules.DefaultConfig(), time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(o *Options) {
		o.Clock = clock.Func(func() time.Time { return t0 })
		o.Rules = newRules(t, o.Registry.(*store.DB), engine, o.Clock)
	})
	e.seed()
	return e, engine
}

func (e *testEnv) importCSV(body string, opts ...reqOption) map[string]any {
	e.t.Helper()
	return e.must(200, "POST", "/api/v1/import/households", body, append([]reqOption{withContentType("text/csv")}, opts...)...)
}

// importErrors lists an import answer's errors as "line: message".
func importErrors(b map[string]any) []string {
	var out []string
	for _, x := range b["errors"].([]any) {
		m := x.(map[string]any)
		out = append(out, fmt.Sprint(m["line"], ": ", m["message"]))
	}
	return out
}

func TestImportHouseholds(t *testing.T) {
	e, engine := newImportEnv(t)
	// A byte order mark, columns in another order, quoted commas; hA as one
	// row per contact and per device, hB as one row holding both.
	body := "\uFEFFname,household_id,address,grid_id,timezone,contact_name,contact_relation,contact_phone,contact_push_url,contact_lang,contact_channels,contact_quiet_hours,device_id,device_kind,device_secret\n" +
		`Wu Fang,hA,"12 Elm Road, Flat 3",g1,Asia/Shanghai,,,,,,,,,,` + "\n" +
		`,hA,,,,Wu Lei,son,+8613700000001,,,sms,22:00-07:00,,,` + "\n" +
		`,hA,,,,Wu Na,daughter,,http://push.example/wu,en,push;log,,,,` + "\n" +
		`,hA,,,,,,,,,,,hA-band,wristband,hA-band-secret-000001` + "\n" +
		`,hA,,,,,,,,,,,hA-water,water_meter,` + "\n" +
		`Zhou Min,hB,5 Lane,g1,,Zhou Jie,son,,,,log,,hB-door,door_sensor,hB-door-secret-000001` + "\n"
	b := e.importCSV(body)
	if b["created"] != 2.0 || b["updated"] != 0.0 || len(b["errors"].([]any)) != 0 {
		t.Fatalf("import: %v", b)
	}
	secrets := b["secrets"].([]any)
	if len(secrets) != 1 || secrets[0].(map[string]any)["device_id"] != "hA-water" || len(secrets[0].(map[string]any)["secret"].(string)) < registry.MinSecretLen {
		t.Errorf("generated secrets %v", secrets)
	}
	hA, err := e.store.Household(context.Background(), "hA")
	if err != nil {
		t.Fatal(err)
	}
	if hA.Address != "12 Elm Road, Flat 3" || hA.Timezone != "Asia/Shanghai" || len(hA.Contacts) != 2 ||
		hA.Contacts[0].QuietHours != "22:00-07:00" || !slices.Equal(hA.Contacts[1].Channels, []string{"push", "log"}) {
		t.Errorf("hA = %+v", hA)
	}
	band, err := e.store.Device(context.Background(), "hA-band")
	if err != nil || !registry.CheckSecret(band.SecretHash, "hA-band-secret-000001") {
		t.Errorf("hA-band: %+v, %v", band, err)
	}
	water, _ := e.store.Device(context.Background(), "hA-water")
	if !registry.CheckSecret(water.SecretHash, secrets[0].(map[string]any)["secret"].(string)) {
		t.Error("hA-water does not take its generated secret")
	}
	// The rules engine expects the new devices, as after POST /api/v1/devices.
	var known []string
	for _, st := range engine.Status("hA", t0) {
		known = append(known, st.DeviceID)
	}
	if fmt.Sprint(known) != "[hA-band hA-water]" {
		t.Errorf("engine knows %v of hA", known)
	}
	// Every household written is in the audit log, with its line.
	var audited []string
	for _, x := range e.must(200, "GET", "/api/v1/audit?object=households/hA", "")["entries"].([]any) {
		m := x.(map[string]any)
		audited = append(audited, fmt.Sprint(m["action"], " ", m["reason"]))
	}
	if !slices.Contains(audited, "create csv import, line 2") {
		t.Errorf("audit of hA: %q", audited)
	}

	// Again: hA is updated (a new name, one contact, a new device, a new
	// secret for its band), hC is new.
	body = importHeader +
		"hA,Wu Fang-Li,12 Elm Road,g1,,Wu Lei,son,+8613700000001,,,sms,hA-band,wristband,hA-band-secret-000002\n" +
		"hA,,,,,,,,,,,hA-pir,motion_sensor,hA-pir-secret-0000001\n" +
		"hC,Zheng Hua,9 Lane,g1,,,,,,,,,,\n"
	b = e.importCSV(body)
	if b["created"] != 1.0 || b["updated"] != 1.0 || len(b["errors"].([]any)) != 0 || len(b["secrets"].([]any)) != 0 {
		t.Fatalf("second import: %v", b)
	}
	hA, _ = e.store.Household(context.Background(), "hA")
	if hA.Name != "Wu Fang-Li" || hA.Timezone != "" || len(hA.Contacts) != 1 {
		t.Errorf("updated hA = %+v", hA)
	}
	devices, _ := e.store.DevicesOf(context.Background(), "hA")
	if len(devices) != 3 {
		t.Errorf("hA has %d devices, want 3 (none removed)", len(devices))
	}
	band, _ = e.store.Device(context.Background(), "hA-band")
	if !registry.CheckSecret(band.SecretHash, "hA-band-secret-000002") {
		t.Error("hA-band's secret was not replaced")
	}
	if len(engine.Status("hA", t0)) != 3 {
		t.Errorf("engine knows %v of hA", engine.Status("hA", t0))
	}
}

func TestImportBadLines(t *testing.T) {
	e, _ := newImportEnv(t)
	body := importHeader +
		"hD,Feng Yu,1 Road,g1,,Feng Bo,son,,,,sms,,,\n" + // 2: sms without a phone
		"hD,,,,,,,,,,,hD-band,wristband,hD-secret-0123456789\n" + // 3: fine, but hD is out
		"hE,He Ping,2 Road,g404,,,,,,,,,,\n" + // 4: unknown grid
		"hF,Lu Xun,3 Road,g1,,,,,,,,d-water,water_meter,\n" + // 5: h1's device
		"hG,Ma Li,4 Road,g1,Mars/Base,,,,,,,,,\n" + // 6: unknown time zone
		",No Id,5 Road,g1,,,,,,,,,,\n" + // 7: no household_id
		"hH,Qin Mu,6 Road,g1\n" + // 8: short row
		"hI,Ren Ai,7 Road,g1,,,,,,,,hI-x,toaster,\n" + // 9: unknown kind
		"hJ,Su Yi,\"8 Road\",g1,,,,,,,,hJ-pir,motion_sensor,short\n" + // 10: short secret
		"hK,Tang Yu,9 Road,g1,,,,,,,,,,\n" + // 11: fine
		"hK,Tang Yue,9 Road,g1,,,,,,,,,,\n" // 12: another name for hK
	b := e.importCSV(body)
	want := []string{
		`2: household hD not imported: contact: channels: sms needs phone`,
		`4: household hE not imported: grid_id "g404": refers to an unknown object`,
		`5: household hF not imported: device d-water: registered to another household: already exists`,
		`6: household hG not imported: timezone "Mars/Base": unknown`,
		`7: household_id is required`,
		`8: household hH not imported: 4 fields, the header has 14`,
		`9: household hI not imported: device: kind "toaster": must be one of water_meter, motion_sensor, door_sensor, wristband, power_meter, gateway`,
		`10: household hJ not imported: device: secret: at least 16 characters`,
		`12: household hK not imported: name differs from an earlier row of the household`,
	}
	if got := importErrors(b); !slices.Equal(got, want) {
		t.Errorf("errors:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if b["created"] != 0.0 {
		t.Errorf("created %v, want 0", b["created"])
	}
	for _, id := range []string{"hD", "hE", "hF", "hK"} {
		e.must(404, "GET", "/api/v1/households/"+id, "")
	}
	if d, _ := e.store.Device(context.Background(), "d-water"); d.HouseholdID != "h1" {
		t.Errorf("d-water moved to %s", d.HouseholdID)
	}

	// The other households apply.
	body = importHeader + "hL,Xu Wen,1 Road,g1,,,,,,,,,,\nhM,Bad Zone,2 Road,g1,Mars/Base,,,,,,,,,\nhN,Yan Bo,3 Road,g1,,,,,,,,,,\n"
	b = e.importCSV(body)
	if b["created"] != 2.0 || fmt.Sprint(importErrors(b)) != `[3: household hM not imported: timezone "Mars/Base": unknown]` {
		t.Errorf("answer %v", b)
	}
}

// TestImportChunks: households share transactions and audit writes
// importChunk at a time; one the store refuses, anywhere in a chunk, keeps
// only itself out, and each household written has its own audit entry.
func TestImportChunks(t *testing.T) {
	e, engine := newImportEnv(t)
	n := 2*importChunk + 3
	refused := map[int]string{ // row index → the error it must cause
		0:               "grid_id \"g404\": refers to an unknown object",
		importChunk - 1: "device d-water: registered to another household: already exists",
		importChunk:     "grid_id \"g404\": refers to an unknown object",
		n - 1:           "grid_id \"g404\": refers to an unknown object",
	}
	var body strings.Builder
	body.WriteString(importHeader)
	var want []string
	for i := range n {
		grid, device, secret := "g1", fmt.Sprintf("c%d-pir", i), fmt.Sprintf("c%d-secret-0123456789", i)
		if msg, ok := refused[i]; ok {
			if strings.Contains(msg, "grid") {
				grid = "g404"
			} else {
				device = "d-water"
			}
			want = append(want, fmt.Sprintf("%d: household c%d not imported: %s", i+2, i, msg))
		}
		fmt.Fprintf(&body, "c%d,Resident %d,%d Road,%s,,,,,,,,%s,motion_sensor,%s\n", i, i, i, grid, device, secret)
	}
	b := e.importCSV(body.String())
	if got := importErrors(b); !slices.Equal(got, want) {
		t.Errorf("errors:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if b["created"] != float64(n-len(refused)) {
		t.Errorf("created %v, want %d", b["created"], n-len(refused))
	}
	for _, i := range []int{1, importChunk - 2, importChunk + 1, n - 2} {
		id := fmt.Sprintf("c%d", i)
		e.must(200, "GET", "/api/v1/households/"+id, "")
		if st := engine.Status(id, t0); len(st) != 1 {
			t.Errorf("the rules engine knows %d devices of %s, want 1", len(st), id)
		}
		if got, want := importAudit(e, id), []string{fmt.Sprintf("create csv import, line %d", i+2)}; !slices.Equal(got, want) {
			t.Errorf("audit of %s: %q, want %q", id, got, want)
		}
	}
	for i := range refused {
		e.must(404, "GET", fmt.Sprintf("/api/v1/households/c%d", i), "")
	}

	// Again: every household is an update, audited as one.
	b = e.importCSV(body.String())
	if b["updated"] != float64(n-len(refused)) || len(importErrors(b)) != len(refused) {
		t.Errorf("second import: updated %v, errors %v", b["updated"], importErrors(b))
	}
	if got, want := importAudit(e, "c1"), []string{"update csv import, line 3", "create csv import, line 3"}; !slices.Equal(got, want) {
		t.Errorf("audit of c1 after two imports: %q, want %q", got, want)
	}
}

// importAudit lists the import's audit entries of a household, newest
// first, as "action reason".
func importAudit(e *testEnv, id string) []string {
	var out []string
	for _, x := range e.must(200, "GET", "/api/v1/audit?object=households/"+id, "")["entries"].([]any) {
		m := x.(map[string]any)
		if r := fmt.Sprint(m["reason"]); strings.HasPrefix(r, "csv import") {
			out = append(out, fmt.Sprint(m["action"], " ", r))
		}
	}
	return out
}

// TestImportSources: the optional source columns register devices that speak
// their own formats; a gateway listed after the devices that name it is
// registered first.
func TestImportSources(t *testing.T) {
	e, _ := newImportEnv(t)
	const header = "household_id,name,address,grid_id,device_id,device_kind,device_secret,device_source,device_source_topic,device_gateway_id\n"
	body := header +
		"hS,Shen Li,1 Road,g1,hS-pir,motion_sensor,,zigbee2mqtt,hS/Kitchen PIR,hS-gw\n" +
		"hS,,,,hS-plug,power_meter,,tasmota,tasmota_5E9A1B,\n" +
		"hS,,,,hS-gw,gateway,,,,\n" +
		"hT,Tao Ming,2 Road,g1,hT-pir,motion_sensor,,zigbee2mqtt,hS/Kitchen PIR,\n" + // 5: hS-pir's topic
		"hU,Wei Dan,3 Road,g1,hU-pir,motion_sensor,,zigbee2mqtt,,\n" + // 6: no topic
		"hV,Xia Yu,4 Road,g1,hV-pir,motion_sensor,,zigbee2mqtt,hV/pir,\n" +
		"hV,,,,hV-pir,motion_sensor,,zigbee2mqtt,hV/hall,\n" // 8: listed again elsewhere
	b := e.importCSV(body)
	want := []string{
		`5: household hT not imported: device hT-pir: source_topic "hS/Kitchen PIR" of zigbee2mqtt is device hS-pir's: topic taken: already exists`,
		`6: household hU not imported: device: source_topic: required for a device with a source`,
		`8: household hV not imported: device hV-pir is listed on line 7 with another kind, source or secret`,
	}
	if got := importErrors(b); !slices.Equal(got, want) {
		t.Errorf("errors:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	pir, err := e.store.SourceDevice(context.Background(), registry.SourceZigbee2MQTT, "hS/Kitchen PIR")
	if err != nil || pir.ID != "hS-pir" || pir.GatewayID != "hS-gw" {
		t.Errorf("hS-pir: %+v, %v", pir, err)
	}
	if gw, err := e.store.Device(context.Background(), "hS-gw"); err != nil || gw.Kind != registry.Gateway || gw.Source != registry.SourceNative {
		t.Errorf("hS-gw: %+v, %v", gw, err)
	}
	if plug, err := e.store.Device(context.Background(), "hS-plug"); err != nil || plug.Source != registry.SourceTasmota || plug.SourceTopic != "tasmota_5E9A1B" {
		t.Errorf("hS-plug: %+v, %v", plug, err)
	}
}

func TestImportWholeFileRefused(t *testing.T) {
	e, _ := newImportEnv(t)
	csv := withContentType("text/csv")
	e.run(t, []call{
		{name: "JSON is not CSV", method: "POST", path: "/api/v1/import/households", body: `{}`, want: 415, wantCode: "unsupported_media_type"},
		{name: "another charset", method: "POST", path: "/api/v1/import/households", body: importHeader, opts: []reqOption{withContentType("text/csv; charset=gbk")}, want: 415, wantCode: "unsupported_media_type"},
		{name: "empty", method: "POST", path: "/api/v1/import/households", body: "", opts: []reqOption{csv}, want: 400, wantCode: "invalid", wantMsg: "empty"},
		{name: "unknown column", method: "POST", path: "/api/v1/import/households", body: "household_id,name,address,grid_id,colour\n", opts: []reqOption{csv}, want: 400, wantCode: "invalid", wantMsg: `unknown column "colour"`},
		{name: "column twice", method: "POST", path: "/api/v1/import/households", body: "household_id,name,address,grid_id,Name\n", opts: []reqOption{csv}, want: 400, wantCode: "invalid", wantMsg: "twice"},
		{name: "missing column", method: "POST", path: "/api/v1/import/households", body: "household_id,name\n", opts: []reqOption{csv}, want: 400, wantCode: "invalid", wantMsg: "address, grid_id"},
		{name: "broken quoting", method: "POST", path: "/api/v1/import/households", body: "household_id,name,address,grid_id\nhX,\"Open,1 Road,g1\n", opts: []reqOption{csv}, want: 400, wantCode: "invalid", wantMsg: "line 2"},
		{name: "too many rows", method: "POST", path: "/api/v1/import/households", body: "household_id,name,address,grid_id\n" + strings.Repeat("hX,N,A,g1\n", maxImportRows+1), opts: []reqOption{csv}, want: 413, wantCode: "too_large"},
		{name: "too large", method: "POST", path: "/api/v1/import/households", body: "household_id,name,address,grid_id\n" + strings.Repeat("x", maxImportBody), opts: []reqOption{csv}, want: 413, wantCode: "too_large"},
	})
	e.must(404, "GET", "/api/v1/households/hX", "")
}

func TestImportRoles(t *testing.T) {
	e := newEnv(t)
	tok, _, _ := e.people()
	body := "household_id,name,address,grid_id\nhR,Ren,1 Road,g1\n"
	for user, want := range map[string]int{"op": 200, "sv": 403, "gw1": 403, "fam1": 403} {
		r := e.do("POST", "/api/v1/import/households", body, withToken(tok[user]), withContentType("text/csv"))
		if r.status != want {
			t.Errorf("%s: status %d, want %d (%s)", user, r.status, want, r.body)
		}
	}
	if r := e.do("POST", "/api/v1/import/households", body, noToken(), withContentType("text/csv")); r.status != http.StatusUnauthorized {
		t.Errorf("no token: %d", r.status)
	}
}
