// Package snapshot keeps a copy of what a restart loads in bulk, the rules'
// saved states and the registered devices, in one encrypted file, so that
// a million households come back in seconds instead of being read row by
// row from the store (docs/performance.md, "Restart from a snapshot").
//
// A snapshot is written at a clean stop and records the store's two
// generations (counters that triggers move: one with every write of a rule
// state or a device, one with every write of a device). Its states are
// used only while the first is the same, so they are never older than the
// store's; its devices after a crash too, while the second is, or mended
// with those the store says were written since (the caller's part). With a
// journal of readings, it also records the last reading of the journal its
// states hold, and which states the store lacks, so that the stop need not
// write them. Every chunk is sealed with AES-256-GCM, its number, the header
// (generations and the journal's mark) and whether it is the last bound
// in: a corrupt, truncated, reordered or foreign file is an error, never a
// silent loss, and the caller falls back to the store.
//
// The chunks are sealed with a key of the snapshot's own, which its header
// holds sealed with the caller's: Shred overwrites the header, and with it
// the only copy of that key, so that an erased household's routine cannot
// be read back from the blocks the file leaves on disk, without rewriting
// the hundreds of megabytes a million households take.
package snapshot

import (
	"bufio"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"
	"unsafe"

	"golang.org/x/sync/errgroup"

	"github.com/eldersafe/eldersafe/binenc"
	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/shred"
)

// FileName is the snapshot's name in the data directory.
const FileName = "rules.snapshot"

// magic opens every snapshot; its last byte is the format's version.
// Version 3 added the journal's mark and each state's unwritten flag,
// version 4 the device generation, version 5 the snapshot's own key; an
// older snapshot is refused, and that start reads the store.
const magic = "ESSNAP\x00\x05"

// takenLen is the magic, the two generations and the journal's mark.
const takenLen = len(magic) + 24

// keyLen is the snapshot's own AES-256 key.
const keyLen = 32

// headerLen is what the snapshot was taken at, then its own key sealed
// with the caller's (a nonce, the key, GCM's tag) and bound to the rest.
const headerLen = takenLen + 12 + keyLen + 16

// chunkTarget is how much plaintext a chunk holds before it is sealed: small
// enough that workers share the work evenly, large enough that sealing
// costs nothing much per household.
const chunkTarget = 1 << 20

// maxChunk bounds what a corrupt length can make Read allocate.
const maxChunk = 64 << 20

// Generation is the store's two counters when a snapshot was taken: States
// moves with every write of a rule state or a device, Devices with every
// write of a device.
type Generation struct{ States, Devices uint64 }

// Taken is what a snapshot's header says of it.
type Taken struct {
	Generation
	// Journaled is the last record of a journal of readings its states
	// hold; zero: none.
	Journaled uint64
}

// Image is what a restart loads that its owner encodes itself (ingest's
// device cache, as it is in memory), in parts: the snapshot seals them as
// they are, after the households, and hands each back to Read's loadImage.
type Image interface {
	Parts() int
	AppendPart(b []byte, part int) []byte
}

// A chunk's plaintext begins with what it holds.
const (
	chunkHouseholds byte = iota
	chunkImage
)

