package store

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
)

// Sensitive values are encrypted at rest with the field key (keyring's
// Keys.Fields, from security.key): relatives' contact details
// (households.contacts, the whole JSON document, so phone numbers and the
// people they belong to), medical notes (households.medical_notes), where
// notices go (notices.address: phone numbers and push URLs) and what they
// say (notices.message: a worker's carries a fall's map link), precise
// positions and heart rates in tasks' evidence and timelines
// (task_evidence.values_json, task_timeline.data_json: the whole document
// when it holds one, see sensitiveKeys) and the rules engine's saved state
// (rule_state.data, which holds each wristband's last heart rate).
//
// Each value is sealed with AES-256-GCM under a fresh random nonce, its row
// and column as additional data (a value copied into another row does not
// open), and stored as fieldPrefix followed by the base64 of nonce and
// ciphertext. A value without the prefix is plaintext: written before the
// store was given a key. Open with a key encrypts every such value (see
// encryptPlaintext), so a database kept by a monitor holds none for long.
//
// A key check in settings tells a wrong key at Open, before any alarm needs a
// contact: Open fails naming the mismatch instead of failing every read later.

// fieldPrefix marks an encrypted value, and its format's version.
const fieldPrefix = "enc:v1:"

// FieldKeySize is the length of the field key: AES-256.
const FieldKeySize = 32

// settingFieldKeyCheck holds a known text sealed with the field key.
const (
	settingFieldKeyCheck = "field_key_check"
	fieldKeyCheckText    = "eldersafe field key check"
)

// ErrFieldKey is a sensitive value the store cannot decrypt or encrypt: the
// key is wrong, missing, or the value was altered.
var ErrFieldKey = errors.New("field key")

// Option configures Open.
type Option func(*openOptions)

type openOptions struct {
	fieldKey []byte
	url      string
}

// WithURL opens the PostgreSQL database at url (postgres://…) instead of
// SQLite under the data directory; empty keeps SQLite (store.url).
func WithURL(url string) Option {
	return func(o *openOptions) { o.url = url }
}

// WithFieldKey gives the store the 32-byte key of its sensitive fields
// (keyring.Keys.Fields). Without it nothing is encrypted, which suits tests
// and tools that read no personal data; a store whose database was already
// encrypted then refuses to read or write sensitive values.
func WithFieldKey(key []byte) Option {
	return func(o *openOptions) { o.fieldKey = key }
}

// fieldCipher seals and opens sensitive values. The nil *fieldCipher has no
// key: it writes plaintext and cannot open sealed values.
type fieldCipher struct {
	aead cipher.AEAD
	// locked: no key, but the database holds encrypted values, so plaintext
	// must not be written next to them.
	locked bool
}

func newFieldCipher(key []byte) (*fieldCipher, error) {
	if len(key) != FieldKeySize {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrFieldKey, len(key), FieldKeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFieldKey, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFieldKey, err)
	}
	return &fieldCipher{aead: aead}, nil
}

// sealed reports whether a stored value is encrypted.
func sealed(stored string) bool { return strings.HasPrefix(stored, fieldPrefix) }

// seal encrypts plain for the place named by aad ("table.column:row id").
// An empty value stays empty: there is nothing to hide.
func (c *fieldCipher) seal(plain, aad string) (string, error) {
	switch {
	case plain == "":
		return "", nil
	case c == nil:
		return plain, nil
	case c.aead == nil:
		return "", fmt.Errorf("%w: the database's sensitive fields are encrypted and the store was opened without the key (security.key)", ErrFieldKey)
	}
	nonce := make([]byte, c.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("encrypt %s: %w", aad, err)
	}
	out := c.aead.Seal(nonce, nonce, []byte(plain), []byte(aad))
	return fieldPrefix + base64.RawStdEncoding.EncodeToString(out), nil
}

// open decrypts a stored value of the place named by aad; plaintext comes
// back as it is.
func (c *fieldCipher) open(stored, aad string) (string, error) {
	if !sealed(stored) {
		return stored, nil
	}
	if c == nil || c.aead == nil {
		return "", fmt.Errorf("decrypt %s: %w: the value is encrypted and the store was opened without the key (security.key)", aad, ErrFieldKey)
	}
	raw, err := base64.RawStdEncoding.DecodeString(stored[len(fieldPrefix):])
	if err != nil || len(raw) < c.aead.NonceSize()+c.aead.Overhead() {
		return "", fmt.Errorf("decrypt %s: %w: not a value this store wrote", aad, ErrFieldKey)
	}
	n := c.aead.NonceSize()
	plain, err := c.aead.Open(nil, raw[:n], raw[n:], []byte(aad))
	if err != nil {
		return "", fmt.Errorf("decrypt %s: %w: wrong key (security.key changed?) or the value was altered", aad, ErrFieldKey)
	}
	return string(plain), nil
}

