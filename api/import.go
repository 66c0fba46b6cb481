package api

import (
	"bytes"
	"cmp"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/eldersafe/eldersafe/audit"
	"github.com/eldersafe/eldersafe/registry"
)

// CSV import of households (POST /api/v1/import/households; docs/api.md,
// "CSV import"). The file has a header row naming its columns in any order;
// every other row is a household, one of its contacts, one of its devices,
// or both a contact and a device: rows of the same household_id are merged.
// Each household is applied whole or not at all; a bad row is answered
// with its line number and keeps its household out, and every other
// household still applies. Households are written importChunk at a time:
// one audit write, one transaction with a savepoint per household.

// Import limits. Each field is bounded by the registry's table
// (registry.MaxLen), as in the JSON API.
const (
	maxImportBody = 5 << 20
	maxImportRows = 10_000
)

// importChunk is how many households share a transaction and an audit
// write: a transaction each made an import of a million households take
// hours (docs/performance.md); a chunk keeps one transaction's work, and
// the writer connection it holds, to some tens of milliseconds.
const importChunk = 500

// importColumns are the columns an import file may have.
var importColumns = []string{
	"household_id", "name", "address", "grid_id", "timezone", "medical_notes", "care_level",
	"contact_name", "contact_relation", "contact_phone", "contact_push_url", "contact_lang", "contact_channels", "contact_quiet_hours",
	"device_id", "device_kind", "device_secret", "device_source", "device_source_topic", "device_gateway_id", "device_expected_every",
}

// importRequired are the columns every import file must have.
var importRequired = []string{"household_id", "name", "address", "grid_id"}

func (a *API) importRoutes(rt *router) {
	rt.handle("POST /api/v1/import/households", a.importHouseholds, allow(registry.RoleOperator))
}

// importResponse answers an import.
type importResponse struct {
	Created int           `json:"created"`
	Updated int           `json:"updated"`
	Errors  []importError `json:"errors"`
	// Secrets are those generated for new devices listed without one,
	// shown this once.
	Secrets []importSecret `json:"secrets"`
}

type importError struct {
	Line    int    `json:"line"`
	Message string `json:"message"`
}

type importSecret struct {
	DeviceID    string `json:"device_id"`
	HouseholdID string `json:"household_id"`
	Secret      string `json:"secret"`
}

// importHousehold is one household of an import file with the lines it came from.
type importHousehold struct {
	line     int // its first line
	h        registry.Household
	setNotes bool
	devices  []*importDevice
	failed   bool
}

type importDevice struct {
	line   int
	d      registry.Device
	secret string // as given; empty: generate one if the device is new
}

// importFile is a parsed import file.
type importFile struct {
	households []*importHousehold
	errors     []importError
}

func (a *API) importHouseholds(w http.ResponseWriter, r *http.Request) error {
	if err := requireCSV(r); err != nil {
		return err
	}
	// Read into a buffer of the declared size: io.ReadAll's doublings were
	// 5 % of what a large import allocated.
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(min(r.ContentLength, maxImportBody)) + bytes.MinRead)
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, maxImportBody))
	body := buf.Bytes()
	if err != nil {
		if ae := classify(err); ae.status == http.StatusRequestEntityTooLarge {
			return ae
		}
		return &apiError{status: http.StatusBadRequest, code: codeInvalid, msg: "reading the request body failed", err: err}
	}
	f, err := parseImport(body)
	if err != nil {
		return err
	}
	resp := importResponse{Errors: f.errors, Secrets: []importSecret{}}
	var ok []*importHousehold
	for _, ih := range f.households {
		if !ih.failed {
			ok = append(ok, ih)
		}
	}
	for chunk := range slices.Chunk(ok, importChunk) {
		a.importChunk(r, chunk, &resp)
	}
	slices.SortStableFunc(resp.Errors, func(x, y importError) int { return cmp.Compare(x.Line, y.Line) })
	a.writeJSON(w, r, http.StatusOK, resp)
	return nil
}