// Write saves what households hands to its yield (each household's state
// with its devices), then image, as a snapshot taken as taken says to path,
// atomically: a file that is not complete is never there under path, and
// nothing is written when households returns an error. households is
// called once for each part from 0 to parts-1, from as many goroutines at
// once, and hands that part's households: encoding a million of them is
// most of the work, and a clean stop should not keep a supervisor waiting.
func Write(path string, key []byte, taken Taken, parts int, households func(part int, yield func(rules.State, []rules.SavedDevice)) error, image Image) (err error) {
	head, aead, err := newHeader(key, taken)
	if err != nil {
		return fmt.Errorf("write snapshot: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write snapshot: %w", err)
	}
	renamed := false
	defer func() {
		if err != nil && !renamed {
			tmp.Close()
			// Its own key is in its header, if that was written.
			err = errors.Join(err, shred.File(tmp.Name(), shred.Header(headerLen)))
		}
	}()
	// The snapshot this one replaces holds households that may have been
	// erased since: shredded once the rename has unlinked it.
	replaced, err := os.OpenFile(path, os.O_RDWR, 0)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("write snapshot: %w", err)
	default:
		defer replaced.Close()
	}
	w := &writer{out: bufio.NewWriterSize(tmp, 1<<20), aead: aead, header: head}
	_, w.err = w.out.Write(w.header)
	// Each part fills chunks of its own; this goroutine seals and writes
	// them in the order they come, holding the latest back until it knows
	// whether it is the last.
	plains := make(chan []byte, parts)
	// Chunk buffers go round between the parts and this goroutine:
	// allocating 300 of them for a million households cost more than
	// encoding them.
	free := make(chan []byte, 2*parts+2)
	buffer := func(kind byte) []byte {
		select {
		case b := <-free:
			return append(b[:0], kind)
		default:
			// Room for the household that takes a chunk past its target.
			return append(make([]byte, 0, chunkTarget+chunkTarget/4), kind)
		}
	}
	var g errgroup.Group
	for part := range max(parts, 1) {
		g.Go(func() error {
			plain := buffer(chunkHouseholds)
			err := households(part, func(st rules.State, devices []rules.SavedDevice) {
				plain = appendHousehold(plain, st, devices)
				if len(plain) >= chunkTarget {
					plains <- plain
					plain = buffer(chunkHouseholds)
				}
			})
			if len(plain) > 1 {
				plains <- plain
			}
			return err
		})
	}
	g.Go(func() error {
		for part := range image.Parts() {
			plains <- image.AppendPart(buffer(chunkImage), part)
		}
		return nil
	})
	go func() {
		// Every part has returned: nothing sends any more.
		g.Wait()
		close(plains)
	}()
	var held []byte
	for plain := range plains {
		if held != nil {
			w.seal(held, false)
			select {
			case free <- held:
			default:
			}
		}
		held = plain
	}
	w.seal(held, true)
	if err := g.Wait(); err != nil {
		return fmt.Errorf("write snapshot: %w", err)
	}
	if w.err == nil {
		w.err = w.out.Flush()
	}
	if w.err == nil {
		w.err = tmp.Sync()
	}
	if cerr := tmp.Close(); w.err == nil {
		w.err = cerr
	}
	if w.err == nil {
		w.err = os.Rename(tmp.Name(), path)
		renamed = w.err == nil
	}
	if w.err != nil {
		return fmt.Errorf("write snapshot: %w", w.err)
	}
	if err := shred.SyncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("write snapshot: %w", err)
	}
	if replaced != nil {
		n, err := keyed(replaced)
		if err == nil {
			err = shred.Overwrite(replaced, n)
		}
		if err != nil {
			return fmt.Errorf("%w: %w", ErrReplacedNotShredded, err)
		}
	}
	return shredLeftovers(path)
}

// ErrReplacedNotShredded is Write's error when the new snapshot is in
// place but the one it replaced, unlinked already, could not be
// overwritten: what it held may be read back from the disk.
var ErrReplacedNotShredded = errors.New("snapshot written, but the one it replaced is not shredded")

// shredLeftovers shreds the files of writes of the snapshot at path that
// a killed process left (a stop cut short, a power loss): each holds every
// household of its day.
func shredLeftovers(path string) error {
	if err := shred.Leftovers(filepath.Dir(path), keyed, filepath.Base(path)+".*.tmp"); err != nil {
		return fmt.Errorf("shred snapshot leftovers: %w", err)
	}
	return nil
}

// Shred makes the snapshot at path, if there is one, unreadable for good
// and removes it: its header, which holds the only copy of the key its
// chunks are sealed with, is overwritten on disk before the file goes.
// A snapshot of an older format, sealed with the caller's key itself, is
// overwritten whole. So are the files a killed write left beside it.
func Shred(path string) error {
	if err := shred.File(path, keyed); err != nil {
		return fmt.Errorf("shred snapshot: %w", err)
	}
	if err := shredLeftovers(path); err != nil {
		return err
	}
	if err := shred.SyncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("shred snapshot: %w", err)
	}
	return nil
}

