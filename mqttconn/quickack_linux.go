package mqttconn

import "syscall"

const quickAckSupported = true

// setQuickAck turns quick acknowledgement on, which also sends at once an
// acknowledgement the kernel was holding. A failure (the socket closed
// meanwhile) leaves the connection as it was: only slower to acknowledge.
func setQuickAck(raw syscall.RawConn) {
	_ = raw.Control(func(fd uintptr) {
		_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
	})
}
