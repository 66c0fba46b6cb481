// Package mqtt receives device messages from an external MQTT broker (paho)
// and hands them to ingest's Intake, which acknowledges each only once it is
// handled and stored. The monitor runs two sessions: one for the event
// stream, the alarm lane, and one for everything else, so that no backlog of
// telemetry on the broker can hold a fall back.
package mqtt

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/eldersafe/eldersafe/ingest"
)

// Options wire a Subscriber.
type Options struct {
	URL      string // tcp://host:port
	ClientID string // fixed, so the broker keeps our session across reconnects
	Username string
	Password string
	Intake   *ingest.Intake
	// Events makes this the alarm lane's session: the event stream
	// ({prefix}/devices/+/event) and Zigbee2MQTT's topics. Otherwise the
	// session takes everything else under {prefix}/devices/, the clock ticks
	// and the meters' sources; alarm messages reaching it are acknowledged
	// unhandled, since the events session has them.
	Events bool
	Logger *slog.Logger
}

// Subscriber receives device messages with QoS 1 on a persistent session and
// acknowledges each only once it has been handled, so a crash leaves
// unhandled messages with the broker for redelivery.
type Subscriber struct {
	opts      Options
	client    paho.Client
	connected atomic.Bool
	stopping  atomic.Bool
	// lastErr is why the broker was last unreachable.
	lastErr atomic.Pointer[error]
	ctx     context.Context // Run's, for Submit
}

// New checks the options.
func New(opts Options) (*Subscriber, error) {
	if opts.URL == "" || opts.ClientID == "" || opts.Intake == nil {
		return nil, errors.New("mqtt subscriber: url, client id and intake are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Subscriber{opts: opts, ctx: context.Background()}
	co := paho.NewClientOptions().
		AddBroker(opts.URL).
		SetClientID(opts.ClientID).
		SetUsername(opts.Username).
		SetPassword(opts.Password).
		SetCleanSession(false).
		SetAutoReconnect(true).
		SetMaxReconnectInterval(10 * time.Second).
		SetKeepAlive(30 * time.Second).
		SetAutoAckDisabled(true).
		// Registered before Connect: a persistent session may deliver at once.
		SetDefaultPublishHandler(s.submit).
		SetOnConnectHandler(s.subscribe).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			s.connected.Store(false)
			s.lastErr.Store(&err)
			s.opts.Logger.Warn("mqtt connection lost; reconnecting", "url", s.opts.URL, "client_id", s.opts.ClientID, "err", err)
		})
	s.client = paho.NewClient(co)
	return s, nil
}

// Connected reports whether the broker connection is up and subscribed.
func (s *Subscriber) Connected() bool { return s.connected.Load() }

func (s *Subscriber) topics() map[string]byte {
	filters := map[string]byte{}
	for _, f := range s.opts.Intake.Filters(s.opts.Events) {
		filters[f] = 1
	}
	return filters
}

// subscribe runs on every (re)connect: auto-reconnect does not resubscribe.
func (s *Subscriber) subscribe(c paho.Client) {
	tok := c.SubscribeMultiple(s.topics(), nil)
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		s.opts.Logger.Error("mqtt subscribe failed; reconnecting", "err", tok.Error())
		// Dropping the connection makes auto-reconnect try the whole thing again.
		go c.Disconnect(0)
		return
	}
	s.connected.Store(true)
	s.opts.Logger.Info("mqtt subscribed", "url", s.opts.URL, "client_id", s.opts.ClientID, "topics", len(s.topics()))
}

// submit hands a message to the intake, which acknowledges it once handled.
func (s *Subscriber) submit(_ paho.Client, m paho.Message) {
	if s.stopping.Load() {
		return // not acknowledged: the broker redelivers it next session
	}
	if !s.opts.Intake.Takes(m.Topic()) || !s.opts.Events && s.opts.Intake.IsEvent(m.Topic()) {
		// A source's other topics (Zigbee2MQTT's bridge, availability),
		// or the events session's.
		m.Ack()
		return
	}
	// An error means the intake stops: unacknowledged, it comes again.
	_, _ = s.opts.Intake.Submit(s.ctx, m.Topic(), m.Payload(), m.Ack)
}

// warnEvery is how often an unreachable broker is logged.
const warnEvery = 10 * time.Second

// Run connects and receives messages until ctx is cancelled, then
// disconnects. Messages already submitted are the intake's to finish. While
// the broker is unreachable it says so at WARN every warnEvery.
func (s *Subscriber) Run(ctx context.Context) error {
	s.ctx = ctx
	var connecting sync.WaitGroup
	connecting.Go(func() { s.connect(ctx) })
	warn := time.NewTicker(warnEvery)
	defer warn.Stop()
	for {
		select {
		case <-ctx.Done():
			s.stopping.Store(true)
			connecting.Wait()
			s.client.Disconnect(250)
			s.connected.Store(false)
			return nil
		case <-warn.C:
			if !s.Connected() {
				var reason error = errors.New("not connected yet")
				if err := s.lastErr.Load(); err != nil {
					reason = *err
				}
				s.opts.Logger.Warn("mqtt broker unreachable; the monitor takes no device messages", "url", s.opts.URL, "client_id", s.opts.ClientID, "err", reason)
			}
		}
	}
}

// connect makes the first connection, trying again every second to ten
// until ctx ends; paho reconnects by itself after that.
func (s *Subscriber) connect(ctx context.Context) {
	delay := time.Second
	for {
		tok := s.client.Connect()
		select {
		case <-tok.Done():
		case <-ctx.Done():
			return
		}
		err := tok.Error()
		if err == nil {
			return
		}
		s.lastErr.Store(&err)
		if delay == time.Second { // then every warnEvery, from Run
			s.opts.Logger.Warn("mqtt broker unreachable; the monitor takes no device messages", "url", s.opts.URL, "client_id", s.opts.ClientID, "err", err)
		}
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return
		}
		delay = min(2*delay, warnEvery)
	}
}
