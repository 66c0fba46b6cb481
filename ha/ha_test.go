package ha_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/eldersafe/eldersafe/ha"
	"github.com/eldersafe/eldersafe/store"
	"github.com/eldersafe/eldersafe/testkit"
)

func newElector(t *testing.T, url string) (*ha.Elector, *store.DB, *prometheus.Registry) {
	t.Helper()
	db, err := store.Open(context.Background(), "", nil, store.WithURL(url))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	reg := prometheus.NewRegistry()
	// Renewed every second: the test waits for renewals, never for expiry.
	e, err := ha.New(ha.Options{Lease: db, TTL: 3 * time.Second, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	return e, db, reg
}

// TestElector: the first monitor leads, the second stands by until the
// first stops and releases the lease, then takes it over with a new epoch;
// the first, had it kept running, loses the lease at its next renewal.
func TestElector(t *testing.T) {
	url := testkit.PostgresURL(t)
	first, db1, reg1 := newElector(t, url)
	second, _, reg2 := newElector(t, url)
	ctx := context.Background()

	epoch1, err := first.Campaign(ctx)
	if err != nil || epoch1 != 1 || !first.Leader() || testkit.MetricValue(t, reg1, "eldersafe_ha_leader") != 1 {
		t.Fatalf("first campaign: epoch %d, %v, leader %v", epoch1, err, first.Leader())
	}
	holding, stop := context.WithCancel(ctx)
	held := make(chan error, 1)
	go func() { held <- first.Hold(holding, epoch1) }()

	took := make(chan int64, 1)
	go func() {
		epoch, err := second.Campaign(ctx)
		if err != nil {
			t.Error(err)
		}
		took <- epoch
	}()
	if second.Leader() || testkit.MetricValue(t, reg2, "eldersafe_ha_leader") != 0 {
		t.Fatal("the second monitor leads while the first holds the lease")
	}
	stop()
	if err := <-held; err != nil {
		t.Fatalf("Hold after stop: %v, want nil", err)
	}
	if first.Leader() {
		t.Error("the first monitor still says it leads after it stopped")
	}
	epoch2 := <-took
	if epoch2 != epoch1+1 || !second.Leader() {
		t.Fatalf("takeover epoch %d, leader %v; want %d, true", epoch2, second.Leader(), epoch1+1)
	}

	// A leader whose lease was taken (here: released behind its back, as
	// an expiry would) learns it at its next renewal.
	third, _, _ := newElector(t, url)
	if err := db1.ReleaseLease(ctx, second.Holder()); err != nil {
		t.Fatal(err)
	}
	if _, err := third.Campaign(ctx); err != nil {
		t.Fatal(err)
	}
	if err := second.Hold(ctx, epoch2); !errors.Is(err, ha.ErrLost) {
		t.Errorf("Hold after losing the lease: %v, want ErrLost", err)
	}
}

// troubledLease answers its first ask for the lease late, as a store on a
// machine starved of CPU did (the lease's time runs from before the ask),
// and then fails the renewals it is told to, as a store in trouble does.
type troubledLease struct {
	ha.Lease
	late   time.Duration
	failed int // renewals to fail
	asks   int
}

func (l *troubledLease) AcquireLease(ctx context.Context, holder string, ttl time.Duration) (int64, bool, error) {
	l.asks++
	switch {
	case l.asks == 1:
		time.Sleep(l.late)
	case l.asks <= 1+l.failed:
		return 0, false, errors.New("the store is in trouble")
	}
	return l.Lease.AcquireLease(ctx, holder, ttl)
}

// TestElectorTroubledStore: a lease taken late in its TTL is renewed at
// once, not a third of the TTL after Hold began, when it has expired; a
// renewal that fails is tried again soon enough to hold the lease through
// two failures, where one every third of the TTL lost it.
func TestElectorTroubledStore(t *testing.T) {
	db, err := store.Open(context.Background(), "", nil, store.WithURL(testkit.PostgresURL(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	const ttl = 3 * time.Second
	for _, lease := range []*troubledLease{
		{Lease: db, late: 2 * ttl / 3},
		{Lease: db, failed: 2},
	} {
		e, err := ha.New(ha.Options{Lease: lease, TTL: ttl})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		epoch, err := e.Campaign(ctx)
		if err != nil {
			t.Fatal(err)
		}
		holding, stop := context.WithCancel(ctx)
		held := make(chan error, 1)
		go func() { held <- e.Hold(holding, epoch) }()
		// Past the lease's first expiry.
		select {
		case err := <-held:
			t.Fatalf("late %s, %d renewals failed: Hold: %v, want the lease held", lease.late, lease.failed, err)
		case <-time.After(ttl):
		}
		stop()
		if err := <-held; err != nil {
			t.Fatalf("Hold after stop: %v, want nil", err)
		}
	}
}
