package registry

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Source is the format a device speaks (CONTRACT.md §14): eldersafe's own
// (native), or that of the off-the-shelf software in front of it.
type Source string

const (
	// SourceNative is the format of CONTRACT.md §2, on the device's own
	// topics. A Device with no Source speaks it.
	SourceNative      Source = "native"
	SourceZigbee2MQTT Source = "zigbee2mqtt"
	SourceTasmota     Source = "tasmota"
	SourceWmbusmeters Source = "wmbusmeters"
)

// Sources lists the formats other than native, each with the device kinds
// it can report for.
var Sources = []Source{SourceZigbee2MQTT, SourceTasmota, SourceWmbusmeters}

// Kinds are the device kinds a source reports for: Zigbee2MQTT's PIRs, door
// contacts, and SOS buttons and leak sensors (as wristband, the kind whose
// SOS opens the sos rule); Tasmota's metering plugs; wmbusmeters' water
// meters.
func (s Source) Kinds() []DeviceKind {
	switch s {
	case SourceZigbee2MQTT:
		return []DeviceKind{MotionSensor, DoorSensor, Wristband}
	case SourceTasmota:
		return []DeviceKind{PowerMeter}
	case SourceWmbusmeters:
		return []DeviceKind{WaterMeter}
	}
	return nil
}

// Gateway is a device that publishes for others (a Zigbee2MQTT or
// wmbusmeters host): it logs in to the embedded broker with its own
// credential and may publish only to the source topics of the devices
// registered to it (GatewayID). It sends no readings of its own, so it is
// not one of DeviceKinds, which the rules know.
const Gateway DeviceKind = "gateway"

// Native reports whether the device speaks eldersafe's own format.
func (d Device) Native() bool { return d.Source == "" || d.Source == SourceNative }

// MaxSourceTopic is the longest source_topic, in bytes.
const MaxSourceTopic = 128

// zigbeeReserved are topic levels Zigbee2MQTT gives a meaning of its own
// under its base topic: no device name may use them, or its messages would
// be taken for the bridge's, for availability or for commands.
var zigbeeReserved = []string{"bridge", "availability", "set", "get"}

// ValidateSourceTopic checks a device's topic on its source: the part of the
// topic after the source's root that names the device (a Zigbee2MQTT
// friendly name, a Tasmota Topic, the last level of a wmbusmeters shell
// command's topic).
func ValidateSourceTopic(s Source, topic string) error {
	bad := func(why string) error { return fmt.Errorf("source_topic %q: %s", topic, why) }
	switch {
	case topic == "":
		return errors.New("source_topic: required for a device with a source")
	case len(topic) > MaxSourceTopic:
		return bad(fmt.Sprintf("longer than %d bytes", MaxSourceTopic))
	case !utf8.ValidString(topic):
		return bad("not valid UTF-8")
	case strings.ContainsAny(topic, "+#") || strings.ContainsFunc(topic, unicode.IsControl):
		return bad("MQTT wildcards (+, #) and control characters are not allowed")
	case strings.TrimSpace(topic) != topic:
		// Mosquitto's acl_file trims them, so its rule would name another topic.
		return bad("leading or trailing blanks are not allowed")
	}
	levels := strings.Split(topic, "/")
	if s != SourceZigbee2MQTT {
		if len(levels) > 1 {
			return bad("one topic level, without '/'")
		}
		return nil
	}
	if slices.Contains(levels, "") {
		return bad("empty topic level (a leading, trailing or double '/')")
	}
	for _, l := range levels {
		if slices.Contains(zigbeeReserved, l) {
			return bad(fmt.Sprintf("level %q is Zigbee2MQTT's own (%s)", l, strings.Join(zigbeeReserved, ", ")))
		}
	}
	if last := levels[len(levels)-1]; len(levels) > 1 && strings.Trim(last, "0123456789") == "" {
		return bad("Zigbee2MQTT refuses a friendly name ending in /DIGITS")
	}
	if levels[0] == string(SourceZigbee2MQTT) {
		return bad("give the friendly name alone, without the zigbee2mqtt/ topic root")
	}
	return nil
}

// validateSource checks a device's source fields against its kind.
func (d Device) validateSource() error {
	if d.Kind == Gateway || d.Native() {
		var errs []error
		if d.Kind == Gateway && !d.Native() {
			errs = append(errs, fmt.Errorf("source %q: a gateway is native; the devices it serves have sources", d.Source))
		}
		if d.SourceTopic != "" {
			errs = append(errs, errors.New("source_topic: only for a device with a source"))
		}
		if d.GatewayID != "" {
			errs = append(errs, errors.New("gateway_id: only for a device with a source"))
		}
		return errors.Join(errs...)
	}
	if !slices.Contains(Sources, d.Source) {
		return fmt.Errorf("source %q: must be native, zigbee2mqtt, tasmota or wmbusmeters", d.Source)
	}
	errs := []error{ValidateSourceTopic(d.Source, d.SourceTopic), OptionalID("gateway_id", d.GatewayID)}
	if kinds := d.Source.Kinds(); !slices.Contains(kinds, d.Kind) {
		errs = append(errs, fmt.Errorf("kind %q: %s reports for %s", d.Kind, d.Source, joinKinds(kinds)))
	}
	if d.GatewayID != "" && d.GatewayID == d.ID {
		errs = append(errs, errors.New("gateway_id: a device cannot be its own gateway"))
	}
	return errors.Join(errs...)
}

func joinKinds(kinds []DeviceKind) string {
	s := make([]string, len(kinds))
	for i, k := range kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}
