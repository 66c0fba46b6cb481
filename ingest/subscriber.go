package ingest

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// SubscriberOptions wire a Subscriber.
type SubscriberOptions struct {
	URL      string // tcp://host:port
	ClientID string // fixed, so the broker keeps our session across reconnects
	Username string
	Password string
	Prefix   string
	Pipeline *Pipeline
	// Tick receives simulator clock ticks; nil when the monitor runs on the
	// wall clock, which refuses them (with a log line).
	Tick func(ts time.Time)
	// Workers process messages in parallel; a device's messages always go to
	// the same worker, so they are applied in the order they arrived.
	Workers   int
	QueueSize int
	Logger    *slog.Logger
	// Registerer receives eldersafe_mqtt_connected. Nil: a private registry.
	Registerer prometheus.Registerer
}

// Subscriber receives device messages from an MQTT broker with QoS 1 on a
// persistent session and acknowledges each only once it has been handled, so a
// crash leaves unhandled messages with the broker for redelivery.
type Subscriber struct {
	opts      SubscriberOptions
	client    mqtt.Client
	queues    []chan mqtt.Message
	marks     []mark
	seed      maphash.Seed
	connected atomic.Bool
	stopping  atomic.Bool
	ticks     rejectLog
}

// NewSubscriber checks the options.
func NewSubscriber(opts SubscriberOptions) (*Subscriber, error) {
	if opts.URL == "" || opts.ClientID == "" || opts.Pipeline == nil {
		return nil, errors.New("ingest: url, client id and pipeline are required")
	}
	if opts.Workers <= 0 {
		opts.Workers = 8
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 1024
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	s := &Subscriber{opts: opts, seed: maphash.MakeSeed(), ticks: rejectLog{logger: opts.Logger, every: time.Minute}}
	s.queues = make([]chan mqtt.Message, opts.Workers)
	s.marks = make([]mark, opts.Workers)
	for i := range s.queues {
		s.queues[i] = make(chan mqtt.Message, opts.QueueSize)
	}
	co := mqtt.NewClientOptions().
		AddBroker(opts.URL).
		SetClientID(opts.ClientID).
		SetUsername(opts.Username).
		SetPassword(opts.Password).
		SetCleanSession(false).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(time.Second).
		SetMaxReconnectInterval(10 * time.Second).
		SetKeepAlive(30 * time.Second).
		SetAutoAckDisabled(true).
		// Registered before Connect: a persistent session may deliver at once.
		SetDefaultPublishHandler(s.enqueue).
		SetOnConnectHandler(s.subscribe).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			s.connected.Store(false)
			s.opts.Logger.Warn("mqtt connection lost; reconnecting", "err", err)
		})
	s.client = mqtt.NewClient(co)
	promauto.With(opts.Registerer).NewGaugeFunc(prometheus.GaugeOpts{
		Name: "eldersafe_mqtt_connected",
		Help: "1 while the monitor is connected to the MQTT broker and subscribed, else 0.",
	}, func() float64 {
		if s.Connected() {
			return 1
		}
		return 0
	})
	return s, nil
}

// Connected reports whether the broker connection is up and subscribed.
func (s *Subscriber) Connected() bool { return s.connected.Load() }

func (s *Subscriber) topics() map[string]byte {
	return map[string]byte{s.opts.Prefix + "/devices/#": 1, s.clockTopic(): 1}
}

func (s *Subscriber) clockTopic() string { return s.opts.Prefix + "/sim/clock" }

// subscribe runs on every (re)connect: auto-reconnect does not resubscribe.
func (s *Subscriber) subscribe(c mqtt.Client) {
	tok := c.SubscribeMultiple(s.topics(), nil)
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		s.opts.Logger.Error("mqtt subscribe failed; reconnecting", "err", tok.Error())
		// Dropping the connection makes auto-reconnect try the whole thing again.
		go c.Disconnect(0)
		return
	}
	s.connected.Store(true)
	s.opts.Logger.Info("mqtt subscribed", "url", s.opts.URL, "topics", len(s.topics()))
}

// enqueue hands the message to its device's worker. It blocks when that
// worker is far behind, which slows the broker down instead of losing data.
func (s *Subscriber) enqueue(_ mqtt.Client, m mqtt.Message) {
	if s.stopping.Load() {
		return // not acknowledged: the broker redelivers it next session
	}
	topic := m.Topic()
	key := topic
	if i := strings.LastIndexByte(topic, '/'); i > 0 {
		key = topic[:i] // the device, whatever its stream
	}
	w := maphash.String(s.seed, key) % uint64(len(s.queues))
	s.marks[w].pending.Add(1)
	s.queues[w] <- m
}

// Run connects and processes messages until ctx is cancelled, then
// disconnects and finishes the messages already queued.
func (s *Subscriber) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	stop := make(chan struct{})
	work := context.WithoutCancel(ctx)
	for i, q := range s.queues {
		wg.Go(func() { s.work(withMark(work, &s.marks[i]), q, stop) })
	}
	tok := s.client.Connect()
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			close(stop)
			wg.Wait()
			return fmt.Errorf("mqtt connect %s: %w", s.opts.URL, err)
		}
	case <-ctx.Done():
	}
	<-ctx.Done()
	s.stopping.Store(true)
	s.client.Disconnect(250)
	s.connected.Store(false)
	close(stop)
	wg.Wait()
	return nil
}

func (s *Subscriber) work(ctx context.Context, q chan mqtt.Message, stop <-chan struct{}) {
	for {
		select {
		case m := <-q:
			s.process(ctx, m)
		case <-stop:
			for {
				select {
				case m := <-q:
					s.process(ctx, m)
				default:
					return
				}
			}
		}
	}
}

func (s *Subscriber) process(ctx context.Context, m mqtt.Message) {
	acked := false
	if mk := markFrom(ctx); mk != nil {
		defer mk.pending.Add(-1)
	}
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		// A bug, not the device's doing, but the same message would panic
		// again at every redelivery: it is dropped (acknowledged), and ingest
		// goes on with the next one.
		s.opts.Logger.Error("panic while handling a device message; message dropped",
			"topic", m.Topic(), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		if !acked {
			ackQuietly(m)
		}
	}()
	var err error
	if m.Topic() == s.clockTopic() {
		s.tick(ctx, m.Payload())
	} else {
		err = s.opts.Pipeline.Ingest(ctx, m.Topic(), m.Payload())
	}
	if err != nil && ReasonOf(err) == "" {
		// Not durable: leave it unacknowledged for redelivery.
		s.opts.Logger.Error("device message not handled", "topic", m.Topic(), "err", err)
		return
	}
	acked = true
	m.Ack()
}

// ackQuietly acknowledges a message whose handling panicked; a panic of the
// acknowledgement itself is swallowed.
func ackQuietly(m mqtt.Message) {
	defer func() { _ = recover() }()
	m.Ack()
}

// tick applies a simulator clock tick, or refuses it under the wall clock.
func (s *Subscriber) tick(ctx context.Context, payload []byte) {
	if s.opts.Tick == nil {
		s.ticks.log("wall_clock", s.clockTopic(), errors.New("clock tick refused: the monitor runs on the wall clock (start it with --clock event)"))
		return
	}
	ts, err := DecodeTick(payload, s.opts.Pipeline.opts.Now())
	if err != nil {
		s.ticks.log(ReasonOf(err), s.clockTopic(), err)
		return
	}
	record(ctx, ts)
	s.opts.Tick(ts)
}