// importChunk applies households, recording them in the audit log first,
// and tells the rules engine what changed.
func (a *API) importChunk(r *http.Request, chunk []*importHousehold, resp *importResponse) {
	ctx := r.Context()
	fail := func(ih *importHousehold, line int, format string, args ...any) {
		resp.Errors = append(resp.Errors, importError{Line: line, Message: "household " + ih.h.ID + " not imported: " + fmt.Sprintf(format, args...)})
	}
	var (
		todo      []*importHousehold
		ins       []registry.HouseholdImport
		generated = map[string]string{} // by device id
	)
	for _, ih := range chunk {
		in, err := a.importInput(ih, generated)
		if err != nil {
			fail(ih, err.line, "%s", err.msg)
			continue
		}
		todo, ins = append(todo, ih), append(ins, in)
	}
	if len(todo) == 0 {
		return
	}
	ids := make([]string, len(todo))
	for i, ih := range todo {
		ids[i] = ih.h.ID
	}
	existing, err := a.opts.Households.ExistingHouseholds(ctx, ids)
	if err != nil {
		a.log.Error("import: look up households", "err", err)
		for _, ih := range todo {
			fail(ih, ih.line, "internal error")
		}
		return
	}
	if err := a.recordImport(r, todo, existing); err != nil {
		a.log.Error("import: audit log", "households", len(todo), "err", err)
		for _, ih := range todo {
			fail(ih, ih.line, "the audit log cannot be written; try again later")
		}
		return
	}
	results, errs, err := a.opts.Households.ImportHouseholds(ctx, ins)
	if err != nil {
		a.log.Error("import households", "households", len(todo), "err", err)
		for _, ih := range todo {
			fail(ih, ih.line, "internal error")
		}
		return
	}
	var created []string
	for i, ih := range todo {
		if errs[i] != nil {
			a.importRefused(ih, errs[i], fail)
			continue
		}
		if id, ok := a.imported(ctx, ih, ins[i], results[i], generated, resp); ok {
			created = append(created, id)
		}
	}
	// In one transaction for the chunk: one each was most of what an
	// import of households with care levels cost (docs/performance.md).
	a.routineFor(ctx, created...)
}

// lineError is a problem of an import file's line.
type lineError struct {
	line int
	msg  string
}

// importInput hashes the secrets of a household's devices, generating
// those not given (into generated, by device id).
func (a *API) importInput(ih *importHousehold, generated map[string]string) (registry.HouseholdImport, *lineError) {
	in := registry.HouseholdImport{
		Household: ih.h, SetMedicalNotes: ih.setNotes,
		Devices: make([]registry.Device, 0, len(ih.devices)), NewSecretHashes: make(map[string]string, len(ih.devices)),
	}
	// Gateways first: a device naming one is registered after it, whatever
	// the order of the rows.
	slices.SortStableFunc(ih.devices, func(x, y *importDevice) int {
		return cmp.Compare(gatewaysFirst(x.d.Kind), gatewaysFirst(y.d.Kind))
	})
	for _, d := range ih.devices {
		secret := d.secret
		if secret == "" {
			s, err := registry.NewSecret()
			if err != nil {
				a.log.Error("import: generate a device secret", "err", err)
				return registry.HouseholdImport{}, &lineError{d.line, "internal error"}
			}
			secret, generated[d.d.ID] = s, s
		}
		hash, err := registry.HashDeviceSecret(secret)
		if err != nil {
			return registry.HouseholdImport{}, &lineError{d.line, fmt.Sprintf("device %s: %v", d.d.ID, err)}
		}
		dev := d.d
		if d.secret == "" {
			in.NewSecretHashes[dev.ID] = hash
		} else {
			dev.SecretHash = hash
		}
		in.Devices = append(in.Devices, dev)
	}
	return in, nil
}

