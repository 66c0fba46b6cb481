package snapshot

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/testkit"
)

var testKey = bytes.Repeat([]byte{7}, 32)

type saved struct {
	state   rules.State
	devices []rules.SavedDevice
}

// households makes n households: most with a state and five devices, some
// without a state, one with a device expected every 90 minutes.
func households(n int) []saved {
	out := make([]saved, n)
	for i := range out {
		id := fmt.Sprintf("h%d", i)
		s := saved{state: rules.State{HouseholdID: id, Unwritten: i%3 == 1}}
		if i%7 != 0 {
			s.state.Data = bytes.Repeat([]byte{byte(i)}, 40+i%300)
		}
		for j, k := range registry.DeviceKinds[:5] {
			s.devices = append(s.devices, rules.SavedDevice{ID: fmt.Sprintf("%s-d%d", id, j), Kind: k})
		}
		if i == 3 {
			s.devices[0].Every = 90 * time.Minute
		}
		out[i] = s
	}
	return out
}

// testParts is how many goroutines write a test's snapshots: more than
// one, so that chunks of several parts interleave.
const testParts = 3

// seq hands hs to Write, split into testParts parts.
func seq(hs []saved) func(int, func(rules.State, []rules.SavedDevice)) error {
	return func(part int, yield func(rules.State, []rules.SavedDevice)) error {
		for i := part; i < len(hs); i += testParts {
			yield(hs[i].state, hs[i].devices)
		}
		return nil
	}
}

// image is an Image of parts as they are.
type image [][]byte

func (im image) Parts() int                           { return len(im) }
func (im image) AppendPart(b []byte, part int) []byte { return append(b, im[part]...) }

// testImage is the image of a test's snapshots: several parts, one of them
// empty, one past a chunk's target.
var testImage = image{[]byte("devices 0"), nil, bytes.Repeat([]byte("devices 2 "), chunkTarget/5), []byte("devices 3")}

// readAll reads a snapshot back into households, ordered by id, checking
// that the image comes back too, and returns what its header says.
func readAll(t *testing.T, path string) ([]saved, Taken, error) {
	t.Helper()
	var (
		mu    sync.Mutex
		out   = map[string]*saved{}
		parts image
	)
	f, err := Open(path, testKey, 2)
	if err != nil {
		return nil, Taken{}, err
	}
	defer f.Close()
	err = f.Read(context.Background(), func(st rules.State, devices []rules.SavedDevice) error {
		mu.Lock()
		defer mu.Unlock()
		if len(st.Data) == 0 {
			st.Data = nil
		}
		out[st.HouseholdID] = &saved{state: rules.State{HouseholdID: st.HouseholdID, Data: bytes.Clone(st.Data), Unwritten: st.Unwritten}, devices: slices.Clone(devices)}
		return nil
	}, func(part []byte) error {
		mu.Lock()
		defer mu.Unlock()
		parts = append(parts, bytes.Clone(part))
		return nil
	})
	if err == nil {
		want := slices.Clone(testImage)
		for _, ps := range []image{parts, want} {
			for i := range ps {
				if len(ps[i]) == 0 {
					ps[i] = nil
				}
			}
			slices.SortFunc(ps, bytes.Compare)
		}
		if !slices.EqualFunc(parts, want, bytes.Equal) {
			t.Fatalf("image parts back: %d, %q…; want %d", len(parts), parts, len(want))
		}
	}
	ids := make([]string, 0, len(out))
	for id := range out {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var list []saved
	for _, id := range ids {
		list = append(list, *out[id])
	}
	return list, f.Taken(), err
}

func sortedByID(hs []saved) []saved {
	out := slices.Clone(hs)
	slices.SortFunc(out, func(a, b saved) int {
		if a.state.HouseholdID < b.state.HouseholdID {
			return -1
		}
		if a.state.HouseholdID > b.state.HouseholdID {
			return 1
		}
		return 0
	})
	return out
}

func equal(t *testing.T, got, want []saved) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d households back, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.state.HouseholdID != w.state.HouseholdID || !bytes.Equal(g.state.Data, w.state.Data) || g.state.Unwritten != w.state.Unwritten || !slices.Equal(g.devices, w.devices) {
			t.Fatalf("household %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 30_000} { // 30,000: several chunks
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), FileName)
			hs := households(n)
			taken := Taken{Generation{States: 42, Devices: uint64(7 + n)}, uint64(1_000_000 + n)}
			if err := Write(path, testKey, taken, testParts, seq(hs), testImage); err != nil {
				t.Fatal(err)
			}
			got, back, err := readAll(t, path)
			if err != nil {
				t.Fatal(err)
			}
			equal(t, got, sortedByID(hs))
			if back != taken {
				t.Errorf("header %+v back, want %+v", back, taken)
			}
		})
	}
}

