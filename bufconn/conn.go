// Package bufconn wraps a network connection so that a stream of small
// packets costs fewer system calls: reads go through a buffer, and writes
// made while an earlier one is on its way to the socket go out together in
// one.
//
// It is for paho's MQTT connections (Open), which read each packet's first
// byte, its length and its body with a system call each, and write each
// packet with one: three reads and a write a message, on both sides of a
// loopback, where the kernel's work per call costs more than the message's.
package bufconn

import (
	"bufio"
	"net"
	"runtime"
	"sync"
	"time"
)

const (
	// readSize is the read buffer: many packets of a few hundred bytes.
	readSize = 32 << 10
	// pendingMax bounds what Write holds for the socket; past it Write
	// waits, as it would for a full socket buffer.
	pendingMax = 64 << 10
	// closeFlush is how long Close waits for the socket to take what is
	// pending (a DISCONNECT, the last acknowledgements).
	closeFlush = 2 * time.Second
	// gatherBelow: a write of less than this waits one turn of the
	// scheduler for more.
	gatherBelow = 4 << 10
)

// Conn is a net.Conn that reads through a buffer and coalesces writes. A
// Write returns once its bytes are queued; they reach the socket in order,
// and an error writing them is returned by the next Write and by Close.
type Conn struct {
	net.Conn
	r *bufio.Reader

	mu      sync.Mutex
	changed sync.Cond // pending, err or closing changed
	pending []byte    // queued, not yet handed to the socket
	spare   []byte    // the buffer the writer last handed over, for reuse
	err     error     // the first write error; Writes fail from then on
	closing bool
	done    chan struct{} // closed when the writer has stopped
}

// Wrap returns c wrapped; its writer goroutine runs until Close.
func Wrap(c net.Conn) *Conn {
	w := &Conn{Conn: c, r: bufio.NewReaderSize(c, readSize), done: make(chan struct{})}
	w.changed.L = &w.mu
	go w.writeLoop()
	return w
}

// Read reads from the buffer, filling it from the socket when it is empty.
// It is not safe for concurrent use, as reads of one stream are not.
func (c *Conn) Read(p []byte) (int, error) { return c.r.Read(p) }

// Write queues p for the socket.
func (c *Conn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.err == nil && !c.closing && len(c.pending) >= pendingMax {
		c.changed.Wait()
	}
	if c.err != nil {
		return 0, c.err
	}
	if c.closing {
		return 0, net.ErrClosed
	}
	c.pending = append(c.pending, p...)
	c.changed.Broadcast()
	return len(p), nil
}

// writeLoop hands what is pending to the socket, everything queued while
// the previous write was under way in one write.
func (c *Conn) writeLoop() {
	defer close(c.done)
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		for len(c.pending) == 0 && !c.closing {
			c.changed.Wait()
		}
		if len(c.pending) == 0 {
			return // closing, nothing left
		}
		if len(c.pending) < gatherBelow && !c.closing {
			// Let the writers that are ready add theirs first: one system
			// call for many packets, at the cost of a turn of the scheduler.
			c.mu.Unlock()
			runtime.Gosched()
			c.mu.Lock()
		}
		out := c.pending
		c.pending = c.spare[:0]
		c.mu.Unlock()
		_, err := c.Conn.Write(out)
		c.mu.Lock()
		c.spare = out
		if err != nil {
			c.err = err
			c.pending = nil
			c.changed.Broadcast()
			return
		}
		c.changed.Broadcast()
	}
}

// Close gives the socket what is pending, for at most closeFlush, and
// closes the connection. It returns the error that lost queued bytes, if
// one did.
func (c *Conn) Close() error {
	c.mu.Lock()
	first := !c.closing
	c.closing = true
	c.changed.Broadcast()
	c.mu.Unlock()
	if !first {
		return c.Conn.Close()
	}
	// A peer that stopped reading must not hold Close for ever.
	_ = c.Conn.SetWriteDeadline(time.Now().Add(closeFlush))
	<-c.done
	err := c.Conn.Close()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	return err
}
