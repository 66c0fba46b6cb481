// Package broker wraps the embedded MQTT broker (mochi-mqtt v2) that
// `eldersafe serve` runs when no external broker is configured. It is the only
// package in the project that imports mochi.
//
// Under Auth "devices" (the default) the broker enforces the device contract
// (CONTRACT.md §2, §8):
//
//   - a device connects with username = its device id and password = its
//     secret, or, on the TLS listener with Options.ClientCAFile, with a
//     certificate of that CA whose common name is its device id; it may
//     publish only to {prefix}/devices/{its id}/{stream...} and, when it or
//     the devices it is the gateway of speak their own formats, to those
//     devices' source topics (Options.Sources); it may subscribe to nothing;
//   - username "eldersafe-sim" with the configured password (the admin token)
//     may publish only to {prefix}/sim/clock;
//   - anyone else is refused at CONNECT.
//
// Under Auth "none" anyone may connect, publish and subscribe (development).
//
// With Options.Intake the monitor takes device messages inside the process
// (inbound.go): a publish is acknowledged only once the intake has handled
// it, so an acknowledgement means stored (CONTRACT.md §11).
package broker

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/prometheus/client_golang/prometheus"
)

// Auth modes.
const (
	AuthDevices = "devices" // device, monitor and simulator credentials; the default
	AuthNone    = "none"    // anyone may connect, publish and subscribe
)

// Defaults filled in by New when an option is left empty.
const (
	DefaultAddr          = "127.0.0.1:1883"
	DefaultPrefix        = "eldersafe/v1"
	DefaultSessionExpiry = 24 * time.Hour
)

// SimUsername is the username the simulator's clock ticks authenticate with
// (password Options.SimPassword). It is reserved: no device can use it.
const SimUsername = "eldersafe-sim"

// maxPacketSize bounds an MQTT packet. Payloads are at most 4 KiB by contract,
// but the monitor must still see oversized ones to count them as too_large, so
// the broker's own limit is well above that; it only stops memory abuse.
const maxPacketSize = 64 * 1024

// DeviceAuthenticator checks a device's MQTT credentials: username = device
// id, password = device secret; or, for a device that showed a certificate,
// that it is registered.
type DeviceAuthenticator interface {
	AuthenticateDevice(id, secret string) bool
	DeviceRegistered(id string) bool
}

// SourcePublishers decides who may publish outside {prefix}/devices/ under
// AuthDevices: on a source's topic (CONTRACT.md §14), the device registered
// on it and the gateway registered for it; on a gateway's own topics
// (Zigbee2MQTT's bridge state), gateways.
type SourcePublishers interface {
	MayPublish(deviceID, topic string) bool
}

// Options configures a Broker.
type Options struct {
	// Addr is the plain TCP listener, e.g. "127.0.0.1:1883"; port 0 picks a
	// free port (see Broker.Addr). Default DefaultAddr.
	Addr string
	// Auth is AuthDevices (default) or AuthNone.
	Auth string
	// Prefix is the topic prefix, e.g. "eldersafe/v1" (default DefaultPrefix).
	// It may not contain wildcards or end with '/'.
	Prefix string
	// Devices checks device credentials; required under AuthDevices.
	Devices DeviceAuthenticator
	// Intake takes the publishes it says it Takes (those under
	// {Prefix}/devices/, the clock ticks, source readings) in process,
	// acknowledging each once handled. Nil: they are routed to subscribers
	// like any message.
	Intake Intake
	// Sources decides who may publish to the topics of devices that speak
	// their own formats (CONTRACT.md §14); nil: nobody.
	Sources SourcePublishers
	// SimPassword lets username SimUsername publish to {Prefix}/sim/clock.
	// Empty disables the simulator credential.
	SimPassword string
	// TLSAddr, CertFile and KeyFile add an optional TLS listener with the same
	// rules. All three or none; New fails when the files do not load.
	TLSAddr  string
	CertFile string
	KeyFile  string
	// ClientCAFile (PEM), with the TLS listener, lets a device log in with
	// a certificate signed by it whose common name is its device id, and
	// no password. Devices without a certificate still log in with their
	// secret.
	ClientCAFile string
	// SessionExpiry is how long a disconnected clean_session=false session
	// (subscriptions and queued QoS 1/2 messages) is kept. Default
	// DefaultSessionExpiry.
	SessionExpiry time.Duration
	// HoldTimeout is the longest a publish waits for room in the Intake;
	// then the device is disconnected unacknowledged, to send again.
	// Default DefaultHoldTimeout.
	HoldTimeout time.Duration
	// Logger receives the broker's logs; mochi's own chatter is logged at
	// debug. Default: discard.
	Logger *slog.Logger
	// Registerer receives the broker's metrics. Default: a private registry.
	Registerer prometheus.Registerer
}