func TestRefused(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	good := written(t, path, Taken{Generation: Generation{42, 7}}, 30_000)
	t.Run("Missing", func(t *testing.T) {
		if _, _, err := readAll(t, filepath.Join(dir, "none")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("err = %v, want os.ErrNotExist", err)
		}
	})
	t.Run("WrongKey", func(t *testing.T) {
		if f, err := Open(path, bytes.Repeat([]byte{8}, 32), 2); err == nil {
			f.Close()
			t.Fatal("opened with another key")
		}
	})
	for name, broken := range map[string][]byte{
		"Truncated":         good[:len(good)-100],
		"CutAtChunk":        good[:headerLen+4+int(le32(good[headerLen:])&^finalBit(true))],
		"FlippedByte":       flip(good, len(good)/2),
		"FlippedGeneration": flip(good, len(magic)),
		"FlippedDevices":    flip(good, len(magic)+8),
		"FlippedJournaled":  flip(good, len(magic)+16),
		"FlippedOwnKey":     flip(good, takenLen+12),
		// What a shredded snapshot leaves on disk.
		"Shredded":     append(make([]byte, headerLen), good[headerLen:]...),
		"OlderVersion": append([]byte("ESSNAP\x00\x04"), good[len(magic):]...),
		"Trailing":     append(slices.Clone(good), 0),
		"NotFinal":     flip(good, lastLength(good)+3),
	} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, name)
			if err := os.WriteFile(p, broken, 0o600); err != nil {
				t.Fatal(err)
			}
			if _, _, err := readAll(t, p); err == nil {
				t.Fatal("a broken snapshot read without error")
			}
		})
	}
}

