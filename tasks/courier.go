package tasks

import "context"

// Courier takes notices out as soon as the transaction that wrote them
// commits, instead of when the outbox next looks for due ones: a fall's
// family push must leave within milliseconds (CONTRACT §11), and the
// outbox's look is a query in a loop that may be busy with other sends.
// notify.Dispatcher is one.
type Courier interface {
	// Claim is called inside the transaction that enqueued ns, just before
	// it commits. The notices it takes are Deliver's to send: the outbox's
	// own look, which sees them once committed, leaves them alone.
	Claim(ns []Notice)
	// Deliver is called with the notices enqueued once that transaction is
	// over, claimed or not (it may fail before Claim). Committed, it sends
	// those Claim took and has the outbox look for the others at once;
	// not, it lets any claims go.
	Deliver(ns []Notice, committed bool)
}

// noCourier leaves every notice to the outbox's next look.
type noCourier struct{}

func (noCourier) Claim([]Notice)         {}
func (noCourier) Deliver([]Notice, bool) {}

// update runs fn in one transaction of the store and hands the notices it
// enqueued to the Courier: claimed before the commit, delivered after it.
func (s *Service) update(ctx context.Context, fn func(Tx) error) error {
	var out *outgoing
	err := s.opts.Store.Update(ctx, func(tx Tx) error {
		out = &outgoing{Tx: tx}
		if err := fn(out); err != nil {
			return err
		}
		if len(out.notices) > 0 {
			s.opts.Courier.Claim(out.notices)
		}
		return nil
	})
	if out != nil && len(out.notices) > 0 {
		s.opts.Courier.Deliver(out.notices, err == nil)
	}
	return err
}

// outgoing is a transaction that notes the notices enqueued in it.
type outgoing struct {
	Tx
	notices []Notice
}

func (o *outgoing) Enqueue(ctx context.Context, n Notice) error {
	if err := o.Tx.Enqueue(ctx, n); err != nil {
		return err
	}
	o.notices = append(o.notices, n)
	return nil
}
