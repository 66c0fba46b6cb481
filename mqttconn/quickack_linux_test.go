package mqttconn

import (
	"net"
	"syscall"
	"testing"
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

func pair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

func TestQuickAckStaysOn(t *testing.T) {
	plain, peer := pair(t)
	exchange(t, plain, peer, 20)
	if quickAckOn(t, plain) {
		t.Skip("this kernel did not go back to delaying acknowledgements on a plain connection: nothing to compare")
	}
	c, peer := pair(t)
	quick := QuickAck(c)
	exchange(t, quick, peer, 20)
	if !quickAckOn(t, c) {
		t.Error("after reads and writes through QuickAck the kernel delays acknowledgements again")
	}
}
