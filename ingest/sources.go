package ingest

import (
	"strings"

	"github.com/eldersafe/eldersafe/registry"
)

// Sources are the formats besides eldersafe's own that ingest takes
// (CONTRACT.md §14), each by the root of its topics. An empty root leaves
// that source off; the zero value takes none.
type Sources struct {
	Zigbee2MQTT string // "zigbee2mqtt": {root}/{friendly name}
	Tasmota     string // "tele": {root}/{topic}/SENSOR
	Wmbusmeters string // "wmbusmeters": {root}/{name}
}

// topicRole is what a topic under a source's root is for.
type topicRole uint8

const (
	// roleReading carries a device's readings.
	roleReading topicRole = iota + 1
	// roleDevice is a device's own but carries no reading: Zigbee2MQTT's
	// {name}/availability, Tasmota's tele/{topic}/LWT and STATE.
	roleDevice
	// roleBridge is a gateway's own: Zigbee2MQTT's bridge/... (its state,
	// its Last Will, its device list).
	roleBridge
	// roleCommand is for a device, from others: Zigbee2MQTT's {name}/set
	// and /get.
	roleCommand
)

// SourceTopic is a topic of a source, parsed.
type SourceTopic struct {
	Source registry.Source
	// Name is the device's source_topic; empty for a bridge topic.
	Name string
	role topicRole
}

// Parse reads a topic under an enabled source's root. ok is false for any
// other topic (a native one among them).
func (s Sources) Parse(topic string) (st SourceTopic, ok bool) {
	if rest, ok := under(s.Zigbee2MQTT, topic); ok {
		return parseZigbee(rest)
	}
	if rest, ok := under(s.Tasmota, topic); ok {
		// Tasmota's default FullTopic, %prefix%/%topic%/: tele/{topic}/SENSOR,
		// .../STATE, .../LWT.
		name, suffix, ok := strings.Cut(rest, "/")
		if !ok || name == "" || suffix == "" || strings.Contains(suffix, "/") {
			return SourceTopic{}, false
		}
		role := roleDevice
		if suffix == "SENSOR" {
			role = roleReading
		}
		return SourceTopic{Source: registry.SourceTasmota, Name: name, role: role}, true
	}
	if rest, ok := under(s.Wmbusmeters, topic); ok && rest != "" && !strings.Contains(rest, "/") {
		return SourceTopic{Source: registry.SourceWmbusmeters, Name: rest, role: roleReading}, true
	}
	return SourceTopic{}, false
}

// under returns what follows root/ in topic.
func under(root, topic string) (string, bool) {
	if root == "" {
		return "", false
	}
	return strings.CutPrefix(topic, root+"/")
}

// parseZigbee reads what follows Zigbee2MQTT's base topic. A friendly name
// may contain '/', but not the levels Zigbee2MQTT gives a meaning of its
// own (registry.ValidateSourceTopic), so those mark the other topics.
func parseZigbee(rest string) (SourceTopic, bool) {
	if rest == "bridge" || strings.HasPrefix(rest, "bridge/") {
		return SourceTopic{Source: registry.SourceZigbee2MQTT, role: roleBridge}, true
	}
	st := SourceTopic{Source: registry.SourceZigbee2MQTT, Name: rest, role: roleReading}
	levels := strings.Split(rest, "/")
	n := len(levels)
	switch {
	case levels[n-1] == "availability":
		st.Name, st.role = strings.Join(levels[:n-1], "/"), roleDevice
	case levels[n-1] == "set" || levels[n-1] == "get":
		st.Name, st.role = strings.Join(levels[:n-1], "/"), roleCommand
	case n > 1 && (levels[n-2] == "set" || levels[n-2] == "get"):
		st.Name, st.role = strings.Join(levels[:n-2], "/"), roleCommand
	}
	return st, st.Name != ""
}

// Reading reports whether topic carries readings of an enabled source.
func (s Sources) Reading(topic string) bool {
	st, ok := s.Parse(topic)
	return ok && st.role == roleReading
}

// Alarm reports whether topic is a source's on the alarm lane. Zigbee2MQTT
// reports PIRs, doors, SOS buttons and leaks, events all (a native device
// sends them on its event stream); the meters of Tasmota and wmbusmeters
// are telemetry.
func (s Sources) Alarm(topic string) bool {
	st, ok := s.Parse(topic)
	return ok && st.role == roleReading && st.Source == registry.SourceZigbee2MQTT
}

// Filters are the MQTT subscriptions that take every enabled source's
// readings: alarm ones for the alarm lane's session, the others for the
// main session. Zigbee2MQTT's takes its bridge's messages too (friendly
// names may contain '/'); they are acknowledged and dropped.
func (s Sources) Filters() (alarm, telemetry []string) {
	if s.Zigbee2MQTT != "" {
		alarm = append(alarm, s.Zigbee2MQTT+"/#")
	}
	if s.Tasmota != "" {
		telemetry = append(telemetry, s.Tasmota+"/+/SENSOR")
	}
	if s.Wmbusmeters != "" {
		telemetry = append(telemetry, s.Wmbusmeters+"/+")
	}
	return alarm, telemetry
}

// PublishFilters are the topics that whoever publishes for d (its gateway,
// or d itself) may publish to: its readings and the topics a device of its
// source publishes about itself. Nil when d has no enabled source.
func (s Sources) PublishFilters(d registry.Device) []string {
	switch d.Source {
	case registry.SourceZigbee2MQTT:
		if s.Zigbee2MQTT != "" {
			t := s.Zigbee2MQTT + "/" + d.SourceTopic
			return []string{t, t + "/availability"}
		}
	case registry.SourceTasmota:
		if s.Tasmota != "" {
			return []string{s.Tasmota + "/" + d.SourceTopic + "/+"}
		}
	case registry.SourceWmbusmeters:
		if s.Wmbusmeters != "" {
			return []string{s.Wmbusmeters + "/" + d.SourceTopic}
		}
	}
	return nil
}

// GatewayFilters are the topics every gateway may publish to besides its
// devices': Zigbee2MQTT's bridge topics, where its own state (and Last
// Will) goes.
func (s Sources) GatewayFilters() []string {
	if s.Zigbee2MQTT == "" {
		return nil
	}
	return []string{s.Zigbee2MQTT + "/bridge/#"}
}