// written writes a snapshot of n households taken as taken to path, and
// returns its bytes.
func written(tb testing.TB, path string, taken Taken, n int) []byte {
	tb.Helper()
	if err := Write(path, testKey, taken, testParts, seq(households(n)), testImage); err != nil {
		tb.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// takenAt is a snapshot taken at generation n of both kinds.
func takenAt(n uint64) Taken { return Taken{Generation: Generation{States: n, Devices: n}} }

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

func flip(b []byte, at int) []byte {
	out := slices.Clone(b)
	out[at] ^= 0x80
	return out
}

// lastLength is the offset of the final chunk's length.
func lastLength(b []byte) int {
	at := headerLen
	for {
		n := le32(b[at:])
		if n&finalBit(true) != 0 {
			return at
		}
		at += 4 + int(n)
	}
}

func TestWriteReplacesAtomically(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	if err := Write(path, testKey, takenAt(1), testParts, seq(households(10)), testImage); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, testKey, takenAt(2), testParts, seq(households(20)), testImage); err != nil {
		t.Fatal(err)
	}
	got, taken, err := readAll(t, path)
	if err != nil || len(got) != 20 || taken != takenAt(2) {
		t.Fatalf("%d households of %+v, err %v; want 20 of %+v", len(got), taken, err, takenAt(2))
	}
	all := seq(households(30_000))
	failing := func(part int, yield func(rules.State, []rules.SavedDevice)) error {
		all(part, yield)
		if part == 1 {
			return errors.New("a device lookup failed")
		}
		return nil
	}
	if err := Write(path, testKey, takenAt(3), testParts, failing, testImage); err == nil {
		t.Fatal("a failed snapshot written")
	}
	if _, taken, err := readAll(t, path); err != nil || taken != takenAt(2) {
		t.Fatalf("the snapshot before a failed one: %+v, %v", taken, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("files left in the data directory: %v", entries)
	}
}

// TestShred: a shredded snapshot is gone, and what it leaves on disk
// cannot be read with the key any more: the key its chunks are sealed with
// was only in the header it overwrote. Shredding none is no error.
func TestShred(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	good := written(t, path, Taken{Generation: Generation{3, 2}}, 1000)
	// Not even with the header as it was: the chunks are not sealed with
	// the caller's key, which is still on disk.
	n := le32(good[headerLen:])
	chunk := good[headerLen+4 : headerLen+4+int(n&^finalBit(true))]
	caller, err := newAEAD(testKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := open(caller, bytes.Clone(chunk), aad(good[:headerLen], 0, n&finalBit(true) != 0)); err == nil {
		t.Fatal("a chunk opens with the caller's key")
	}
	left := testkit.LeftOnDisk(t, path, func() error { return Shred(path) })
	if !bytes.Equal(left[:headerLen], make([]byte, headerLen)) {
		t.Fatalf("the header is left on disk: % x", left[:headerLen])
	}
	p := filepath.Join(dir, "left")
	if err := os.WriteFile(p, left, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := readAll(t, p); err == nil {
		t.Fatal("what a shredded snapshot left was read")
	}
	if err := Shred(path); err != nil {
		t.Fatalf("shredding no snapshot: %v", err)
	}
}

// FuzzDecodeChunk: whatever a chunk holds, decoding it never panics, and
// what decodes encodes to bytes that decode to the same households.
func FuzzDecodeChunk(f *testing.F) {
	plain := []byte{chunkHouseholds}
	for _, h := range households(8) {
		plain = appendHousehold(plain, h.state, h.devices)
	}
	f.Add(plain)
	f.Add([]byte{})
	f.Add([]byte{chunkHouseholds, 1, 'h', 0, 1, 1, 'd', 1, 0})
	f.Add([]byte{chunkImage, 1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		var first, again []saved
		collect := func(into *[]saved) func(rules.State, []rules.SavedDevice) error {
			return func(st rules.State, devices []rules.SavedDevice) error {
				*into = append(*into, saved{state: st, devices: slices.Clone(devices)})
				return nil
			}
		}
		var part []byte
		loadImage := func(p []byte) error { part = p; return nil }
		if err := decodeChunk(b, collect(&first), loadImage); err != nil {
			return
		}
		if b[0] == chunkImage {
			if !bytes.Equal(part, b[1:]) || len(first) > 0 {
				t.Fatalf("image chunk %x handed %x and %d households", b, part, len(first))
			}
			return
		}
		plain := []byte{chunkHouseholds}
		for _, h := range first {
			plain = appendHousehold(plain, h.state, h.devices)
		}
		if err := decodeChunk(plain, collect(&again), loadImage); err != nil {
			t.Fatalf("re-encoded chunk does not decode: %v", err)
		}
		if !slices.EqualFunc(first, again, func(a, b saved) bool {
			return a.state.HouseholdID == b.state.HouseholdID && bytes.Equal(a.state.Data, b.state.Data) && slices.Equal(a.devices, b.devices)
		}) {
			t.Fatalf("decoded %x to %+v, then %+v", b, first, again)
		}
	})
}

// FuzzRead: a snapshot file's bytes, however damaged, are read or refused,
// never a panic; what is read is what was written.
func FuzzRead(f *testing.F) {
	dir := f.TempDir()
	path := filepath.Join(dir, FileName)
	hs := households(5)
	taken := Taken{Generation{9, 4}, 3}
	good := written(f, path, taken, len(hs))
	f.Add(good)
	f.Add(good[:headerLen])
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(t.TempDir(), FileName)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		got, back, err := readAll(t, p)
		if err == nil {
			equal(t, got, sortedByID(hs))
			if back != taken {
				t.Fatalf("header %+v read, want %+v", back, taken)
			}
		}
	})
}

// BenchmarkDecodeChunk is a restart's decoding of a snapshot, per household.
func BenchmarkDecodeChunk(b *testing.B) {
	hs := households(1000)
	plain := []byte{chunkHouseholds}
	for _, h := range hs {
		plain = appendHousehold(plain, h.state, h.devices)
	}
	restore := func(rules.State, []rules.SavedDevice) error { return nil }
	b.ReportAllocs()
	for b.Loop() {
		if err := decodeChunk(plain, restore, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(hs)), "ns/household")
}

// TestWriteShredsTheReplaced: the snapshot a new one replaces (it may hold
// households erased since) is unreadable where its blocks are.
func TestWriteShredsTheReplaced(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	written(t, path, takenAt(1), 50)
	left := testkit.LeftOnDisk(t, path, func() error {
		if err := Write(path, testKey, takenAt(2), testParts, seq(households(10)), testImage); err != nil {
			return err
		}
		// The new one is there under the name: the old one's name is what is gone.
		return os.Rename(path, path+".new")
	})
	if !bytes.Equal(left[:headerLen], make([]byte, headerLen)) {
		t.Fatalf("the replaced snapshot's header is left on disk: % x", left[:headerLen])
	}
	if got, taken, err := readAll(t, path+".new"); err != nil || len(got) != 10 || taken != takenAt(2) {
		t.Fatalf("the new snapshot: %d households of %+v, %v", len(got), taken, err)
	}
}

// TestShredOlderFormat: a snapshot of format 4, its chunks sealed with the
// caller's key itself, is overwritten whole; Open tells its version.
func TestShredOlderFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	header4 := append([]byte("ESSNAP\x00\x04"), make([]byte, 24)...)
	caller, err := newAEAD(testKey)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	w := &writer{out: bufio.NewWriter(&b), aead: caller, header: header4}
	w.out.Write(header4)
	w.seal(bytes.Repeat([]byte("a household's routine "), 100), true)
	if err := errors.Join(w.err, w.out.Flush(), os.WriteFile(path, b.Bytes(), 0o600)); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, testKey, 2); !errors.Is(err, ErrVersion) {
		t.Fatalf("Open of format 4: %v, want ErrVersion", err)
	}
	left := testkit.LeftOnDisk(t, path, func() error { return Shred(path) })
	if !bytes.Equal(left, make([]byte, b.Len())) {
		t.Fatalf("%d of %d bytes of a format 4 snapshot left on disk", len(bytes.Trim(left, "\x00")), b.Len())
	}
}

