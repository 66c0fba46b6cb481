package simulator

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
)

// householdsPerGrid is how many households one grid worker looks after.
const householdsPerGrid = 50

// GridInfo is a grid with its staff: the grid worker who gets its visits,
// a backup worker and a supervisor whom escalations reach.
type GridInfo struct {
	ID, Name                         string
	WorkerID, BackupID, SupervisorID string
}

var (
	surnames = []string{"Li", "Wang", "Zhang", "Liu", "Chen", "Yang", "Zhao", "Huang", "Zhou", "Wu", "Xu", "Sun"}
	given    = []string{"Guiying", "Xiuying", "Jianguo", "Shulan", "Fengying", "Yulan", "Guihua", "Zhiqiang", "Xiulan", "Guilan", "Baoshan", "Suzhen"}
	kin      = []string{"son", "daughter", "niece", "grandson", "neighbour"}
)

// Grids lists the grids the households are spread over, householdsPerGrid
// to a grid.
func (n Neighbourhood) Grids() []GridInfo {
	count := (len(n.Households) + householdsPerGrid - 1) / householdsPerGrid
	grids := make([]GridInfo, count)
	for i := range grids {
		num := strconv.Itoa(i + 1)
		grids[i] = GridInfo{
			ID:           n.id("g", num),
			Name:         "Grid " + num + " (simulated)",
			WorkerID:     n.id("w", num),
			BackupID:     n.id("b", num),
			SupervisorID: n.id("s", num),
		}
	}
	return grids
}

// id is a grid's or a staff member's id: the prefix, a letter and the grid's number.
func (n Neighbourhood) id(letter, num string) string { return n.idPrefix + letter + num }

func (n Neighbourhood) gridOf(i int) string {
	return n.idPrefix + "g" + strconv.Itoa(i/householdsPerGrid+1)
}

func residentName(i int) string {
	return surnames[i%len(surnames)] + " " + given[(i/len(surnames))%len(given)]
}

func address(i int) string {
	return fmt.Sprintf("Building %d, Unit %d, Room %d0%d (simulated)", i/24+1, i/8%3+1, i%8/2+1, i%2+1)
}

// Secret is a simulated device's MQTT password. It is derived from the seed
// and the device id, so that a later run with the same seed (or the CSV
// file) can log the same devices in; never give a real device a simulated id.
func Secret(seed uint64, deviceID string) string {
	sum := sha256.Sum256([]byte("eldersafe-simulator\x00" + strconv.FormatUint(seed, 10) + "\x00" + deviceID))
	return base64.RawURLEncoding.EncodeToString(sum[:24])
}

// Provision registers the grids and their staff, then the households (each
// with one family contact told on the log channel) and their devices, through
// the API. Households go through the CSV import (POST
// /api/v1/import/households), importChunk at a time; a monitor without that
// route gets them one request each, `parallel` at a time. What exists already
// is left as it is.
func Provision(ctx context.Context, c *Client, n Neighbourhood, seed uint64, parallel int, log *slog.Logger) error {
	for i, g := range n.Grids() {
		if _, err := c.create(ctx, "/api/v1/grids", map[string]any{
			"id": g.ID, "name": g.Name, "backup_worker_id": g.BackupID, "supervisor_id": g.SupervisorID,
		}); err != nil {
			return fmt.Errorf("provision: %w", err)
		}
		// The grid worker first: the first grid_worker of a grid gets its visits.
		for j, w := range []struct{ id, role string }{{g.WorkerID, "grid_worker"}, {g.BackupID, "grid_worker"}, {g.SupervisorID, "supervisor"}} {
			if _, err := c.create(ctx, "/api/v1/workers", map[string]any{
				"id": w.id, "name": surnames[(3*i+j+3)%len(surnames)] + " " + given[(3*i+j+5)%len(given)],
				"phone": fmt.Sprintf("+86139%07d%d", i+1, j), "grid_ids": []string{g.ID}, "role": w.role, "lang": "zh-CN",
			}); err != nil {
				return fmt.Errorf("provision: %w", err)
			}
		}
	}
	for from := 0; from < len(n.Households); from += importChunk {
		var b bytes.Buffer
		if err := writeRows(&b, n, seed, from, min(from+importChunk, len(n.Households))); err != nil {
			return err
		}
		err := c.importCSV(ctx, b.Bytes())
		if s := statusOf(err); s == http.StatusNotFound || s == http.StatusMethodNotAllowed {
			log.Info("the monitor has no CSV import; registering households one request each")
			return provisionEach(ctx, c, n, seed, from, parallel)
		}
		if err != nil {
			return fmt.Errorf("provision: %w", err)
		}
	}
	return nil
}

