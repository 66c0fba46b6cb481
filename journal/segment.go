package journal

import (
	"bufio"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/eldersafe/eldersafe/shred"
)

// A segment file is named by the first seq it may hold, zero-padded so that
// lexical order is seq order. It begins with a header: the magic, that first
// seq (uint64 LE), a random salt, and a GCM tag over the three (with its
// nonce). Each segment is sealed with its own key, derived from the
// journal's key and the salt: with a random nonce for every block, a
// journal flushed a thousand times a second would otherwise pass the 2^32
// messages NIST allows one key in under two months. The tag tells a wrong
// key from a torn block before a single record is read.
//
// Then come blocks, one for each Flush: a uint32 LE length, then a random
// nonce and the GCM ciphertext of the block's records. A block's additional
// data is the magic, the segment's first seq and the block's index in the
// segment, so that blocks cannot be reordered or moved between segments.

// magic opens every segment; its last line is the format's version.
const magic = "eldersafe journal 1\n"

const (
	suffix    = ".journal"
	nameLen   = 20 + len(suffix)
	saltLen   = 16
	nonceLen  = 12
	tagLen    = 16
	lengthLen = 4
	headerLen = len(magic) + 8 + saltLen + nonceLen + tagLen
	// keyInfo is HKDF's context for a segment's key.
	keyInfo = "eldersafe journal segment"
)

// errTorn is a segment cut short or a block that does not open: what a
// power loss leaves.
var errTorn = errors.New("torn")

// segmentFile is a segment in the directory.
type segmentFile struct {
	first uint64
	path  string
}

// shred overwrites the segment's header, whose salt its key is derived
// from, and removes it; one already gone is no error.
func (s segmentFile) shred() error { return shred.File(s.path, shred.Header(headerLen)) }

func segmentPath(dir string, first uint64) string {
	return filepath.Join(dir, fmt.Sprintf("%020d%s", first, suffix))
}

// listSegments lists dir's segments in seq order, passing over other files.
func listSegments(dir string) ([]segmentFile, error) {
	entries, err := os.ReadDir(dir) // sorted by name: seq order
	if err != nil {
		return nil, fmt.Errorf("journal: list segments: %w", err)
	}
	var segments []segmentFile
	for _, e := range entries {
		name := e.Name()
		if len(name) != nameLen || !strings.HasSuffix(name, suffix) || !e.Type().IsRegular() {
			continue
		}
		first, err := strconv.ParseUint(name[:20], 10, 64)
		if err != nil || first == 0 {
			continue
		}
		segments = append(segments, segmentFile{first, filepath.Join(dir, name)})
	}
	return segments, nil
}

func segmentAEAD(key, salt []byte) (cipher.AEAD, error) {
	sub, err := hkdf.Key(sha256.New, key, salt, keyInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("journal: segment key: %w", err)
	}
	block, err := aes.NewCipher(sub)
	if err != nil {
		return nil, fmt.Errorf("journal: segment key: %w", err)
	}
	return cipher.NewGCM(block)
}

func blockAAD(b []byte, first, index uint64) []byte {
	b = append(b, magic...)
	b = binary.LittleEndian.AppendUint64(b, first)
	return binary.LittleEndian.AppendUint64(b, index)
}

// segmentWriter appends blocks to the segment being written.
type segmentWriter struct {
	f     *os.File
	first uint64
	aead  cipher.AEAD
	index uint64 // blocks written
	size  int64  // bytes written
	nonce [nonceLen]byte
	aad   []byte
	out   []byte
}

// createSegment creates the segment whose first seq is first and writes its
// header; on failure there is no file left behind.
func createSegment(dir string, key []byte, first uint64) (*segmentWriter, error) {
	header := make([]byte, len(magic)+8+saltLen, headerLen)
	copy(header, magic)
	binary.LittleEndian.PutUint64(header[len(magic):], first)
	salt := header[len(magic)+8:]
	rand.Read(salt) // never fails: it crashes the program instead
	aead, err := segmentAEAD(key, salt)
	if err != nil {
		return nil, err
	}
	w := &segmentWriter{first: first, aead: aead}
	rand.Read(w.nonce[:])
	header = append(header, w.nonce[:]...)
	header = aead.Seal(header, w.nonce[:], nil, header[:len(magic)+8+saltLen])

	path := segmentPath(dir, first)
	w.f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("journal: create segment: %w", err)
	}
	if _, err := w.f.Write(header); err != nil {
		w.abandon()
		return nil, fmt.Errorf("journal: write segment %s: %w", path, err)
	}
	w.size = int64(len(header))
	return w, nil
}

// write seals block and writes it with one system call.
func (w *segmentWriter) write(block []byte) error {
	rand.Read(w.nonce[:])
	w.aad = blockAAD(w.aad[:0], w.first, w.index)
	w.out = append(w.out[:0], make([]byte, lengthLen)...)
	w.out = append(w.out, w.nonce[:]...)
	w.out = w.aead.Seal(w.out, w.nonce[:], block, w.aad)
	sealed := len(w.out) - lengthLen
	if sealed > math.MaxUint32 {
		return fmt.Errorf("journal: block of %d bytes: too large for its length", sealed)
	}
	binary.LittleEndian.PutUint32(w.out, uint32(sealed))
	if _, err := w.f.Write(w.out); err != nil {
		return fmt.Errorf("journal: write segment %s: %w", w.f.Name(), err)
	}
	w.index++
	w.size += int64(len(w.out))
	return nil
}

// abandon closes a segment after a failed write: it may end in a torn
// block, so nothing is written after it. One holding no block is removed,
// so that the next segment, with the same first seq, can take its name.
func (w *segmentWriter) abandon() {
	// The write's error is the one reported: these can only add noise.
	w.f.Close()
	if w.index == 0 {
		os.Remove(w.f.Name())
	}
}

