// Package notify delivers the notices that task changes write to the durable
// outbox: it composes their text (Templates), sends them on a channel (one
// Sender per channel: push, log, and sms through Twilio or Alibaba Cloud) and
// drains the outbox with retries and backoff (Dispatcher).
//
// The design follows alertmanager's notify package: a channel is one small
// interface whose Send says whether a failure is worth trying again, and the
// retry policy lives in one place, the dispatcher, not in every channel.
package notify

import (
	"context"

	"github.com/eldersafe/eldersafe/tasks"
)

// Sender delivers notices on one channel.
type Sender interface {
	// Send delivers one notice. retry reports whether a failure is worth trying again.
	Send(ctx context.Context, n tasks.Notice) (retry bool, err error)
}

// SenderFunc adapts a function to a Sender.
type SenderFunc func(ctx context.Context, n tasks.Notice) (retry bool, err error)

// Send calls f.
func (f SenderFunc) Send(ctx context.Context, n tasks.Notice) (bool, error) { return f(ctx, n) }

var (
	_ Sender         = SenderFunc(nil)
	_ Sender         = (*Push)(nil)
	_ Sender         = (*Twilio)(nil)
	_ Sender         = (*Aliyun)(nil)
	_ Sender         = Log{}
	_ tasks.Composer = (*Templates)(nil)
)