// keyed is how much of the snapshot f must be overwritten for it to be
// unreadable: its header, which holds its own key, or all of it when it is
// of a format before 5 (or not a snapshot at all).
func keyed(f *os.File) (int64, error) {
	m := make([]byte, len(magic))
	if _, err := f.ReadAt(m, 0); err == nil && string(m) == magic {
		return int64(headerLen), nil
	}
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// ErrVersion is Open's error for a snapshot of another format: no version
// reads it, so it is the caller's to shred.
var ErrVersion = errors.New("not a snapshot of this version")

type writer struct {
	out    *bufio.Writer
	aead   cipher.AEAD
	header []byte
	index  uint32
	sealed []byte
	err    error
}

// newHeader is what a snapshot taken as taken begins with, and the AEAD
// of the fresh key its chunks are sealed with.
func newHeader(key []byte, taken Taken) ([]byte, cipher.AEAD, error) {
	wrap, err := newAEAD(key)
	if err != nil {
		return nil, nil, err
	}
	own := make([]byte, keyLen)
	nonce := make([]byte, wrap.NonceSize())
	if _, err := rand.Read(own); err != nil {
		return nil, nil, err
	}
	if _, err := rand.Read(nonce); err != nil {
		return nil, nil, err
	}
	head := append(make([]byte, 0, headerLen), magic...)
	head = binary.LittleEndian.AppendUint64(head, taken.States)
	head = binary.LittleEndian.AppendUint64(head, taken.Devices)
	head = binary.LittleEndian.AppendUint64(head, taken.Journaled)
	head = wrap.Seal(append(head, nonce...), nonce, own, slices.Clone(head[:takenLen]))
	aead, err := newAEAD(own)
	return head, aead, err
}

// readHeader authenticates head with key and returns what it says the
// snapshot was taken at and the AEAD of the snapshot's own key.
func readHeader(key, head []byte) (Taken, cipher.AEAD, error) {
	if string(head[:len(magic)]) != magic {
		return Taken{}, nil, ErrVersion
	}
	wrap, err := newAEAD(key)
	if err != nil {
		return Taken{}, nil, err
	}
	nonce := head[takenLen : takenLen+wrap.NonceSize()]
	own, err := wrap.Open(nil, nonce, head[takenLen+wrap.NonceSize():], head[:takenLen])
	if err != nil {
		return Taken{}, nil, errors.New("header does not authenticate: corrupt, shredded, or sealed with another key")
	}
	aead, err := newAEAD(own)
	if err != nil {
		return Taken{}, nil, err
	}
	return Taken{Generation{
		States:  binary.LittleEndian.Uint64(head[len(magic):]),
		Devices: binary.LittleEndian.Uint64(head[len(magic)+8:]),
	}, binary.LittleEndian.Uint64(head[len(magic)+16:])}, aead, nil
}

// seal writes plain as one chunk: its length (the top bit set on the last
// chunk), then a random nonce and the ciphertext.
func (w *writer) seal(plain []byte, final bool) {
	if w.err != nil {
		return
	}
	nonce := make([]byte, w.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		w.err = err
		return
	}
	w.sealed = append(w.sealed[:0], nonce...)
	w.sealed = w.aead.Seal(w.sealed, nonce, plain, aad(w.header, w.index, final))
	var n [4]byte
	binary.LittleEndian.PutUint32(n[:], uint32(len(w.sealed))|finalBit(final))
	if _, w.err = w.out.Write(n[:]); w.err == nil {
		_, w.err = w.out.Write(w.sealed)
	}
	w.index++
}

// aad binds a chunk to its place in its snapshot, and to the snapshot's
// header: a flipped journal's mark would skip readings at the next start.
func aad(header []byte, index uint32, final bool) []byte {
	b := binary.LittleEndian.AppendUint32(slices.Clip(header), index)
	if final {
		return append(b, 1)
	}
	return append(b, 0)
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("snapshot key: %w", err)
	}
	return cipher.NewGCM(block)
}

// File is a snapshot open for reading, its header read.
type File struct {
	f       *os.File
	r       *bufio.Reader
	aead    cipher.AEAD
	head    []byte
	taken   Taken
	workers int
}