// segmentReader reads a segment's blocks.
type segmentReader struct {
	r     io.Reader
	left  int64 // bytes not read yet
	first uint64
	aead  cipher.AEAD
	index uint64
	aad   []byte
	buf   []byte
}

// readHeader reads and checks the header of seg, of size bytes, from r.
// A file shorter than a header is errTorn; a header that is not of this
// format, or does not authenticate (another key), is an error.
func readHeader(r io.Reader, size int64, seg segmentFile, key []byte) (*segmentReader, error) {
	if size < int64(headerLen) {
		return nil, errTorn
	}
	header := make([]byte, headerLen)
	if _, err := io.ReadFull(r, header); err != nil {
		return nil, fmt.Errorf("journal: read segment %s: %w", seg.path, err)
	}
	if string(header[:len(magic)]) != magic {
		return nil, fmt.Errorf("journal: segment %s: not a journal segment of this version", seg.path)
	}
	if first := binary.LittleEndian.Uint64(header[len(magic):]); first != seg.first {
		return nil, fmt.Errorf("journal: segment %s: its header says it begins at %d", seg.path, first)
	}
	signed := header[:len(magic)+8+saltLen]
	aead, err := segmentAEAD(key, signed[len(magic)+8:])
	if err != nil {
		return nil, err
	}
	nonce, tag := header[len(signed):len(signed)+nonceLen], header[len(signed)+nonceLen:]
	if _, err := aead.Open(nil, nonce, tag, signed); err != nil {
		return nil, fmt.Errorf("journal: segment %s: sealed with another key, or its header is corrupt", seg.path)
	}
	return &segmentReader{r: r, left: size - int64(headerLen), first: seg.first, aead: aead}, nil
}

// next returns the plaintext of the next block, valid until the next call:
// io.EOF at the end of the segment, errTorn for a block cut short or one
// that does not authenticate.
func (s *segmentReader) next() ([]byte, error) {
	if s.left == 0 {
		return nil, io.EOF
	}
	var n [lengthLen]byte
	if s.left < lengthLen {
		return nil, errTorn
	}
	if _, err := io.ReadFull(s.r, n[:]); err != nil {
		return nil, fmt.Errorf("journal: read segment: %w", err)
	}
	s.left -= lengthLen
	size := int64(binary.LittleEndian.Uint32(n[:]))
	if size < nonceLen+tagLen || size > s.left {
		return nil, errTorn
	}
	if int64(cap(s.buf)) < size {
		s.buf = make([]byte, size)
	}
	sealed := s.buf[:size]
	if _, err := io.ReadFull(s.r, sealed); err != nil {
		return nil, fmt.Errorf("journal: read segment: %w", err)
	}
	s.left -= size
	plain, err := openBlock(s.aead, sealed, s.first, s.index, &s.aad)
	s.index++
	return plain, err
}

// openBlock authenticates and decrypts a sealed block (nonce and
// ciphertext) in place; aad is scratch space.
func openBlock(aead cipher.AEAD, sealed []byte, first, index uint64, aad *[]byte) ([]byte, error) {
	*aad = blockAAD((*aad)[:0], first, index)
	nonce, body := sealed[:nonceLen], sealed[nonceLen:]
	plain, err := aead.Open(body[:0], nonce, body, *aad)
	if err != nil {
		return nil, errTorn
	}
	return plain, nil
}

// openSegment opens seg and reads its header, reading no further than
// limit bytes (all of it if limit < 0).
func openSegment(seg segmentFile, key []byte, limit int64) (*os.File, *segmentReader, error) {
	f, err := os.Open(seg.path)
	if err != nil {
		return nil, nil, fmt.Errorf("journal: %w", err)
	}
	size := limit
	if size < 0 {
		info, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("journal: %w", err)
		}
		size = info.Size()
	}
	r, err := readHeader(bufio.NewReaderSize(f, 64<<10), size, seg, key)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, r, nil
}

// highestSeq is the highest seq in seg's blocks that open, 0 if none does.
// It reads the blocks' lengths only, then blocks from the end until one
// opens: a restart reads the last segment once, in Replay, not twice. It
// takes the last block that opens even past one that does not, which Replay
// stops at: numbering above it is never wrong.
func highestSeq(seg segmentFile, key []byte) (uint64, error) {
	f, err := os.Open(seg.path)
	if err != nil {
		return 0, fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("journal: %w", err)
	}
	size := info.Size()
	r, err := readHeader(f, size, seg, key)
	if errors.Is(err, errTorn) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	type span struct{ off, length int64 }
	var blocks []span
	var n [lengthLen]byte
	for off := int64(headerLen); off+lengthLen <= size; {
		if _, err := f.ReadAt(n[:], off); err != nil {
			return 0, fmt.Errorf("journal: read segment %s: %w", seg.path, err)
		}
		length := int64(binary.LittleEndian.Uint32(n[:]))
		if length < nonceLen+tagLen || length > size-off-lengthLen {
			break
		}
		blocks = append(blocks, span{off + lengthLen, length})
		off += lengthLen + length
	}
	var records []record
	for index := len(blocks) - 1; index >= 0; index-- {
		sealed := make([]byte, blocks[index].length)
		if _, err := f.ReadAt(sealed, blocks[index].off); err != nil {
			return 0, fmt.Errorf("journal: read segment %s: %w", seg.path, err)
		}
		plain, err := openBlock(r.aead, sealed, seg.first, uint64(index), &r.aad)
		if err != nil {
			continue
		}
		if records, err = decodeBlock(plain, seg.first-1, records[:0]); err == nil {
			return records[len(records)-1].seq, nil
		}
	}
	return 0, nil
}
