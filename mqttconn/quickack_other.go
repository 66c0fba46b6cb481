//go:build !linux

package mqttconn

import "syscall"

const quickAckSupported = false

func setQuickAck(syscall.RawConn) {}
