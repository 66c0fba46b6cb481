package simulator

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strconv"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/eldersafe/eldersafe/bufconn"
)

// Publisher sends the simulator's messages. The runner calls it from one
// goroutine, in time order.
type Publisher interface {
	// Publish sends a device message (m.Device set) or a clock tick. It
	// may return before the broker has acknowledged it.
	Publish(ctx context.Context, m Message) error
	// Flush returns once everything published so far is acknowledged.
	Flush(ctx context.Context) error
}

// Broker auth modes the simulator can publish under (mqtt.broker.auth).
const (
	// AuthDevices: one connection per device, username = device id,
	// password = its secret, as the embedded broker checks by default.
	AuthDevices = "devices"
	// AuthNone: a few shared connections publish for every device, for
	// loads no broker would take one connection per device for.
	AuthNone = "none"
)

// SimUsername is the username clock ticks are published under; the embedded
// broker lets it publish to {prefix}/sim/clock with the admin token.
const SimUsername = "eldersafe-sim"

// MaxDeviceConnections bounds AuthDevices: past it, use AuthNone.
const MaxDeviceConnections = 50_000

// MQTTOptions configure an MQTT publisher.
type MQTTOptions struct {
	URL string
	// Auth is AuthDevices or AuthNone.
	Auth string
	// Secrets gives each device's secret under AuthDevices; its keys are the
	// devices to connect.
	Secrets map[string]string
	// Connections is how many shared connections AuthNone uses.
	Connections int
	// Token is the admin token: the clock connection's password.
	Token string
	// ClientIDPrefix starts every client id.
	ClientIDPrefix string
	// MaxInFlight bounds the messages published and not yet acknowledged;
	// Publish waits for the oldest beyond it.
	MaxInFlight int
	// Parallel is how many connections are opened at a time.
	Parallel int
	Logger   *slog.Logger
}

// MQTTPublisher publishes with QoS 1 over paho connections. It is not safe
// for concurrent use.
type MQTTPublisher struct {
	opts    MQTTOptions
	clock   mqtt.Client
	devices map[string]mqtt.Client // AuthDevices
	shared  []mqtt.Client          // AuthNone
	tokens  []mqtt.Token
}

var _ Publisher = (*MQTTPublisher)(nil)

// DialMQTT connects the clock connection and every device connection.
func DialMQTT(ctx context.Context, opts MQTTOptions) (*MQTTPublisher, error) {
	switch opts.Auth {
	case AuthDevices:
		if len(opts.Secrets) > MaxDeviceConnections {
			return nil, fmt.Errorf("mqtt: --auth devices opens one connection per device, %d here (at most %d): use --auth none with a broker that runs mqtt.broker.auth: none", len(opts.Secrets), MaxDeviceConnections)
		}
	case AuthNone:
		opts.Connections = max(1, opts.Connections)
	default:
		return nil, fmt.Errorf("mqtt: auth %q: want %s or %s", opts.Auth, AuthDevices, AuthNone)
	}
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = 2000
	}
	if opts.Parallel <= 0 {
		opts.Parallel = 32
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	p := &MQTTPublisher{opts: opts, devices: make(map[string]mqtt.Client, len(opts.Secrets))}
	var err error
	if p.clock, err = p.connect(ctx, opts.ClientIDPrefix+"clock", SimUsername, opts.Token); err != nil {
		return nil, err
	}
	if opts.Auth == AuthNone {
		for i := range opts.Connections {
			c, err := p.connect(ctx, opts.ClientIDPrefix+"shared-"+strconv.Itoa(i), SimUsername, opts.Token)
			if err != nil {
				p.Close()
				return nil, err
			}
			p.shared = append(p.shared, c)
		}
		return p, nil
	}
	ids := make([]string, 0, len(opts.Secrets))
	for id := range opts.Secrets {
		ids = append(ids, id)
	}
	var mu sync.Mutex
	err = forEach(ctx, len(ids), opts.Parallel, func(ctx context.Context, i int) error {
		id := ids[i]
		c, err := p.connect(ctx, opts.ClientIDPrefix+id, id, opts.Secrets[id])
		if err != nil {
			return err
		}
		mu.Lock()
		p.devices[id] = c
		mu.Unlock()
		return nil
	})
	if err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

func (p *MQTTPublisher) connect(ctx context.Context, clientID, user, pass string) (mqtt.Client, error) {
	o := mqtt.NewClientOptions().
		AddBroker(p.opts.URL).
		SetClientID(clientID).
		SetUsername(user).
		SetPassword(pass).
		SetCleanSession(true).
		SetAutoReconnect(true).
		SetConnectTimeout(10 * time.Second).
		SetKeepAlive(60 * time.Second).
		SetCustomOpenConnectionFn(bufconn.Open).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			p.opts.Logger.Warn("mqtt connection lost; reconnecting", "client_id", clientID, "err", err)
		})
	c := mqtt.NewClient(o)
	tok := c.Connect()
	select {
	case <-tok.Done():
	case <-ctx.Done():
		c.Disconnect(0)
		return nil, ctx.Err()
	}
	if err := tok.Error(); err != nil {
		return nil, fmt.Errorf("mqtt connect %s as %s: %w", p.opts.URL, user, err)
	}
	return c, nil
}

// Publish sends m with QoS 1 on its device's connection, or on the clock's.
func (p *MQTTPublisher) Publish(ctx context.Context, m Message) error {
	var c mqtt.Client
	switch {
	case m.Device == "":
		c = p.clock
	case p.shared != nil:
		h := fnv.New32a()
		h.Write([]byte(m.Device))
		c = p.shared[h.Sum32()%uint32(len(p.shared))]
	default:
		c = p.devices[m.Device]
		if c == nil {
			return fmt.Errorf("mqtt: no connection for device %s", m.Device)
		}
	}
	p.tokens = append(p.tokens, c.Publish(m.Topic, 1, false, m.Payload))
	if len(p.tokens) >= p.opts.MaxInFlight {
		half := len(p.tokens) / 2
		if err := wait(ctx, p.tokens[:half]); err != nil {
			return err
		}
		p.tokens = append(p.tokens[:0], p.tokens[half:]...)
	}
	return nil
}

// Flush waits for every publish to be acknowledged.
func (p *MQTTPublisher) Flush(ctx context.Context) error {
	err := wait(ctx, p.tokens)
	p.tokens = p.tokens[:0]
	return err
}

func wait(ctx context.Context, tokens []mqtt.Token) error {
	var errs []error
	for _, t := range tokens {
		select {
		case <-t.Done():
		case <-ctx.Done():
			return ctx.Err()
		}
		if err := t.Error(); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("mqtt publish: %d failed: %w", len(errs), errors.Join(errs[:min(len(errs), 3)]...))
	}
	return nil
}

// Close disconnects every connection.
func (p *MQTTPublisher) Close() {
	var wg sync.WaitGroup
	for _, c := range p.all() {
		wg.Go(func() { c.Disconnect(250) })
	}
	wg.Wait()
}

func (p *MQTTPublisher) all() []mqtt.Client {
	all := make([]mqtt.Client, 0, 1+len(p.shared)+len(p.devices))
	if p.clock != nil {
		all = append(all, p.clock)
	}
	all = append(all, p.shared...)
	for _, c := range p.devices {
		all = append(all, c)
	}
	return all
}