// importRefused reports why the store refused a household, on the line of
// the device at fault when one is.
func (a *API) importRefused(ih *importHousehold, err error, fail func(*importHousehold, int, string, ...any)) {
	line := ih.line
	if de, ok := errors.AsType[*registry.DeviceError](err); ok {
		for _, d := range ih.devices {
			if d.d.ID == de.DeviceID {
				line = d.line
				break
			}
		}
	}
	if ae := classify(err); ae.status >= 500 {
		a.log.Error("import household", "household_id", ih.h.ID, "err", err)
		fail(ih, line, "internal error")
		return
	}
	fail(ih, line, "%s", strings.TrimPrefix(oneLine(err), "import household "+ih.h.ID+": "))
}

// imported counts a household stored, shows its generated secrets and tells
// the rules engine; it returns the household's id (a copy of its own) and
// whether the import created it.
func (a *API) imported(ctx context.Context, ih *importHousehold, in registry.HouseholdImport, res registry.ImportResult, generated map[string]string, resp *importResponse) (id string, created bool) {
	// The ids are cut from the request's CSV lines, secrets and addresses
	// included, and the rules engine and ingest keep them as long as the
	// household and device are registered: they get copies of their own
	// (one per id, shared), or each id kept would pin its whole line
	// (about 2 KB a household; docs/performance.md).
	id = strings.Clone(ih.h.ID)
	if res.Created {
		resp.Created++
		h := ih.h
		h.ID = id
		a.householdRegistered(ctx, h)
	} else {
		resp.Updated++
		// The time zone or care level may have changed, the zone also to none.
		if err := a.opts.Rules.HouseholdChanged(ctx, id); err != nil {
			a.log.Error("household imported but its rule settings are not applied until restart", "household_id", id, "err", err)
		}
	}
	owned := func(d registry.Device) registry.Device {
		d.ID, d.HouseholdID = strings.Clone(d.ID), id
		return d
	}
	for _, d := range res.Added {
		a.opts.Rules.DeviceRegistered(owned(d))
		if s, ok := generated[d.ID]; ok {
			resp.Secrets = append(resp.Secrets, importSecret{DeviceID: d.ID, HouseholdID: id, Secret: s})
		}
	}
	// A device already registered may have been given a new expected_every.
	for _, d := range in.Devices {
		if d.ExpectedEvery != 0 && !slices.ContainsFunc(res.Added, func(a registry.Device) bool { return a.ID == d.ID }) {
			a.opts.Rules.DeviceRegistered(owned(d))
		}
	}
	return id, res.Created
}

// gatewaysFirst sorts gateways (0) before other devices (1).
func gatewaysFirst(k registry.DeviceKind) int {
	if k == registry.Gateway {
		return 0
	}
	return 1
}

// recordImport records in the audit log that an import writes households,
// in one write, before it does.
func (a *API) recordImport(r *http.Request, hs []*importHousehold, existing map[string]bool) error {
	if a.opts.Audit == nil {
		return nil
	}
	p := principal(r.Context())
	entries := make([]audit.Entry, len(hs))
	for i, ih := range hs {
		action := audit.Create
		if existing[ih.h.ID] {
			action = audit.Update
		}
		entries[i] = audit.Entry{At: a.wall.Now(), Actor: p.ID, Role: p.Role, Action: action, Object: "households/" + ih.h.ID,
			Remote: remoteHost(r), Reason: fmt.Sprintf("csv import, line %d", ih.line)}
	}
	return a.opts.Audit(r.Context(), entries...)
}

// requireCSV accepts Content-Type text/csv, in UTF-8 when a charset is given.
func requireCSV(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "text/csv" {
		return errorf(http.StatusUnsupportedMediaType, codeUnsupportedMediaType, "Content-Type %q: want text/csv", clip(ct))
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return errorf(http.StatusUnsupportedMediaType, codeUnsupportedMediaType, "charset %q: want utf-8", clip(cs))
	}
	return nil
}

