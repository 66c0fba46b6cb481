package broker

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
)

// testLogger logs everything at debug (so the log paths run under -race), to
// stderr with -v and nowhere otherwise.
func testLogger() *slog.Logger {
	var w io.Writer = io.Discard
	if testing.Verbose() {
		w = os.Stderr
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func TestMochiHandler(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(&mochiHandler{h: slog.NewTextHandler(&buf, nil)}) // info and up

	log.Info("attached listener", "id", "tcp")
	log.Warn("", "error", "EOF")
	if buf.Len() != 0 {
		t.Fatalf("mochi chatter logged at info: %s", buf.String())
	}

	log.Warn("client store quota reached", "client", "monitor")
	if !strings.Contains(buf.String(), "level=WARN") || !strings.Contains(buf.String(), "quota") {
		t.Fatalf("warning lost: %q", buf.String())
	}

	buf.Reset()
	log.Warn("error processing packet", "error", "not authorized", "client", "dev-a", "pk", struct{ Payload string }{"secret payload"})
	if got := buf.String(); strings.Contains(got, "secret payload") || !strings.Contains(got, "client=dev-a") {
		t.Fatalf("packet dump not cut: %q", got)
	}

	buf.Reset()
	debug := slog.New(&mochiHandler{h: slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})})
	debug.Debug("publish packet rejected", "hook", "eldersafe-backpressure", "packet", struct{ Payload string }{"secret payload"})
	if got := buf.String(); strings.Contains(got, "secret payload") || !strings.Contains(got, "hook=eldersafe-backpressure") {
		t.Fatalf("packet dump not cut: %q", got)
	}

	buf.Reset()
	debug = slog.New(&mochiHandler{h: slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})})
	debug.With("component", "mqtt-broker").Warn("", "error", "EOF")
	if got := buf.String(); !strings.Contains(got, "level=DEBUG") || !strings.Contains(got, "connection ended") || !strings.Contains(got, "component=mqtt-broker") {
		t.Fatalf("demoted warning: %q", got)
	}
}
