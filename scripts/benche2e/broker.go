package main

import (
	"flag"
	"os"
	"os/signal"
	"syscall"

	"github.com/eldersafe/eldersafe/broker"
)

// runBroker runs the project's embedded broker on its own until SIGINT or
// SIGTERM: the embedded mode's ceiling. It is the broker `eldersafe serve`
// starts, routing to a bare mosquitto_sub instead of handing messages to the
// monitor in process, and without device authentication: checking 50 device
// secrets at CONNECT is no part of the steady state being timed.
func runBroker(args []string) error {
	fs := flag.NewFlagSet("broker", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:1883", "listen address")
	fs.Parse(args)
	b, err := broker.New(broker.Options{Addr: *addr, Auth: broker.AuthNone, Prefix: prefix})
	if err != nil {
		return err
	}
	if err := b.Start(); err != nil {
		return err
	}
	logf("embedded broker listening on %s", b.Addr())
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	<-stop
	return b.Close()
}