// TestFailedWriteShredded: the file of a snapshot whose households failed
// halfway, its chunks sealed already, is left unreadable where its blocks
// are.
func TestFailedWriteShredded(t *testing.T) {
	dir := t.TempDir()
	var tmp *os.File
	failing := func(part int, yield func(rules.State, []rules.SavedDevice)) error {
		if part != 0 {
			return nil
		}
		for _, h := range households(3000) {
			yield(h.state, h.devices) // more than a chunk: some are sealed and written
		}
		entries, err := os.ReadDir(dir)
		if err != nil || len(entries) != 1 {
			return fmt.Errorf("the file being written: %v, %v", entries, err)
		}
		if tmp, err = os.Open(filepath.Join(dir, entries[0].Name())); err != nil {
			return err
		}
		return errors.New("a device lookup failed")
	}
	if err := Write(filepath.Join(dir, FileName), testKey, Taken{}, testParts, failing, testImage); err == nil || tmp == nil {
		t.Fatalf("Write: %v, the file being written opened: %v", err, tmp != nil)
	}
	defer tmp.Close()
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("files left: %v", entries)
	}
	left, err := io.ReadAll(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) < headerLen || !bytes.Equal(left[:headerLen], make([]byte, headerLen)) {
		t.Fatalf("a failed snapshot's header is left on disk (%d bytes written)", len(left))
	}
}

// TestShredLeftovers: the file of a write a killed process left beside the
// snapshot holds every household of its day: a shredding takes it too,
// and so does the next write.
func TestShredLeftovers(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	leftover := func(name string) string {
		p := filepath.Join(dir, name)
		if err := Write(p, testKey, Taken{}, testParts, seq(households(10)), testImage); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(p, path+"."+name+".tmp"); err != nil {
			t.Fatal(err)
		}
		return path + "." + name + ".tmp"
	}
	for _, c := range []struct {
		name      string
		shredding func() error
	}{
		{"Shred", func() error { return Shred(path) }},
		{"Write", func() error { return Write(path, testKey, Taken{}, testParts, seq(households(5)), testImage) }},
	} {
		left := testkit.LeftOnDisk(t, leftover(c.name), c.shredding)
		if !bytes.Equal(left[:headerLen], make([]byte, headerLen)) {
			t.Errorf("%s: a killed write's file left readable on disk", c.name)
		}
	}
	if got, _, err := readAll(t, path); err != nil || len(got) != 5 {
		t.Fatalf("the snapshot written beside the leftovers: %d households, %v", len(got), err)
	}
}
