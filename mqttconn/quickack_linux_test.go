package mqttconn

import (
	"net"
	"syscall"
	"testing"

	"github.com/eldersafe/eldersafe/testkit"
)

// quickAckOn reads the socket's quick acknowledgement mode: Linux reports 0
// once it has gone back to delaying acknowledgements (its "ping-pong" mode,
// entered when a connection answers what it receives, as MQTT does).
func quickAckOn(t *testing.T, c net.Conn) bool {
	t.Helper()
	raw, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var gerr error
	if err := raw.Control(func(fd uintptr) {
		v, gerr = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK)
	}); err != nil || gerr != nil {
		t.Fatal(err, gerr)
	}
	return v == 1
}

// exchange has c receive a byte and answer one, rounds times, as a client
// that acknowledges each message does.
func exchange(t *testing.T, c, peer net.Conn, rounds int) {
	t.Helper()
	b := make([]byte, 1)
	for range rounds {
		if _, err := peer.Write([]byte{'m'}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Read(b); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write([]byte{'a'}); err != nil {
			t.Fatal(err)
		}
		if _, err := peer.Read(b); err != nil {
			t.Fatal(err)
		}
	}
}

func TestQuickAckStaysOn(t *testing.T) {
	plain, peer := testkit.TCPPair(t)
	exchange(t, plain, peer, 20)
	if quickAckOn(t, plain) {
		t.Skip("this kernel did not go back to delaying acknowledgements on a plain connection: nothing to compare")
	}
	c, peer := testkit.TCPPair(t)
	quick := QuickAck(c)
	exchange(t, quick, peer, 20)
	if !quickAckOn(t, c) {
		t.Error("after reads and writes through QuickAck the kernel delays acknowledgements again")
	}
}
