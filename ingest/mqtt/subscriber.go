// Package mqtt receives device messages from an external MQTT broker (paho)
// and hands them to ingest's Intake, which acknowledges each only once it is
// handled and stored. The monitor runs two sessions: one for the event
// stream, the alarm lane, and one for everything else, so that no backlog of
// telemetry on the broker can hold a fall back.
package mqtt

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/eldersafe/eldersafe/ingest"
	"github.com/eldersafe/eldersafe/mqttconn"
)

// Options wire a Subscriber.
type Options struct {
	// URL is tcp://host:port, or ssl://host:port for TLS; several,
	// comma-separated, are the nodes of a broker cluster, tried in turn.
	URL      string
	ClientID string // fixed, so the broker keeps our session across reconnects
	Username string
	Password string
	// TLS secures an ssl:// (tls://, mqtts://, wss://) connection (see
	// TLS.Config); nil: paho's defaults, the system's roots and the URL's host.
	TLS    *tls.Config
	Intake *ingest.Intake
	// Take is what the session handles: All, Events or Rest.
	Take   Take
	Logger *slog.Logger
}

// Take says which of the device messages a session handles.
type Take int

const (
	// All: the three device streams under {prefix}/devices/, the sources'
	// topics and the clock ticks, in one session, so a device's events and
	// telemetry keep their order.
	All Take = iota
	// Events: the event stream only ({prefix}/devices/+/event), the alarm
	// lane's session.
	Events
	// Rest: what All takes but the alarm lane's topics. An event message
	// reaching it all the same (queued for a session an earlier release
	// subscribed to {prefix}/devices/#) is acknowledged unhandled: the
	// Events session has its own copy.
	Rest
)

// TLS is how the connection to an external broker is secured: the files
// and names of mqtt.tls.
type TLS struct {
	// CAFile holds the certificates (PEM) the broker's must chain to;
	// empty: the system's roots.
	CAFile string
	// CertFile and KeyFile are the monitor's client certificate and key
	// (PEM), for a broker that asks for one; both or neither.
	CertFile, KeyFile string
	// ServerName is the name the broker's certificate must carry; empty:
	// the host of the URL.
	ServerName string
	// InsecureSkipVerify accepts any certificate the broker shows: anyone
	// on the way can read and forge every message. For tests only.
	InsecureSkipVerify bool
}

// Config loads the files into a tls.Config; nil when nothing is set, which
// leaves paho's defaults.
func (t TLS) Config() (*tls.Config, error) {
	if t == (TLS{}) {
		return nil, nil
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		return nil, errors.New("mqtt tls: a client certificate needs both cert_file and key_file")
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("mqtt tls: ca_file: %w", err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("mqtt tls: ca_file %s: no PEM certificate in it", t.CAFile)
		}
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("mqtt tls: client certificate: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
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
	co := paho.NewClientOptions()
	for _, u := range strings.Split(opts.URL, ",") {
		co.AddBroker(strings.TrimSpace(u))
	}
	co.SetClientID(opts.ClientID).
		SetUsername(opts.Username).
		SetPassword(opts.Password).
		SetTLSConfig(opts.TLS).
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
	if opts.Take == Events {
		// A fall must not wait in the broker for the TCP acknowledgement of
		// the event before it (docs/operations.md, set_tcp_nodelay).
		co.SetCustomOpenConnectionFn(mqttconn.Opener(mqttconn.QuickAck))
	}
	s.client = paho.NewClient(co)
	return s, nil
}

// Connected reports whether the broker connection is up and subscribed.
func (s *Subscriber) Connected() bool { return s.connected.Load() }

func (s *Subscriber) topics() map[string]byte {
	filters := map[string]byte{}
	switch s.opts.Take {
	case Events:
		for _, f := range s.opts.Intake.Filters(true) {
			filters[f] = 1
		}
	case Rest:
		for _, f := range s.opts.Intake.Filters(false) {
			filters[f] = 1
		}
	default:
		for _, alarm := range []bool{false, true} {
			for _, f := range s.opts.Intake.Filters(alarm) {
				filters[f] = 1
			}
		}
	}
	return filters
}

// subscribe runs on every (re)connect: auto-reconnect does not resubscribe.
// It then drops what an earlier release subscribed the session to, once the
// new subscriptions hold.
func (s *Subscriber) subscribe(c paho.Client) {
	tok := c.SubscribeMultiple(s.topics(), nil)
	if tok.WaitTimeout(10*time.Second) && tok.Error() == nil {
		tok = c.Unsubscribe(s.opts.Intake.FormerFilters()...)
	}
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
	if !s.opts.Intake.Takes(m.Topic()) || s.opts.Take == Rest && s.opts.Intake.IsEvent(m.Topic()) {
		// A source's other topics (Zigbee2MQTT's bridge, availability),
		// or the events session's (see Rest).
		m.Ack()
		return
	}
	// An error means the intake stops: unacknowledged, it comes again.
	_, _ = s.opts.Intake.Submit(s.ctx, m.Topic(), m.Payload(), m.Ack, 0)
}

// Publish sends one message, QoS 1, on this session (a command to a
// device), and waits until the broker has it or ctx ends.
func (s *Subscriber) Publish(ctx context.Context, topic string, payload []byte) error {
	if !s.connected.Load() {
		return fmt.Errorf("mqtt publish %s: not connected to %s", topic, s.opts.URL)
	}
	tok := s.client.Publish(topic, 1, false, payload)
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return fmt.Errorf("mqtt publish %s: %w", topic, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("mqtt publish %s: %w", topic, ctx.Err())
	}
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