// Broker is an embedded MQTT broker. Create it with New, then Start and Close.
type Broker struct {
	opts    Options
	tlsCfg  *tls.Config
	log     *slog.Logger
	srv     *mqtt.Server
	inbound *inbound // nil without Options.Intake

	mu      sync.Mutex
	started bool
	closed  bool
	ln      net.Listener
	tlsLn   net.Listener
}

// New validates opts, fills in defaults and prepares a broker; it does not
// listen yet.
func New(opts Options) (*Broker, error) {
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("broker options: %w", err)
	}

	b := &Broker{opts: opts, log: opts.Logger}
	if opts.TLSAddr != "" {
		cert, err := tls.LoadX509KeyPair(opts.CertFile, opts.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("broker tls: %w", err)
		}
		b.tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		if opts.ClientCAFile != "" {
			pem, err := os.ReadFile(opts.ClientCAFile)
			if err != nil {
				return nil, fmt.Errorf("broker tls: client ca: %w", err)
			}
			b.tlsCfg.ClientCAs = x509.NewCertPool()
			if !b.tlsCfg.ClientCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("broker tls: client ca %s: no PEM certificate in it", opts.ClientCAFile)
			}
			// A certificate is checked when shown; a device without one
			// logs in with its secret.
			b.tlsCfg.ClientAuth = tls.VerifyClientCertIfGiven
		}
	}

	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumSessionExpiryInterval = uint32(opts.SessionExpiry / time.Second)
	caps.MaximumPacketSize = maxPacketSize
	// The contract takes QoS 0 and 1; the intake acknowledges with PUBACK.
	caps.MaximumQos = 1
	b.srv = mqtt.New(&mqtt.Options{
		// The monitor publishes commands to devices (a wristband's check).
		InlineClient: true,
		Capabilities: caps,
		Logger:       slog.New(&mochiHandler{h: opts.Logger.Handler()}).With("component", "mqtt-broker"),
	})

	hook := &authHook{
		mode:    opts.Auth,
		prefix:  opts.Prefix,
		devices: opts.Devices,
		sources: opts.Sources,
		sim:     credential{user: SimUsername, pass: opts.SimPassword},
		clients: b.srv.Clients,
		log:     opts.Logger,
	}
	if err := b.srv.AddHook(hook, nil); err != nil {
		return nil, fmt.Errorf("broker hook: %w", err)
	}
	if opts.Intake != nil {
		b.inbound = newInbound(opts.Intake, opts.HoldTimeout, opts.Logger, opts.Registerer)
		if err := b.srv.AddHook(b.inbound, nil); err != nil {
			return nil, fmt.Errorf("broker hook: %w", err)
		}
	}
	info := b.srv.Info
	opts.Registerer.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "eldersafe_broker_messages_dropped_total",
		Help: "Messages the embedded broker dropped because a subscriber's session or write queue was full.",
	}, func() float64 {
		return float64(atomic.LoadInt64(&info.InflightDropped) + atomic.LoadInt64(&info.MessagesDropped))
	}))
	return b, nil
}

