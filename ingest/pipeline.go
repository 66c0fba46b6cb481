package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/eldersafe/eldersafe/clock"
	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
)

// Devices finds a registered device by id, or by its topic on a source.
type Devices interface {
	Device(ctx context.Context, id string) (registry.Device, error)
	SourceDevice(ctx context.Context, source registry.Source, topic string) (registry.Device, error)
}

// PipelineOptions wire a Pipeline.
type PipelineOptions struct {
	Prefix  string
	Devices Devices
	// Handle applies a valid reading (rules, tasks). An error means its
	// effect is not stored, so the message must not be acknowledged; else
	// the channel closes once all it changed is stored, and then it may be.
	Handle func(ctx context.Context, r rules.Reading) (durable <-chan struct{}, err error)
	// Bound bounds a message's ts: more than clock.MaxFuture after its now
	// is rejected.
	Bound clock.Clock
	// Sources are the formats taken besides eldersafe's own (CONTRACT.md
	// §14); the zero value takes none.
	Sources Sources
	// Zone is a household's time zone, in which a Tasmota Time without
	// offset is read. Nil: UTC.
	Zone       func(householdID string) *time.Location
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Pipeline takes one MQTT message from topic and payload to an applied reading:
// parse, look up the device, decode, drop duplicates, handle.
type Pipeline struct {
	opts     PipelineOptions
	devices  *deviceCache // positive lookups only
	bySource sync.Map     // sourceKey → registry.Device, the same devices
	accepted *prometheus.CounterVec
	rejected *prometheus.CounterVec
	logs     rejectLog
}

// NewPipeline checks the options and registers the ingest metrics.
func NewPipeline(opts PipelineOptions) (*Pipeline, error) {
	if opts.Devices == nil || opts.Handle == nil || opts.Bound == nil {
		return nil, errors.New("ingest: devices, handle and bound are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	if opts.Zone == nil {
		opts.Zone = func(string) *time.Location { return time.UTC }
	}
	f := promauto.With(opts.Registerer)
	p := &Pipeline{
		opts:    opts,
		devices: newDeviceCache(),
		accepted: f.NewCounterVec(prometheus.CounterOpts{
			Name: "eldersafe_ingest_messages_total",
			Help: "Device messages accepted, by device kind and stream.",
		}, []string{"kind", "stream"}),
		rejected: f.NewCounterVec(prometheus.CounterOpts{
			Name: "eldersafe_ingest_rejected_total",
			Help: "Device messages dropped, by reason.",
		}, []string{"reason"}),
		logs: rejectLog{logger: opts.Logger, every: 10 * time.Second},
	}
	for _, r := range Reasons {
		p.rejected.WithLabelValues(string(r))
	}
	return p, nil
}

// Reserve sizes the device cache for about n devices, before start-up
// hands them to Remember.
func (p *Pipeline) Reserve(n int) { p.devices.reserve(n) }

// Remember caches what ingest needs of a device: its kind, household and
// source, not its secret's hash. Start-up hands it every registered device,
// so that after a restart a device's first message costs no store lookup
// (about 80 µs each, a minute of CPU for 900,000 devices). Safe for
// concurrent use.
func (p *Pipeline) Remember(d registry.Device) {
	d.SecretHash = ""
	p.devices.store(d)
	if !d.Native() {
		p.bySource.Store(sourceKey(d.Source, d.SourceTopic), d)
	}
}

func sourceKey(src registry.Source, topic string) string {
	// No source topic holds a control character (registry.ValidateSourceTopic).
	return string(src) + "\x00" + topic
}

// Ingest processes one message. A rejected message returns a *RejectError and
// changes nothing; any other error means handling failed and the message must
// come again. On success the channel closes once what the message changed is
// stored: then it may be acknowledged.
func (p *Pipeline) Ingest(ctx context.Context, topic string, payload []byte) (<-chan struct{}, error) {
	// Read once: it bounds the message's ts and caps the lane's newest time.
	now := p.opts.Bound.Now()
	m, err := p.message(ctx, topic, payload, now)
	if err != nil {
		if reason := ReasonOf(err); reason != "" {
			p.rejected.WithLabelValues(string(reason)).Inc()
			p.logs.log(reason, topic, err)
		}
		return nil, err
	}
	r := m.Reading
	record(ctx, r.TS, now)
	durable, err := p.opts.Handle(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("handle %s from %s: %w", r.Stream, r.DeviceID, err)
	}
	if m.HasSeq {
		// Recorded only now: a message whose handling failed will come again.
		p.devices.record(r.DeviceID, fingerprint(m.Seq, r))
	}
	p.accepted.WithLabelValues(string(r.Kind), string(r.Stream)).Inc()
	return durable, nil
}

func (p *Pipeline) message(ctx context.Context, topic string, payload []byte, now time.Time) (Message, error) {
	if st, ok := p.opts.Sources.Parse(topic); ok {
		return p.sourceMessage(ctx, topic, st, payload, now)
	}
	deviceID, stream, err := ParseTopic(p.opts.Prefix, topic)
	if err != nil {
		return Message{}, err
	}
	if len(payload) > MaxPayload {
		// Checked before the lookup so an oversized message costs no database work.
		return Message{}, reject(ReasonTooLarge, "payload is %d bytes, limit %d", len(payload), MaxPayload)
	}
	dev, err := p.Device(ctx, deviceID)
	if err != nil {
		return Message{}, err
	}
	m, err := Decode(dev.Kind, stream, payload, now)
	if err != nil {
		return Message{}, err
	}
	if m.HasSeq && p.devices.duplicate(deviceID, fingerprint(m.Seq, m.Reading)) {
		return Message{}, reject(ReasonDuplicate, "device %s: seq %d already seen", deviceID, m.Seq)
	}
	m.Reading.DeviceID, m.Reading.HouseholdID = dev.ID, dev.HouseholdID
	return m, nil
}

// sourceMessage is message for a topic of a source (CONTRACT.md §14): the
// device registered on the topic, the source's own format, the same dedup.
func (p *Pipeline) sourceMessage(ctx context.Context, topic string, st SourceTopic, payload []byte, now time.Time) (Message, error) {
	if st.role != roleReading {
		return Message{}, reject(ReasonBadTopic, "topic %q: carries no %s readings", topic, st.Source)
	}
	if len(payload) > MaxPayload {
		return Message{}, reject(ReasonTooLarge, "payload is %d bytes, limit %d", len(payload), MaxPayload)
	}
	dev, err := p.sourceDevice(ctx, st.Source, st.Name)
	if err != nil {
		return Message{}, err
	}
	m, err := DecodeSource(st.Source, dev.Kind, payload, p.opts.Zone(dev.HouseholdID), now)
	if err != nil {
		return Message{}, err
	}
	if p.devices.duplicate(dev.ID, fingerprint(m.Seq, m.Reading)) {
		return Message{}, reject(ReasonDuplicate, "device %s: the same message, stamped the same time, was taken already", dev.ID)
	}
	m.Reading.DeviceID, m.Reading.HouseholdID = dev.ID, dev.HouseholdID
	return m, nil
}

func (p *Pipeline) sourceDevice(ctx context.Context, src registry.Source, topic string) (registry.Device, error) {
	if d, ok := p.bySource.Load(sourceKey(src, topic)); ok {
		return d.(registry.Device), nil
	}
	d, err := p.opts.Devices.SourceDevice(ctx, src, topic)
	if errors.Is(err, registry.ErrNotFound) {
		return registry.Device{}, reject(ReasonUnknownDevice, "no device is registered on %s topic %q", src, topic)
	}
	if err != nil {
		return registry.Device{}, fmt.Errorf("look up %s device %q: %w", src, topic, err)
	}
	p.Remember(d)
	return d, nil
}

// Alarming says whether a message on topic comes from a wristband, as far
// as the device cache knows: its falls and SOS presses go before the other
// devices' events waiting at the alarm lane's worker. It looks nothing up
// in the store: the broker hands messages over on its own goroutines.
func (p *Pipeline) Alarming(topic string) bool {
	var (
		dev registry.Device
		ok  bool
	)
	if st, source := p.opts.Sources.Parse(topic); source {
		var d any
		if d, ok = p.bySource.Load(sourceKey(st.Source, st.Name)); ok {
			dev = d.(registry.Device)
		}
	} else if id, _, err := ParseTopic(p.opts.Prefix, topic); err == nil {
		dev, ok = p.devices.load(id)
	}
	return ok && dev.Kind == registry.Wristband
}

// MayPublish reports whether the device id may publish to topic, a topic of
// an enabled source: one that names a device is that device's and its
// gateway's; a bridge topic (Zigbee2MQTT's own state) is every gateway's;
// a command topic nobody's. It is the embedded broker's rule for source
// topics (CONTRACT.md §14), and Sources.PublishFilters the same rule as
// topic filters.
func (p *Pipeline) MayPublish(ctx context.Context, id, topic string) bool {
	st, ok := p.opts.Sources.Parse(topic)
	if !ok {
		return false
	}
	switch st.role {
	case roleReading, roleDevice:
		d, err := p.sourceDevice(ctx, st.Source, st.Name)
		return err == nil && (d.ID == id || d.GatewayID == id)
	case roleBridge:
		d, err := p.Device(ctx, id)
		return err == nil && d.Kind == registry.Gateway
	}
	return false
}

// Device is a registered device as ingest knows it (without its secret's
// hash): from its cache, or else from the store; one not registered is a
// *RejectError.
func (p *Pipeline) Device(ctx context.Context, id string) (registry.Device, error) {
	if d, ok := p.devices.load(id); ok {
		return d, nil
	}
	d, err := p.opts.Devices.Device(ctx, id)
	if errors.Is(err, registry.ErrNotFound) {
		return registry.Device{}, reject(ReasonUnknownDevice, "device %q is not registered", id)
	}
	if err != nil {
		return registry.Device{}, fmt.Errorf("look up device %s: %w", id, err)
	}
	p.Remember(d)
	return d, nil
}

// rejectLog logs rejected messages at most once per reason per interval, with
// a count of those it held back: a broken device must not flood the log.
type rejectLog struct {
	logger *slog.Logger
	every  time.Duration
	mu     sync.Mutex
	last   map[Reason]time.Time
	held   map[Reason]int
}

func (l *rejectLog) log(reason Reason, topic string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last == nil {
		l.last, l.held = make(map[Reason]time.Time), make(map[Reason]int)
	}
	now := time.Now()
	if now.Sub(l.last[reason]) < l.every {
		l.held[reason]++
		return
	}
	l.logger.Warn("message rejected", "reason", reason, "topic", topic, "err", err, "suppressed_since_last", l.held[reason])
	l.last[reason], l.held[reason] = now, 0
}

// ForgetHouseholdsUnless drops every device, gateways too, of the
// households keep says no to: a standby's, which learns of an erasure
// only as households no longer registered. It looks at every device
// cached: seconds at millions of them.
func (p *Pipeline) ForgetHouseholdsUnless(keep func(householdID string) bool) {
	p.ForgetDevices(p.devices.devicesUnless(keep)...)
}

// ForgetDevices drops devices from the lookup cache and the duplicate
// filter, once they are deregistered (their household deleted): their next
// message is looked up again, and rejected as unknown_device.
func (p *Pipeline) ForgetDevices(ids ...string) {
	for _, id := range ids {
		if d, ok := p.devices.remove(id); ok && !d.Native() {
			p.bySource.Delete(sourceKey(d.Source, d.SourceTopic))
		}
	}
}
