package bufconn

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/eldersafe/eldersafe/testkit"
)

// gatedConn hands each Write over on writes, then holds it until gate lets
// it through to the pipe: the test sees what the wrapper wrote, and when.
type gatedConn struct {
	net.Conn
	writes chan []byte
	gate   chan struct{}
}

func (g *gatedConn) Write(p []byte) (int, error) {
	g.writes <- bytes.Clone(p)
	<-g.gate
	return g.Conn.Write(p)
}

func pipe(t *testing.T) (client *Conn, gated *gatedConn, server net.Conn) {
	t.Helper()
	c, s := net.Pipe()
	gated = &gatedConn{Conn: c, writes: make(chan []byte, 16), gate: make(chan struct{})}
	client = Wrap(gated)
	t.Cleanup(func() {
		s.Close()
		client.Close()
	})
	return client, gated, s
}

func mustWrite(t *testing.T, c net.Conn, s string) {
	t.Helper()
	if n, err := c.Write([]byte(s)); err != nil || n != len(s) {
		t.Fatalf("Write(%q) = %d, %v", s, n, err)
	}
}

func TestConn_WritesQueuedMeanwhileGoTogether(t *testing.T) {
	c, gated, server := pipe(t)
	received := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(server)
		received <- b
	}()

	mustWrite(t, c, "first")
	if got := string(<-gated.writes); got != "first" {
		t.Fatalf("first write %q, want first", got)
	}
	// The first is held on its way to the socket: these queue behind it.
	mustWrite(t, c, "second,")
	mustWrite(t, c, "third")
	gated.gate <- struct{}{}
	if got := string(<-gated.writes); got != "second,third" {
		t.Fatalf("second write %q, want the two queued meanwhile in one", got)
	}
	close(gated.gate)
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := string(<-received); got != "firstsecond,third" {
		t.Fatalf("the peer read %q", got)
	}
}

func TestConn_CloseGivesWhatIsPending(t *testing.T) {
	c, gated, server := pipe(t)
	close(gated.gate)
	received := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(server)
		received <- b
	}()
	mustWrite(t, c, "ack;")
	mustWrite(t, c, "disconnect")
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := string(<-received); got != "ack;disconnect" {
		t.Fatalf("the peer read %q before the close", got)
	}
	if _, err := c.Write([]byte("late")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after Close: %v, want net.ErrClosed", err)
	}
}

func TestConn_WriteErrorIsReturned(t *testing.T) {
	c, gated, server := pipe(t)
	close(gated.gate)
	server.Close()
	mustWrite(t, c, "lost") // queued: the socket's error comes later
	if err := c.Close(); !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("Close after a failed write: %v, want the write's error", err)
	}
	if _, err := c.Write([]byte("more")); err == nil {
		t.Fatal("Write after a failed write succeeded")
	}
}

// TestConn_Stream sends packets both ways over loopback TCP, more than
// the writer holds at once, and reads them as paho does: a byte, a byte,
// then the rest.
func TestConn_Stream(t *testing.T) {
	raw, echo := testkit.TCPPair(t)
	const packets = 20_000
	packet := func(i int) []byte {
		body := fmt.Sprintf("packet %d of the stream", i)
		return append([]byte{0x30, byte(len(body))}, body...)
	}
	serverErr := make(chan error, 1)
	go func() {
		// Echo: whatever arrives goes back.
		_, err := io.Copy(echo, echo)
		serverErr <- err
	}()
	c := Wrap(raw)
	writeErr := make(chan error, 1)
	go func() {
		for i := range packets {
			if _, err := c.Write(packet(i)); err != nil {
				writeErr <- err
				return
			}
		}
		writeErr <- nil
	}()
	for i := range packets {
		head := make([]byte, 2)
		if _, err := io.ReadFull(c, head[:1]); err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		if _, err := io.ReadFull(c, head[1:]); err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		body := make([]byte, head[1])
		if _, err := io.ReadFull(c, body); err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		if got := append(head, body...); !bytes.Equal(got, packet(i)) {
			t.Fatalf("packet %d read back as %q, want %q", i, got, packet(i))
		}
	}
	if err := <-writeErr; err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-serverErr; err != nil {
		t.Fatalf("echo: %v", err)
	}
}
