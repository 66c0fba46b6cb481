package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/eldersafe/eldersafe/registry"
)

// TestRowBatch: queued rows are inserted whatever their number, in
// statements of a power of two rows; a row of the wrong width is refused
// and not queued; a refused statement fails the flush with the store's error.
func TestRowBatch(t *testing.T) {
	ctx := context.Background()
	db := openForTest(t)
	mustDo(t, db.write(ctx, func(tx *sql.Tx) error {
		b := newRowBatch(tx, "grids", "id, name, created_at")
		defer b.close()
		for i := range 100 {
			mustDo(t, b.add(fmt.Sprintf("g%d", i), "Grid", 0))
		}
		if err := b.add("g-short", "Grid"); err == nil || b.queued() != 100 {
			t.Errorf("a row of two values for three columns: %v, %d queued, want an error and 100", err, b.queued())
		}
		mustDo(t, b.flush(ctx))
		if b.queued() != 0 {
			t.Errorf("%d rows queued after the flush", b.queued())
		}
		sizes := make([]int, 0, len(b.stmts))
		for rows := range b.stmts {
			sizes = append(sizes, rows)
		}
		slices.Sort(sizes)
		if !slices.Equal(sizes, []int{4, 32, 64}) {
			t.Errorf("100 rows prepared statements of %v rows, want 64, 32 and 4", sizes)
		}
		return nil
	}))
	err := db.write(ctx, func(tx *sql.Tx) error {
		b := newRowBatch(tx, "grids", "id, name, created_at")
		defer b.close()
		mustDo(t, b.add("g100", "Grid", 0))
		mustDo(t, b.add("g99", "Again", 0))
		return b.flush(ctx)
	})
	if !isUniqueViolation(err) {
		t.Errorf("a taken id: %v, want a unique violation", err)
	}
	var n int
	mustDo(t, db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM grids WHERE name = 'Grid'`).Scan(&n))
	if n != 100 {
		t.Errorf("%d grids stored, want 100", n)
	}
}

// TestImportHouseholdsBatchRefused: a chunk longer than a batch whose
// refusals are found only when its rows are inserted (a device of another
// household, a device named by two households of the chunk, a new device
// without a secret) refuses those households alone, with the error a
// household imported alone gets, and stores every other household and
// device, including a gateway and the device that names it.
func TestImportHouseholdsBatchRefused(t *testing.T) {
	ctx := context.Background()
	db := openForTest(t)
	mustDo(t, db.CreateGrid(ctx, registry.Grid{ID: "g1", Name: "G"}))
	mustDo(t, db.CreateHousehold(ctx, registry.Household{ID: "other", Name: "O", Address: "A", GridID: "g1"}))
	mustDo(t, db.CreateDevice(ctx, registry.Device{ID: "taken", Kind: registry.DoorSensor, HouseholdID: "other", SecretHash: "x"}))

	var in []registry.HouseholdImport
	for i := range 150 {
		id := fmt.Sprintf("h%d", i)
		in = append(in, registry.HouseholdImport{
			Household: registry.Household{ID: id, Name: "N", Address: "A", GridID: "g1"},
			Devices: []registry.Device{
				{ID: id + "-band", Kind: registry.Wristband, HouseholdID: id, SecretHash: "hash"},
				{ID: id + "-water", Kind: registry.WaterMeter, HouseholdID: id},
			},
			NewSecretHashes: map[string]string{id + "-water": "generated"},
		})
	}
	in[10].Devices = append(in[10].Devices,
		registry.Device{ID: "h10-gw", Kind: registry.Gateway, HouseholdID: "h10", SecretHash: "hash"},
		registry.Device{ID: "h10-pir", Kind: registry.MotionSensor, HouseholdID: "h10", Source: registry.SourceZigbee2MQTT, SourceTopic: "hall/pir", GatewayID: "h10-gw", SecretHash: "hash"})
	in[70].Devices = append(in[70].Devices, registry.Device{ID: "taken", Kind: registry.DoorSensor, HouseholdID: "h70", SecretHash: "x"})
	for _, i := range []int{100, 101} {
		in[i].Devices = append(in[i].Devices, registry.Device{ID: "shared", Kind: registry.DoorSensor, HouseholdID: in[i].Household.ID, SecretHash: "x"})
	}
	in[120].Devices = append(in[120].Devices, registry.Device{ID: "h120-door", Kind: registry.DoorSensor, HouseholdID: "h120"})

	results, errs, err := db.ImportHouseholds(ctx, in)
	mustDo(t, err)
	refused := map[int]string{70: "registered to another household", 101: "registered to another household", 120: "needs a secret"}
	for i := range in {
		var de *registry.DeviceError
		switch want, ok := refused[i]; {
		case ok && (!errors.As(errs[i], &de) || !strings.Contains(errs[i].Error(), want) || results[i].Created):
			t.Errorf("household %d: %v (created %v), want a device error %q", i, errs[i], results[i].Created, want)
		case !ok && (errs[i] != nil || !results[i].Created || len(results[i].Added) != len(in[i].Devices)):
			t.Errorf("household %d: %v, created %v, %d of %d devices added", i, errs[i], results[i].Created, len(results[i].Added), len(in[i].Devices))
		}
	}
	var households, devices int
	mustDo(t, db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM households WHERE id LIKE 'h%'`).Scan(&households))
	mustDo(t, db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM devices WHERE household_id LIKE 'h%'`).Scan(&devices))
	if households != 147 || devices != 147*2+3 {
		t.Errorf("%d households and %d devices stored, want 147 and %d", households, devices, 147*2+3)
	}
	for id, want := range map[string]string{"h5-band": "hash", "h5-water": "generated", "shared": "x"} {
		d, err := db.Device(ctx, id)
		mustDo(t, err)
		if d.SecretHash != want {
			t.Errorf("%s: secret hash %q, want %q", id, d.SecretHash, want)
		}
	}
	if d, err := db.Device(ctx, "h10-pir"); err != nil || d.GatewayID != "h10-gw" {
		t.Errorf("the gateway's device: %+v, %v", d, err)
	}
}