// parseImport reads an import file. A file that cannot be read as a whole
// (no header, an unknown column, broken quoting, too many rows) is an
// *apiError; a bad row is an error of its line that keeps its household out.
func parseImport(body []byte) (importFile, error) {
	body = bytes.TrimPrefix(body, []byte("\uFEFF")) // spreadsheets write a byte order mark
	cr := csv.NewReader(bytes.NewReader(body))
	cr.FieldsPerRecord = -1 // checked here, so one short row does not stop the file
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return importFile{}, invalidf("the file is empty: want a header row naming the columns, then the rows")
	}
	if err != nil {
		return importFile{}, csvError(err)
	}
	cols := map[string]int{}
	for i, name := range header {
		name = strings.ToLower(strings.TrimSpace(name))
		if !slices.Contains(importColumns, name) {
			return importFile{}, invalidf("header: unknown column %q; known: %s", clip(name), strings.Join(importColumns, ", "))
		}
		if _, dup := cols[name]; dup {
			return importFile{}, invalidf("header: column %q given twice", name)
		}
		cols[name] = i
	}
	var missing []string
	for _, c := range importRequired {
		if _, ok := cols[c]; !ok {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return importFile{}, invalidf("header: missing column(s) %s", strings.Join(missing, ", "))
	}

	var (
		f       importFile
		byID    = map[string]*importHousehold{}
		devices = map[string]*importDevice{} // by device id, the first listing
		rows    int
	)
	lineErr := func(line int, format string, args ...any) {
		f.errors = append(f.errors, importError{Line: line, Message: fmt.Sprintf(format, args...)})
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return importFile{}, csvError(err)
		}
		if rows++; rows > maxImportRows {
			return importFile{}, errorf(http.StatusRequestEntityTooLarge, codeTooLarge, "more than %d rows; split the file", maxImportRows)
		}
		line, _ := cr.FieldPos(0)
		get := func(col string) string {
			if i, ok := cols[col]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		hid := get("household_id")
		if hid == "" {
			lineErr(line, "household_id is required")
			continue
		}
		ih := byID[hid]
		if ih == nil {
			ih = &importHousehold{line: line, h: registry.Household{ID: hid, Contacts: []registry.Contact{}}}
			_, ih.setNotes = cols["medical_notes"]
			byID[hid] = ih
			f.households = append(f.households, ih)
		}
		fail := func(format string, args ...any) {
			ih.failed = true
			lineErr(line, "household "+clip(hid)+" not imported: "+format, args...)
		}
		if len(rec) != len(header) {
			fail("%d fields, the header has %d", len(rec), len(header))
			continue
		}
		if bad := badField(header, rec); bad != "" {
			fail("%s", bad)
			continue
		}
		if msg := mergeHousehold(&ih.h, get); msg != "" {
			fail("%s", msg)
			continue
		}
		if v := get("care_level"); v != "" {
			level, err := registry.ParseCareLevel(v)
			switch {
			case err != nil:
				fail("%s", err)
				continue
			case ih.h.CareLevel != "" && ih.h.CareLevel != level:
				fail("care_level differs from an earlier row of the household")
				continue
			}
			ih.h.CareLevel = level
		}
		if c, ok := importContact(get); ok {
			if err := c.Validate(); err != nil {
				fail("contact: %s", oneLine(err))
				continue
			}
			if !slices.ContainsFunc(ih.h.Contacts, func(o registry.Contact) bool { return sameContact(o, c) }) {
				ih.h.Contacts = append(ih.h.Contacts, c)
			}
		}
		if id, kind, secret := get("device_id"), get("device_kind"), get("device_secret"); id != "" || kind != "" || secret != "" {
			d := &importDevice{line: line, secret: secret, d: registry.Device{ID: id, Kind: registry.DeviceKind(kind), HouseholdID: hid,
				Source: registry.Source(cmp.Or(get("device_source"), string(registry.SourceNative))), SourceTopic: get("device_source_topic"), GatewayID: get("device_gateway_id")}}
			var secretErr, everyErr error
			if secret != "" {
				secretErr = registry.ValidateSecret(secret)
			}
			d.d.ExpectedEvery, everyErr = registry.ParseEvery(get("device_expected_every"))
			if err := errors.Join(d.d.Validate(), secretErr, everyErr); err != nil {
				fail("device: %s", oneLine(err))
				continue
			}
			prev, seen := devices[id]
			switch {
			case !seen:
				devices[id] = d
				ih.devices = append(ih.devices, d)
			case prev.d.HouseholdID != hid:
				fail("device %s is listed for household %s on line %d", id, clip(prev.d.HouseholdID), prev.line)
			case prev.d != d.d || prev.secret != secret:
				fail("device %s is listed on line %d with another kind, source or secret", id, prev.line)
			}
		}
	}
	for _, ih := range f.households {
		if ih.failed {
			continue
		}
		// Its contacts passed on their own lines: what is left to find is
		// in the household's own fields, and how many contacts it has.
		if err := ih.h.Validate(); err != nil {
			ih.failed = true
			lineErr(ih.line, "household %s not imported: %s", clip(ih.h.ID), oneLine(err))
		}
	}
	if f.errors == nil {
		f.errors = []importError{}
	}
	return f, nil
}