// importChunk is how many households one import request carries: nine rows
// each, under the import's 10,000 rows and 5 MiB.
const importChunk = 1000

// provisionEach registers households from `from` on, one request per
// household and per device.
func provisionEach(ctx context.Context, c *Client, n Neighbourhood, seed uint64, from, parallel int) error {
	return forEach(ctx, len(n.Households)-from, parallel, func(ctx context.Context, i int) error {
		i += from
		h := n.Households[i]
		contact := n.contact(i)
		if _, err := c.create(ctx, "/api/v1/households", map[string]any{
			"id": h.FullID, "name": residentName(i), "address": address(i), "grid_id": n.gridOf(i), "timezone": h.Timezone,
			"contacts": []map[string]any{{"name": contact.name, "relation": contact.relation, "lang": "en", "channels": []string{"log"}}},
		}); err != nil {
			return fmt.Errorf("provision household %s: %w", h.FullID, err)
		}
		for _, d := range h.Devices {
			body := map[string]any{"id": d.ID, "kind": d.Kind, "household_id": h.FullID, "secret": Secret(seed, d.ID)}
			if d.Source != "" {
				body["source"], body["source_topic"] = d.Source, d.SourceTopic
			}
			if d.GatewayID != "" {
				body["gateway_id"] = d.GatewayID
			}
			if _, err := c.create(ctx, "/api/v1/devices", body); err != nil {
				return fmt.Errorf("provision device %s: %w", d.ID, err)
			}
		}
		return nil
	})
}

type contact struct{ name, relation string }

func (n Neighbourhood) contact(i int) contact {
	return contact{surnames[(i+7)%len(surnames)] + " " + given[(i+2)%len(given)], kin[i%len(kin)]}
}

// forEach runs fn for 0..n-1 on `parallel` goroutines, and stops at the first
// error.
func forEach(ctx context.Context, n, parallel int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range max(1, parallel) {
		wg.Go(func() {
			for i := range next {
				if err := fn(ctx, i); err != nil {
					cancel(err)
				}
			}
		})
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	return context.Cause(ctx)
}

// CSVHeader names the columns WriteCSV writes: those of the monitor's CSV
// import (POST /api/v1/import/households), one device per row, with the
// household's columns and its one family contact repeated on each.
var CSVHeader = []string{"household_id", "name", "address", "grid_id", "timezone",
	"contact_name", "contact_relation", "contact_lang", "contact_channels", "device_id", "device_kind", "device_secret",
	"device_source", "device_source_topic", "device_gateway_id"}

// WriteCSV writes the neighbourhood as an import file, with the secrets the
// simulator will log in with.
func WriteCSV(w io.Writer, n Neighbourhood, seed uint64) error {
	return writeRows(w, n, seed, 0, len(n.Households))
}

func writeRows(w io.Writer, n Neighbourhood, seed uint64, from, to int) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return fmt.Errorf("csv: %w", err)
	}
	for i := from; i < to; i++ {
		h, c := n.Households[i], n.contact(i)
		for _, d := range h.Devices {
			if err := cw.Write([]string{h.FullID, residentName(i), address(i), n.gridOf(i), h.Timezone,
				c.name, c.relation, "en", "log", d.ID, d.Kind, Secret(seed, d.ID), string(d.Source), d.SourceTopic, d.GatewayID}); err != nil {
				return fmt.Errorf("csv: %w", err)
			}
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("csv: %w", err)
	}
	return nil
}
