package broker

import (
	"context"
	"log/slog"
)

// mochiHandler quietens mochi's logs: its info messages (starting, listener
// attached, hook added, stopped) go to debug, and so do the message-less
// warnings its listeners log whenever a client connection ends with an error
// (EOF, refused credentials; the auth hook logs refusals itself). Other
// warnings and errors (e.g. a client's message quota reached) keep their
// level; the packet dump is cut from "error processing packet".
type mochiHandler struct{ h slog.Handler }

func (m *mochiHandler) Enabled(ctx context.Context, l slog.Level) bool {
	if l < slog.LevelWarn {
		l = slog.LevelDebug
	}
	// A warning may be demoted in Handle, so let it through here when either
	// level is enabled; Handle checks again.
	return m.h.Enabled(ctx, l) || m.h.Enabled(ctx, slog.LevelDebug)
}

func (m *mochiHandler) Handle(ctx context.Context, r slog.Record) error {
	switch {
	case r.Level < slog.LevelWarn:
		r.Level = slog.LevelDebug
	case r.Level == slog.LevelWarn && r.Message == "":
		r.Level = slog.LevelDebug
		r.Message = "mqtt client connection ended"
	}
	// Packet dumps would put payloads (personal data) into the log: "error
	// processing packet" is logged when a client is disconnected, e.g. for a
	// QoS 1 publish the ACL denied; "publish packet rejected" when
	// backpressure refuses a publish held too long.
	switch r.Message {
	case "error processing packet":
		r = withoutAttr(r, "pk")
	case "publish packet rejected":
		r = withoutAttr(r, "packet")
	}
	if !m.h.Enabled(ctx, r.Level) {
		return nil
	}
	return m.h.Handle(ctx, r)
}

func (m *mochiHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &mochiHandler{h: m.h.WithAttrs(attrs)}
}

func (m *mochiHandler) WithGroup(name string) slog.Handler {
	return &mochiHandler{h: m.h.WithGroup(name)}
}

// withoutAttr returns a copy of r without its top-level attribute key.
func withoutAttr(r slog.Record, key string) slog.Record {
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		if a.Key != key {
			out.AddAttrs(a)
		}
		return true
	})
	return out
}
