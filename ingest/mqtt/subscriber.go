// Package mqtt receives device messages from an external MQTT broker (paho)
// and hands them to ingest's Intake, acknowledging each only once the intake
// has handled it.
package mqtt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/eldersafe/eldersafe/ingest"
)

// Options wire a Subscriber.
type Options struct {
	URL      string // tcp://host:port
	ClientID string // fixed, so the broker keeps our session across reconnects
	Username string
	Password string
	Prefix   string
	Intake   *ingest.Intake
	Logger   *slog.Logger
	// Registerer receives eldersafe_mqtt_connected. Nil: a private registry.
	Registerer prometheus.Registerer
}

// Subscriber receives device messages with QoS 1 on a persistent session and
// acknowledges each only once it has been handled, so a crash leaves
// unhandled messages with the broker for redelivery.
type Subscriber struct {
	opts      Options
	client    paho.Client
	connected atomic.Bool
	stopping  atomic.Bool
}

// New checks the options.
func New(opts Options) (*Subscriber, error) {
	if opts.URL == "" || opts.ClientID == "" || opts.Intake == nil {
		return nil, errors.New("mqtt subscriber: url, client id and intake are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	s := &Subscriber{opts: opts}
	co := paho.NewClientOptions().
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
		SetDefaultPublishHandler(s.submit).
		SetOnConnectHandler(s.subscribe).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			s.connected.Store(false)
			s.opts.Logger.Warn("mqtt connection lost; reconnecting", "err", err)
		})
	s.client = paho.NewClient(co)
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
	return map[string]byte{s.opts.Prefix + "/devices/#": 1, s.opts.Intake.ClockTopic(): 1}
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
	s.opts.Logger.Info("mqtt subscribed", "url", s.opts.URL, "topics", len(s.topics()))
}

// submit hands a message to the intake, which acknowledges it once handled.
func (s *Subscriber) submit(_ paho.Client, m paho.Message) {
	if s.stopping.Load() {
		return // not acknowledged: the broker redelivers it next session
	}
	s.opts.Intake.Submit(ingest.Delivery{Topic: m.Topic(), Payload: m.Payload(), Ack: m.Ack})
}

// Run connects and receives messages until ctx is cancelled, then
// disconnects. Messages already submitted are the intake's to finish.
func (s *Subscriber) Run(ctx context.Context) error {
	tok := s.client.Connect()
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return fmt.Errorf("mqtt connect %s: %w", s.opts.URL, err)
		}
	case <-ctx.Done():
	}
	<-ctx.Done()
	s.stopping.Store(true)
	s.client.Disconnect(250)
	s.connected.Store(false)
	return nil
}
