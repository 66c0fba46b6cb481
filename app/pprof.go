package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// checkPprofAddr accepts an empty address (no profiles) or one on
// loopback: profiles show memory contents and cost CPU, so they are never
// served to the network, and never on the API's listener, whose callers
// are authenticated.
func checkPprofAddr(addr string) error {
	if addr == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q: want host:port", addr)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("%q: loopback only (127.0.0.1, ::1 or localhost)", addr)
	}
	return nil
}

// startPprof serves net/http/pprof on http.pprof_addr, if set, for
// measuring the monitor under load (docs/performance.md).
func (m *Monitor) startPprof() error {
	if m.cfg.HTTP.PprofAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", m.cfg.HTTP.PprofAddr)
	if err != nil {
		return fmt.Errorf("pprof listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	m.parts.run("pprof", func(ctx context.Context) error {
		served := make(chan error, 1)
		go func() { served <- srv.Serve(ln) }()
		select {
		case err := <-served:
			return err
		case <-ctx.Done():
		}
		err := srv.Close()
		if served := <-served; !errors.Is(served, http.ErrServerClosed) {
			err = errors.Join(err, served)
		}
		return err
	})
	m.log.Info("pprof listening", "addr", ln.Addr().String())
	return nil
}
