package mqttconn

import (
	"net"
	"syscall"
)

// QuickAck has the kernel acknowledge each TCP segment of c as it arrives,
// instead of holding the acknowledgement for the next data going back
// (delayed ACK: 40 ms or more on Linux). A broker that keeps Nagle's
// algorithm on, as Mosquitto does unless set_tcp_nodelay is set, holds its
// next small packet until the one before is acknowledged: on the events
// session, a fall behind the PUBACK of the event before it. Linux goes back
// to delaying acknowledgements by itself, so it is asked again after every
// read and write. Where the system has no such option, or c is not a TCP
// connection, c is returned as it is.
func QuickAck(c net.Conn) net.Conn {
	sc, ok := c.(syscall.Conn)
	if !ok || !quickAckSupported {
		return c
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return c
	}
	setQuickAck(raw)
	return &quickAckConn{Conn: c, raw: raw}
}

type quickAckConn struct {
	net.Conn
	raw syscall.RawConn
}

func (c *quickAckConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	setQuickAck(c.raw)
	return n, err
}

func (c *quickAckConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	setQuickAck(c.raw)
	return n, err
}