func (o *Options) validate() error {
	if o.Addr == "" {
		o.Addr = DefaultAddr
	}
	if o.Auth == "" {
		o.Auth = AuthDevices
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.SessionExpiry == 0 {
		o.SessionExpiry = DefaultSessionExpiry
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	if o.HoldTimeout == 0 {
		o.HoldTimeout = DefaultHoldTimeout
	}
	if o.HoldTimeout < 0 {
		return fmt.Errorf("hold timeout %s is negative", o.HoldTimeout)
	}

	if strings.ContainsAny(o.Prefix, "+#\x00") || strings.HasSuffix(o.Prefix, "/") || strings.HasPrefix(o.Prefix, "$") {
		return fmt.Errorf("invalid topic prefix %q", o.Prefix)
	}
	if o.SessionExpiry < time.Second || o.SessionExpiry/time.Second > (1<<32-1) {
		return fmt.Errorf("session expiry %s out of range", o.SessionExpiry)
	}
	tlsSet := 0
	for _, s := range []string{o.TLSAddr, o.CertFile, o.KeyFile} {
		if s != "" {
			tlsSet++
		}
	}
	if tlsSet != 0 && tlsSet != 3 {
		return errors.New("tls needs all of TLSAddr, CertFile and KeyFile")
	}
	if o.ClientCAFile != "" && o.TLSAddr == "" {
		return errors.New("ClientCAFile needs the TLS listener (TLSAddr, CertFile and KeyFile)")
	}

	switch o.Auth {
	case AuthNone:
	case AuthDevices:
		if o.Devices == nil {
			return errors.New("auth devices needs a DeviceAuthenticator")
		}
	default:
		return fmt.Errorf("unknown auth mode %q (want %q or %q)", o.Auth, AuthDevices, AuthNone)
	}
	return nil
}

// Start opens the listeners and serves clients in the background. It fails
// when an address cannot be bound (e.g. the port is taken). A Broker starts
// once; after Close it cannot be started again.
func (b *Broker) Start() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return errors.New("broker start: closed")
	}
	if b.started {
		return errors.New("broker start: already started")
	}

	ln, err := net.Listen("tcp", b.opts.Addr)
	if err != nil {
		return fmt.Errorf("broker listen: %w", err)
	}
	var tlsLn net.Listener
	if b.tlsCfg != nil {
		raw, err := net.Listen("tcp", b.opts.TLSAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("broker listen tls: %w", err)
		}
		tlsLn = tls.NewListener(raw, b.tlsCfg)
	}

	closeAll := func() {
		ln.Close()
		if tlsLn != nil {
			tlsLn.Close()
		}
	}
	if err := b.srv.AddListener(listeners.NewNet("tcp", ln)); err != nil {
		closeAll()
		return fmt.Errorf("broker listener: %w", err)
	}
	if tlsLn != nil {
		if err := b.srv.AddListener(listeners.NewNet("tls", tlsLn)); err != nil {
			closeAll()
			return fmt.Errorf("broker listener: %w", err)
		}
	}
	if err := b.srv.Serve(); err != nil {
		closeAll()
		return fmt.Errorf("broker serve: %w", err)
	}

	b.ln, b.tlsLn, b.started = ln, tlsLn, true
	attrs := []any{"addr", ln.Addr().String(), "auth", b.opts.Auth, "prefix", b.opts.Prefix}
	if tlsLn != nil {
		attrs = append(attrs, "tls_addr", tlsLn.Addr().String())
	}
	b.log.Info("mqtt broker listening", attrs...)
	return nil
}

// Publish sends a message to the devices subscribed to topic, QoS 1, from
// the monitor itself (a wristband's check): no session, no credentials.
func (b *Broker) Publish(topic string, payload []byte) error {
	if err := b.srv.Publish(topic, payload, false, 1); err != nil {
		return fmt.Errorf("broker publish %s: %w", topic, err)
	}
	return nil
}

// Close disconnects every client, closes the listeners and waits for the
// client goroutines to end. It is safe to call more than once, and before
// Start.
func (b *Broker) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	if b.inbound != nil {
		b.inbound.close() // held publishers let go, or the server waits on them
	}
	if !b.started {
		return nil
	}
	// The listeners and their clients first, through a closer of ours:
	// mochi's own lists a listener's clients under a read lock it takes
	// twice (Clients.GetByListener calling Len), which deadlocks when a
	// client that is disconnecting asks for the write lock in between
	// (mochi-mqtt/server#488, not fixed in v2.7.9): it hung a CI run's
	// shutdown. A listener closes its clients only once, so srv.Close then
	// stops the rest.
	b.srv.Listeners.CloseAll(b.disconnectClients)
	if err := b.srv.Close(); err != nil {
		return fmt.Errorf("broker close: %w", err)
	}
	b.log.Info("mqtt broker stopped")
	return nil
}

// disconnectClients disconnects the clients of a listener that is closing.
func (b *Broker) disconnectClients(listener string) {
	for _, cl := range b.srv.Clients.GetAll() {
		if cl.Net.Listener == listener && !cl.Closed() {
			_ = b.srv.DisconnectClient(cl, packets.ErrServerShuttingDown)
		}
	}
}

// Addr returns the address the TCP listener is bound to (with the real port
// when Options.Addr asked for port 0) once started, Options.Addr before.
func (b *Broker) Addr() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ln != nil {
		return b.ln.Addr().String()
	}
	return b.opts.Addr
}

// TLSAddr returns the address the TLS listener is bound to once started,
// Options.TLSAddr before (empty when TLS is off).
func (b *Broker) TLSAddr() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.tlsLn != nil {
		return b.tlsLn.Addr().String()
	}
	return b.opts.TLSAddr
}