// Open opens the snapshot at path and reads its header, for Read to hand
// its households over from workers goroutines at once. A missing file is
// os.ErrNotExist; one of another version, sealed with another key or
// shredded an error too.
func Open(path string, key []byte, workers int) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read snapshot: %w", err)
	}
	// Chunks of about a megabyte are read past the buffer, straight into
	// their own slice, rather than copied out of it.
	r := bufio.NewReaderSize(f, 64<<10)
	head := make([]byte, headerLen)
	if _, err := io.ReadFull(r, head); err != nil {
		f.Close()
		return nil, fmt.Errorf("read snapshot header: %w", err)
	}
	taken, aead, err := readHeader(key, head)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("read snapshot: %w", err)
	}
	return &File{f: f, r: r, aead: aead, head: head, taken: taken, workers: max(workers, 1)}, nil
}

// Taken is what the snapshot's header says of it, authenticated by Open.
func (f *File) Taken() Taken { return f.taken }

// Close closes the file.
func (f *File) Close() error { return f.f.Close() }

// Read hands every household of the snapshot (its state and its devices, in
// slices restore must not keep) to restore, and every part of its image to
// loadImage (a slice not to keep either), from the file's workers at once.
// A corrupt or truncated snapshot is an error that may come after some
// chunks were handed over: the caller must then load everything from the
// store again, over what was restored. Read reads the file once.
func (f *File) Read(ctx context.Context, restore func(rules.State, []rules.SavedDevice) error, loadImage func([]byte) error) error {
	r, aead, head, workers := f.r, f.aead, f.head, f.workers
	g, ctx := errgroup.WithContext(ctx)
	type chunk struct {
		index  uint32
		final  bool
		sealed []byte
	}
	chunks := make(chan chunk, workers)
	// Chunks are read into buffers that have been decoded, not fresh ones:
	// the kernel's copy of 300 MB into fresh pages, a fault each, was
	// nearly a CPU-second of a restart at 1,000,000 households.
	free := make(chan []byte, 2*workers+1)
	g.Go(func() error {
		defer close(chunks)
		for index := uint32(0); ; index++ {
			var buf []byte
			select {
			case buf = <-free:
			default:
			}
			sealed, final, err := readChunk(r, buf)
			if errors.Is(err, io.EOF) {
				// The last chunk says it is the last: ending before it is
				// a truncated file.
				return errors.New("truncated: no final chunk")
			}
			if err != nil {
				return err
			}
			select {
			case chunks <- chunk{index, final, sealed}:
			case <-ctx.Done():
				return ctx.Err()
			}
			if final {
				if _, err := r.ReadByte(); !errors.Is(err, io.EOF) {
					return errors.New("bytes after the final chunk")
				}
				return nil
			}
		}
	})
	for range max(workers, 1) {
		g.Go(func() error {
			for c := range chunks {
				plain, err := open(aead, c.sealed, aad(head, c.index, c.final))
				if err != nil {
					return fmt.Errorf("chunk %d: %w", c.index, err)
				}
				if err := decodeChunk(plain, restore, loadImage); err != nil {
					return fmt.Errorf("chunk %d: %w", c.index, err)
				}
				select {
				case free <- c.sealed:
				default:
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("read snapshot: %w", err)
	}
	return nil
}

// finalBit marks the last chunk in the top bit of its length. It is bound
// into the chunk's additional data too, so flipping it fails to
// authenticate.
func finalBit(final bool) uint32 {
	if final {
		return 1 << 31
	}
	return 0
}

// readChunk reads the next chunk, into buf if it is large enough.
func readChunk(r *bufio.Reader, buf []byte) (sealed []byte, final bool, err error) {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, false, errors.New("truncated chunk length")
		}
		return nil, false, err
	}
	size := binary.LittleEndian.Uint32(n[:])
	final, size = size&finalBit(true) != 0, size&^finalBit(true)
	if size > maxChunk {
		return nil, false, fmt.Errorf("chunk of %d bytes: corrupt", size)
	}
	if int(size) <= cap(buf) {
		sealed = buf[:size]
	} else {
		sealed = make([]byte, size)
	}
	if _, err := io.ReadFull(r, sealed); err != nil {
		return nil, false, fmt.Errorf("truncated chunk: %w", err)
	}
	return sealed, final, nil
}

// open authenticates and decrypts a chunk in place.
func open(aead cipher.AEAD, sealed, ad []byte) ([]byte, error) {
	if len(sealed) < aead.NonceSize() {
		return nil, errors.New("shorter than its nonce")
	}
	nonce, body := sealed[:aead.NonceSize()], sealed[aead.NonceSize():]
	plain, err := aead.Open(body[:0], nonce, body, ad)
	if err != nil {
		return nil, errors.New("does not authenticate: corrupt, or sealed with another key")
	}
	return plain, nil
}

// A household in a chunk: its id, its state (possibly empty), whether the
// store lacks that state (a byte, 1 if so), then its devices, each: id, kind (its index in registry.DeviceKinds, plus one),
// expected interval in minutes. Strings are a uvarint length and the
// bytes. What else ingest knows of a device is in the image.

func appendHousehold(b []byte, st rules.State, devices []rules.SavedDevice) []byte {
	b = binenc.AppendString(b, st.HouseholdID)
	b = binenc.AppendBytes(b, st.Data)
	b = binenc.AppendBool(b, st.Unwritten)
	b = binary.AppendUvarint(b, uint64(len(devices)))
	for _, d := range devices {
		b = binenc.AppendString(b, d.ID)
		b = append(b, kindByte(d.Kind))
		b = binary.AppendUvarint(b, uint64(d.Every/time.Minute))
	}
	return b
}

func kindByte(k registry.DeviceKind) byte {
	for i, known := range registry.DeviceKinds {
		if k == known {
			return byte(i + 1)
		}
	}
	return 0
}

// decodeChunk hands each household of a chunk to restore, its state's data
// pointing into plain and its devices in a slice reused for the next one,
// or the chunk's part of the image to loadImage.
func decodeChunk(plain []byte, restore func(rules.State, []rules.SavedDevice) error, loadImage func([]byte) error) error {
	if len(plain) == 0 {
		return errors.New("empty chunk")
	}
	switch plain[0] {
	case chunkHouseholds:
	case chunkImage:
		return loadImage(plain[1:])
	default:
		return fmt.Errorf("chunk of unknown kind %d", plain[0])
	}
	d := decoder{Decoder: binenc.NewDecoder(plain[1:])}
	var devices []rules.SavedDevice
	for d.Len() > 0 {
		st := rules.State{HouseholdID: d.string(), Data: d.Bytes(maxChunk), Unwritten: d.Bool()}
		devices = devices[:0]
		n := d.Uvarint(uint64(d.Len())) // each device takes a byte at least
		for range n {
			dev := rules.SavedDevice{ID: d.string(), Kind: d.kind()}
			dev.Every = time.Duration(d.Uvarint(uint64(math.MaxInt64/time.Minute))) * time.Minute
			devices = append(devices, dev)
		}
		if d.Err() != nil {
			return fmt.Errorf("household: %w", d.Err())
		}
		if err := restore(st, devices); err != nil {
			return err
		}
	}
	return nil
}

// decoder reads a chunk: binenc's fields, its devices' kinds, and strings
// kept together.
type decoder struct {
	binenc.Decoder
	// text is where the chunk's strings are copied to, in blocks of
	// textBlock bytes: a restart keeps the six million ids of a million
	// households, and an allocation each made them as many objects for
	// the collector to find at every cycle.
	text []byte
}

const textBlock = 16 << 10

// string is the next string, over the decoder's text: its bytes are
// appended there and never written again.
func (d *decoder) string() string {
	v := d.Bytes(maxChunk)
	if len(v) == 0 {
		return ""
	}
	if len(v) > cap(d.text)-len(d.text) {
		d.text = make([]byte, 0, max(textBlock, len(v)))
	}
	d.text = append(d.text, v...)
	return unsafe.String(&d.text[len(d.text)-len(v)], len(v))
}

func (d *decoder) kind() registry.DeviceKind {
	k := int(d.Byte())
	if d.Err() != nil {
		return ""
	}
	if k == 0 || k > len(registry.DeviceKinds) {
		d.Fail("kind")
		return ""
	}
	return registry.DeviceKinds[k-1]
}