// sealBlob is seal for a binary value, appended to dst (nil for a buffer of
// its own): stored as fieldPrefix followed by nonce and ciphertext,
// unencoded. Without a cipher, or empty, the value is plain itself, with
// no room past it: a caller that appends to what it got back (a buffer it
// seals the next value into) then never writes into plain's array. A
// plaintext value must never start with fieldPrefix (the rules engine's
// state starts with a small version number).
func (c *fieldCipher) sealBlob(dst, plain []byte, aad string) ([]byte, error) {
	if c == nil || len(plain) == 0 {
		return plain[:len(plain):len(plain)], nil
	}
	if c.aead == nil {
		return nil, fmt.Errorf("%w: the database's sensitive fields are encrypted and the store was opened without the key (security.key)", ErrFieldKey)
	}
	out := append(slices.Grow(dst, len(fieldPrefix)+c.aead.NonceSize()+len(plain)+c.aead.Overhead()), fieldPrefix...)
	start := len(out)
	out = out[:start+c.aead.NonceSize()]
	nonce := out[start:]
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("encrypt %s: %w", aad, err)
	}
	return c.aead.Seal(out, nonce, plain, []byte(aad)), nil
}

// sealedBlob says whether a stored blob was sealed by sealBlob: openBlob
// hands any other back as it is.
func sealedBlob(stored []byte) bool { return bytes.HasPrefix(stored, []byte(fieldPrefix)) }

// openBlob is open for a value sealBlob stored; plaintext comes back as it is.
func (c *fieldCipher) openBlob(stored []byte, aad string) ([]byte, error) {
	if !sealedBlob(stored) {
		return stored, nil
	}
	if c == nil || c.aead == nil {
		return nil, fmt.Errorf("decrypt %s: %w: the value is encrypted and the store was opened without the key (security.key)", aad, ErrFieldKey)
	}
	raw := stored[len(fieldPrefix):]
	n := c.aead.NonceSize()
	if len(raw) < n+c.aead.Overhead() {
		return nil, fmt.Errorf("decrypt %s: %w: not a value this store wrote", aad, ErrFieldKey)
	}
	plain, err := c.aead.Open(nil, raw[:n], raw[n:], []byte(aad))
	if err != nil {
		return nil, fmt.Errorf("decrypt %s: %w: wrong key (security.key changed?) or the value was altered", aad, ErrFieldKey)
	}
	return plain, nil
}

// sensitiveKeys are the values of evidence and timeline data that say
// precisely where someone is, or how their heart beats (the sensitive fields
// location and heart_rate). A document holding one is sealed whole.
var sensitiveKeys = append(slices.Clone(registry.LocationKeys), registry.FieldHeartRate)

// sensitiveDoc reports whether an evidence or timeline document holds a
// sensitive value.
func sensitiveDoc(doc map[string]any) bool {
	for _, k := range sensitiveKeys {
		if _, ok := doc[k]; ok {
			return true
		}
	}
	return false
}

// Places of sensitive values, the additional data they are sealed with.
func contactsAAD(householdID string) string { return "households.contacts:" + householdID }
func notesAAD(householdID string) string    { return "households.medical_notes:" + householdID }
func addressAAD(noticeID string) string     { return "notices.address:" + noticeID }
func messageAAD(noticeID string) string     { return "notices.message:" + noticeID }
func actionsAAD(noticeID string) string     { return "notices.actions:" + noticeID }
func ruleStateAAD(householdID string) string {
	return "rule_state.data:" + householdID
}

// docAAD is the place of a document in table.column, row seq.
func docAAD(table, column string, seq int64) string {
	return table + "." + column + ":" + strconv.FormatInt(seq, 10)
}

const keyCheckAAD = "settings." + settingFieldKeyCheck

// setUpFields gives db its cipher: with a key, it checks the key against the
// database's key check (writing one the first time) and encrypts every
// plaintext value left; without one, it notes whether the database is
// encrypted so that plaintext is not written next to ciphertext.
func (db *DB) setUpFields(ctx context.Context, key []byte) error {
	var check string
	err := db.w.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = ?`, settingFieldKeyCheck).Scan(&check)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("read field key check: %w", err)
	}
	if key == nil {
		if check != "" {
			db.fields = &fieldCipher{locked: true}
		}
		return nil
	}
	c, err := newFieldCipher(key)
	if err != nil {
		return err
	}
	if check != "" {
		if got, err := c.open(check, keyCheckAAD); err != nil || got != fieldKeyCheckText {
			return fmt.Errorf("%w: the key does not open this database's sensitive fields; was security.key (or the key file) changed? %v", ErrFieldKey, err)
		}
	}
	db.fields = c
	return db.write(ctx, func(tx *sql.Tx) error {
		if check == "" {
			sealedCheck, err := c.seal(fieldKeyCheckText, keyCheckAAD)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO settings (name, value, updated_at) VALUES (?, ?, ?)`,
				settingFieldKeyCheck, sealedCheck, toMS(db.now())); err != nil {
				return fmt.Errorf("write field key check: %w", err)
			}
		}
		return db.encryptPlaintext(ctx, tx)
	})
}

// The rows with a sensitive value in plaintext. Partial indexes
// (migration 00073) hold exactly these rows, and the queries must spell
// the conditions as the indexes do, the prefix written out, for SQLite to
// use them.
const (
	plaintextHouseholdsQuery = `SELECT id, contacts, medical_notes FROM households
		WHERE (contacts NOT IN ('', '[]') AND substr(contacts, 1, 7) <> '` + fieldPrefix + `')
		   OR (medical_notes <> '' AND substr(medical_notes, 1, 7) <> '` + fieldPrefix + `')`
	plaintextNoticesQuery = `SELECT id, address, message FROM notices
		WHERE (address <> '' AND substr(address, 1, 7) <> '` + fieldPrefix + `')
		   OR (message <> '' AND substr(message, 1, 7) <> '` + fieldPrefix + `')`
)

// encryptPlaintext encrypts the sensitive values written without a key: by
// a version before encryption, or by a process opened without the key.
func (db *DB) encryptPlaintext(ctx context.Context, tx *sql.Tx) error {
	type household struct{ id, contacts, notes string }
	var hs []household
	rows, err := tx.QueryContext(ctx, plaintextHouseholdsQuery)
	if err != nil {
		return fmt.Errorf("find plaintext households: %w", err)
	}
	for rows.Next() {
		var h household
		if err := rows.Scan(&h.id, &h.contacts, &h.notes); err != nil {
			rows.Close()
			return fmt.Errorf("find plaintext households: %w", err)
		}
		hs = append(hs, h)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("find plaintext households: %w", err)
	}
	for _, h := range hs {
		contacts, notes := h.contacts, h.notes
		if contacts != "[]" && !sealed(contacts) {
			if contacts, err = db.fields.seal(contacts, contactsAAD(h.id)); err != nil {
				return err
			}
		}
		if !sealed(notes) {
			if notes, err = db.fields.seal(notes, notesAAD(h.id)); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE households SET contacts = ?, medical_notes = ? WHERE id = ?`, contacts, notes, h.id); err != nil {
			return fmt.Errorf("encrypt household %s: %w", h.id, err)
		}
	}

	type notice struct{ id, address, message string }
	var ns []notice
	rows, err = tx.QueryContext(ctx, plaintextNoticesQuery)
	if err != nil {
		return fmt.Errorf("find plaintext notices: %w", err)
	}
	for rows.Next() {
		var n notice
		if err := rows.Scan(&n.id, &n.address, &n.message); err != nil {
			rows.Close()
			return fmt.Errorf("find plaintext notices: %w", err)
		}
		ns = append(ns, n)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("find plaintext notices: %w", err)
	}
	for _, n := range ns {
		address, message := n.address, n.message
		if !sealed(address) {
			if address, err = db.fields.seal(address, addressAAD(n.id)); err != nil {
				return err
			}
		}
		if !sealed(message) {
			if message, err = db.fields.seal(message, messageAAD(n.id)); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE notices SET address = ?, message = ? WHERE id = ?`, address, message, n.id); err != nil {
			return fmt.Errorf("encrypt notice %s: %w", n.id, err)
		}
	}
	evidence, err := db.encryptDocs(ctx, tx, evidenceDocs.table, evidenceDocs.column)
	if err != nil {
		return err
	}
	timeline, err := db.encryptDocs(ctx, tx, timelineDocs.table, timelineDocs.column)
	if err != nil {
		return err
	}
	states, err := db.encryptRuleStates(ctx, tx)
	if err != nil {
		return err
	}
	if len(hs) > 0 || len(ns) > 0 || evidence > 0 || timeline > 0 || states > 0 {
		db.logger.Info("store: encrypted sensitive fields written without the key", "households", len(hs), "notices", len(ns),
			"evidence", evidence, "timeline_entries", timeline, "rule_states", states)
	}
	return nil
}

// plaintextDocsWhere is the condition of the documents in column that may
// hold a sensitive value in plaintext: not sealed, and naming one of
// sensitiveKeys (LIKE's _ matches any character: a superset, which
// sensitiveDoc narrows). Literals, not parameters, spelt as migration 00074
// spells its partial indexes, so that SQLite reads only those rows.
func plaintextDocsWhere(column string) string {
	var like []string
	for _, k := range sensitiveKeys {
		like = append(like, column+` LIKE '%"`+k+`"%'`)
	}
	return column + ` IS NOT NULL AND substr(` + column + `, 1, 7) <> '` + fieldPrefix + `'
		AND (` + strings.Join(like, " OR ") + `)`
}

// encryptDocs seals the plaintext documents of table.column (evidence
// values, timeline data) that hold a sensitive value, and says how many.
// SQL narrows them down by their keys' names; sensitiveDoc decides.
func (db *DB) encryptDocs(ctx context.Context, tx *sql.Tx, table, column string) (int, error) {
	rows, err := tx.QueryContext(ctx, `SELECT seq, `+column+` FROM `+table+` WHERE `+plaintextDocsWhere(column))
	if err != nil {
		return 0, fmt.Errorf("find plaintext %s: %w", table, err)
	}
	type doc struct {
		seq  int64
		text string
	}
	var docs []doc
	for rows.Next() {
		var d doc
		if err := rows.Scan(&d.seq, &d.text); err != nil {
			rows.Close()
			return 0, fmt.Errorf("find plaintext %s: %w", table, err)
		}
		docs = append(docs, d)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return 0, fmt.Errorf("find plaintext %s: %w", table, err)
	}
	n := 0
	for _, d := range docs {
		m, err := decodeObject(sql.NullString{String: d.text, Valid: true})
		if err != nil {
			return 0, fmt.Errorf("%s %d: decode %s: %w", table, d.seq, column, err)
		}
		if !sensitiveDoc(m) {
			continue // the name was in a value, not a key
		}
		sealedDoc, err := db.fields.seal(d.text, docAAD(table, column, d.seq))
		if err != nil {
			return 0, err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE `+table+` SET `+column+` = ? WHERE seq = ?`, sealedDoc, d.seq); err != nil {
			return 0, fmt.Errorf("encrypt %s %d: %w", table, d.seq, err)
		}
		n++
	}
	return n, nil
}

// encryptRuleStates seals the rules engine's states saved in plaintext, and
// says how many.
func (db *DB) encryptRuleStates(ctx context.Context, tx *sql.Tx) (int, error) {
	rows, err := tx.QueryContext(ctx, db.dialect.plaintextRuleStates)
	if err != nil {
		return 0, fmt.Errorf("find plaintext rule states: %w", err)
	}
	var states []rules.State
	for rows.Next() {
		var st rules.State
		if err := rows.Scan(&st.HouseholdID, &st.Data); err != nil {
			rows.Close()
			return 0, fmt.Errorf("find plaintext rule states: %w", err)
		}
		states = append(states, st)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return 0, fmt.Errorf("find plaintext rule states: %w", err)
	}
	for _, st := range states {
		data, err := db.fields.sealBlob(nil, st.Data, ruleStateAAD(st.HouseholdID))
		if err != nil {
			return 0, err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE rule_state SET data = ? WHERE household_id = ?`, data, st.HouseholdID); err != nil {
			return 0, fmt.Errorf("encrypt rule state of %s: %w", st.HouseholdID, err)
		}
	}
	return len(states), nil
}
