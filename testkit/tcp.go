package testkit

import (
	"net"
	"testing"
)

// TCPPair is two ends of one loopback TCP connection, closed when the test
// ends: for tests of what a real socket does (its system calls, its
// acknowledgements) that net.Pipe cannot show.
func TCPPair(tb testing.TB) (client, server net.Conn) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	type accepted struct {
		c   net.Conn
		err error
	}
	got := make(chan accepted, 1)
	go func() {
		c, err := ln.Accept()
		got <- accepted{c, err}
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	a := <-got
	if a.err != nil {
		client.Close()
		tb.Fatal(a.err)
	}
	tb.Cleanup(func() { client.Close(); a.c.Close() })
	return client, a.c
}