// badField names the first field that is not text one may import. Its
// length and format are the registry's to check, as for the JSON API.
func badField(header, rec []string) string {
	name := func(i int) string { return strings.ToLower(strings.TrimSpace(header[i])) }
	for i, v := range rec {
		switch {
		case !utf8.ValidString(v):
			return name(i) + ": not valid UTF-8"
		case strings.ContainsFunc(v, unicode.IsControl):
			return name(i) + ": control characters (a line break inside a field?)"
		}
	}
	return ""
}

// mergeHousehold takes a row's household columns into h: an empty one says
// nothing; one that differs from an earlier row's is an error.
func mergeHousehold(h *registry.Household, get func(string) string) string {
	for _, f := range []struct {
		col string
		dst *string
	}{{"name", &h.Name}, {"address", &h.Address}, {"grid_id", &h.GridID}, {"timezone", &h.Timezone}, {"medical_notes", &h.MedicalNotes}} {
		v := get(f.col)
		switch {
		case v == "":
		case *f.dst == "":
			*f.dst = v
		case *f.dst != v:
			return fmt.Sprintf("%s differs from an earlier row of the household", f.col)
		}
	}
	return ""
}

// importContact reads a row's contact columns; ok is false when all are empty.
func importContact(get func(string) string) (registry.Contact, bool) {
	c := registry.Contact{
		Name: get("contact_name"), Relation: get("contact_relation"), Phone: get("contact_phone"),
		PushURL: get("contact_push_url"), Lang: get("contact_lang"), QuietHours: get("contact_quiet_hours"),
		Channels: []string{},
	}
	for ch := range strings.SplitSeq(get("contact_channels"), ";") {
		if ch = strings.TrimSpace(ch); ch != "" && !slices.Contains(c.Channels, ch) {
			c.Channels = append(c.Channels, ch)
		}
	}
	empty := c.Name == "" && c.Relation == "" && c.Phone == "" && c.PushURL == "" && c.Lang == "" && c.QuietHours == "" && len(c.Channels) == 0
	return c, !empty
}

func sameContact(a, b registry.Contact) bool {
	return a.Name == b.Name && a.Relation == b.Relation && a.Phone == b.Phone && a.PushURL == b.PushURL &&
		a.Lang == b.Lang && a.QuietHours == b.QuietHours && slices.Equal(a.Channels, b.Channels)
}

// csvError words a CSV syntax error: the whole file is refused, since after
// broken quoting no line can be trusted to be what it seems.
func csvError(err error) *apiError {
	if pe, ok := errors.AsType[*csv.ParseError](err); ok {
		return &apiError{status: http.StatusBadRequest, code: codeInvalid,
			msg: fmt.Sprintf("line %d: %v; nothing was imported", pe.StartLine, pe.Err), err: err}
	}
	return &apiError{status: http.StatusBadRequest, code: codeInvalid, msg: "the file is not CSV: " + oneLine(err), err: err}
}

// oneLine joins a multi-line (errors.Join) message.
func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }
