// Package audit is the tamper-evident record of every read and change of
// personal data: who, what, when, from where and why. Each entry carries the
// hash of the one before it, so an entry altered, inserted or removed breaks
// the chain, and Verify names the first place it breaks.
package audit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Actions an entry records.
const (
	Read   = "read"
	Create = "create"
	Update = "update"
	Delete = "delete"
	Export = "export"
	Grant  = "grant"
	Revoke = "revoke"
	Login  = "login"
	// Refuse records a request refused to a known caller (docs/api.md, "Audit").
	Refuse = "refuse"
)

// Entry is one access to personal data.
type Entry struct {
	// Seq numbers entries from 1 without gaps; the store assigns it.
	Seq int64     `json:"seq"`
	At  time.Time `json:"at"`
	// Actor is the user id, or "admin" for the bootstrap token.
	Actor string `json:"actor"`
	Role  string `json:"role"`
	// Action is Read, Create, ...; Object what it touched, e.g. "household/h1".
	Action string `json:"action"`
	Object string `json:"object"`
	// Remote is where the request came from.
	Remote string `json:"remote"`
	// Reason is why: the request's route, or the purpose given for a grant.
	Reason string `json:"reason"`
	// Prev is the hash of the entry before (empty for the first); Hash is this
	// entry's, over Prev and every field above.
	Prev string `json:"prev_hash"`
	Hash string `json:"hash"`
}

// Seal sets e's Prev and Hash as the successor of prev (nil for the first).
// With a key the hash is an HMAC: whoever can write the database but does not
// hold the key cannot forge a chain that verifies.
func (e *Entry) Seal(prev *Entry, key []byte) {
	e.Prev = ""
	if prev != nil {
		e.Prev = prev.Hash
	}
	e.Hash = e.digest(key)
}

// digest hashes the entry's fields, each length-prefixed so no two different
// entries encode alike.
func (e *Entry) digest(key []byte) string {
	h := sha256.New()
	if len(key) > 0 {
		h = hmac.New(sha256.New, key)
	}
	var n [8]byte
	put := func(s string) {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	binary.BigEndian.PutUint64(n[:], uint64(e.Seq))
	h.Write(n[:])
	binary.BigEndian.PutUint64(n[:], uint64(e.At.UnixMilli()))
	h.Write(n[:])
	for _, s := range []string{e.Actor, e.Role, e.Action, e.Object, e.Remote, e.Reason, e.Prev} {
		put(s)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Head is the newest entry's position, kept apart from the log so that
// removing entries from its end is noticed too. Its MAC binds the two with
// the key, so the head cannot be moved back without it.
type Head struct {
	Seq  int64
	Hash string
	MAC  string
}

// Seal sets the head's MAC.
func (h *Head) Seal(key []byte) { h.MAC = h.mac(key) }

func (h *Head) mac(key []byte) string {
	m := hmac.New(sha256.New, key)
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(h.Seq))
	m.Write([]byte("audit head"))
	m.Write(n[:])
	m.Write([]byte(h.Hash))
	return hex.EncodeToString(m.Sum(nil))
}

// BrokenError says where the chain breaks and how.
type BrokenError struct {
	Seq    int64
	Reason string
}

func (e *BrokenError) Error() string {
	return fmt.Sprintf("audit log broken at entry %d: %s", e.Seq, e.Reason)
}

// ErrKeyMismatch is a log of which nothing verifies under the key it was
// checked with: neither its recorded end nor any entry. A log broken by
// tampering still has entries (or a head) sealed with the right key, so this
// says the key is not the one the log was written with; or, if it is, that
// the whole log was rewritten by someone without the key.
var ErrKeyMismatch = errors.New("the key does not match this audit log")

// Verifier checks entries one by one, in the order they were written, with
// the key they were sealed with, against the recorded head. Past the first
// break it only looks for an entry sealed with the key, so that Finish can
// tell a broken log from a wrong key.
type Verifier struct {
	key   []byte
	head  Head
	prev  *Entry
	count int64
	seen  int64
	// broken is the first break found.
	broken error
	// sealed: an entry verified under the key.
	sealed bool
}

// NewVerifier starts checking a log that should end at head.
func NewVerifier(key []byte, head Head) *Verifier {
	return &Verifier{key: key, head: head}
}

// Next checks the next entry against the one before it. It reports whether
// the entries after it still matter: not once the log is known broken under
// the right key.
func (v *Verifier) Next(e Entry) bool {
	v.seen++
	if v.broken == nil {
		if v.broken = v.next(e); v.broken == nil {
			v.sealed = true
			v.prev = &e
			v.count++
			return true
		}
	}
	v.sealed = v.sealed || e.sealedWith(v.key)
	return !v.sealed
}

func (v *Verifier) next(e Entry) error {
	want := int64(1)
	if v.prev != nil {
		want = v.prev.Seq + 1
	}
	switch {
	case e.Seq > v.head.Seq:
		return &BrokenError{Seq: e.Seq, Reason: fmt.Sprintf("inserted after the recorded end of the log (entry %d)", v.head.Seq)}
	case e.Seq > want:
		return &BrokenError{Seq: want, Reason: fmt.Sprintf("removed (the next entry present is %d)", e.Seq)}
	case e.Seq < want:
		return &BrokenError{Seq: e.Seq, Reason: "inserted (its number repeats an earlier one)"}
	}
	prevHash := ""
	if v.prev != nil {
		prevHash = v.prev.Hash
	}
	if e.Prev != prevHash {
		return &BrokenError{Seq: e.Seq, Reason: "inserted or reordered (it does not follow the entry before it)"}
	}
	if !e.sealedWith(v.key) {
		return &BrokenError{Seq: e.Seq, Reason: "altered (its content does not match its hash)"}
	}
	return nil
}

// sealedWith reports whether e's hash is its digest under key, whatever
// came before it.
func (e *Entry) sealedWith(key []byte) bool {
	return hmac.Equal([]byte(e.digest(key)), []byte(e.Hash))
}

// Finish checks that the log ends where the head says, and returns how many
// entries were verified. When neither the head nor any entry verifies under
// the key, the error is ErrKeyMismatch rather than the first break.
func (v *Verifier) Finish() (int64, error) {
	if v.broken == nil {
		v.broken = v.finish()
	}
	if v.broken == nil {
		return v.count, nil
	}
	if !v.sealed && !hmac.Equal([]byte(v.head.MAC), []byte(v.head.mac(v.key))) {
		return v.count, fmt.Errorf("%w: neither its recorded end nor any of its %d entries verifies with it", ErrKeyMismatch, v.seen)
	}
	return v.count, v.broken
}

func (v *Verifier) finish() error {
	last := Head{}
	if v.prev != nil {
		last = Head{Seq: v.prev.Seq, Hash: v.prev.Hash}
	}
	switch {
	case v.head.Seq == 0 && v.head.MAC == "" && last.Seq == 0:
		return nil // nothing was ever logged
	case !hmac.Equal([]byte(v.head.MAC), []byte(v.head.mac(v.key))):
		return &BrokenError{Seq: v.head.Seq + 1, Reason: fmt.Sprintf("the recorded end of the log was altered (it says entry %d): entries after it may have been removed", v.head.Seq)}
	case last.Seq < v.head.Seq:
		return &BrokenError{Seq: last.Seq + 1, Reason: fmt.Sprintf("removed (the log should end at entry %d)", v.head.Seq)}
	case last.Hash != v.head.Hash:
		return &BrokenError{Seq: last.Seq, Reason: "altered (the last entry is not the one recorded as the end)"}
	}
	return nil
}
