package simulator

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/eldersafe/eldersafe/registry"
)

// Topic roots of the sources the simulator speaks: each project's default,
// which a monitor's sources.<name>.topic_root must be.
const (
	Zigbee2MQTTRoot = "zigbee2mqtt"
	TasmotaRoot     = "tele"
	WmbusmetersRoot = "wmbusmeters"
)

// gatewaySuffix ends the id of a household's gateway: the host that runs
// Zigbee2MQTT and wmbusmeters and publishes for their devices.
const gatewaySuffix = "gw"

// canSpeak says why the named device cannot speak src, if it cannot.
func canSpeak(name string, src registry.Source) error {
	i := deviceIndex(name)
	switch {
	case i < 0:
		return fmt.Errorf("unknown device %q (known: %s)", name, strings.Join(DeviceNames(), ", "))
	case !slices.Contains(registry.Sources, src):
		return fmt.Errorf("%s: source %q: want zigbee2mqtt, tasmota or wmbusmeters", name, src)
	case i == wristband:
		// Zigbee2MQTT's SOS buttons know no fall, no wear, no pulse.
		return fmt.Errorf("%s: the simulated wristband reports falls and wear, which %s does not carry", name, src)
	case !slices.Contains(src.Kinds(), roles[i].kind):
		return fmt.Errorf("%s: %s reports no %s", name, src, roles[i].kind)
	}
	return nil
}

// needsGateway reports whether a source's devices publish through a gateway:
// Zigbee2MQTT's and wmbusmeters' do; a Tasmota plug is its own MQTT client.
func needsGateway(src registry.Source) bool {
	return src == registry.SourceZigbee2MQTT || src == registry.SourceWmbusmeters
}

// sourceTopic is the name of device i on its source's topics: a Zigbee2MQTT
// friendly name with a '/' in it, as households' names are often written;
// the device id as Tasmota's Topic and as wmbusmeters' meter name.
func (h *household) sourceTopic(i int) string {
	if h.src[i] == registry.SourceZigbee2MQTT {
		return h.fullID + "/" + roles[i].suffix
	}
	return h.dev[i].id
}

// native is what the simulator reads back of a payload it wrote in
// eldersafe's format, to say it again in a source's.
type native struct {
	TS          string   `json:"ts"`
	Motion      *bool    `json:"motion"`
	Open        *bool    `json:"open"`
	BatteryPct  *float64 `json:"battery_pct"`
	TotalLiters *float64 `json:"total_liters"`
	TotalKWh    *float64 `json:"total_kwh"`
	PowerW      *float64 `json:"power_w"`
}

// speak says m, which device i wrote in eldersafe's format, in the device's
// source's, on its topic and over the connection of whoever publishes for
// it. A payload that is not a message (garbage) goes out as it is.
func (h *household) speak(i int, m Message) Message {
	src := h.src[i]
	if src == "" {
		return m
	}
	if needsGateway(src) {
		m.Device = h.gateway
	}
	name := h.sourceTopic(i)
	switch src {
	case registry.SourceZigbee2MQTT:
		m.Topic = Zigbee2MQTTRoot + "/" + name
	case registry.SourceTasmota:
		m.Topic = TasmotaRoot + "/" + name + "/SENSOR"
	case registry.SourceWmbusmeters:
		m.Topic = WmbusmetersRoot + "/" + name
	}
	var n native
	if json.Unmarshal(m.Payload, &n) != nil {
		return m
	}
	ts, err := time.Parse(time.RFC3339, n.TS)
	if err != nil {
		return m
	}
	var b strings.Builder
	field := func(key, value string) {
		if b.Len() == 0 {
			b.WriteByte('{')
		} else {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Quote(key) + ":" + value)
	}
	num := func(v float64, prec int) string { return strconv.FormatFloat(v, 'f', prec, 64) }
	switch src {
	case registry.SourceZigbee2MQTT:
		// The properties the converters of an Aqara PIR and door contact
		// expose, and last_seen as ISO_8601.
		if n.Motion != nil {
			field("occupancy", strconv.FormatBool(*n.Motion))
		}
		if n.Open != nil {
			field("contact", strconv.FormatBool(!*n.Open))
		}
		if n.BatteryPct != nil {
			field("battery", num(*n.BatteryPct, 0))
		}
		field("last_seen", strconv.Quote(ts.UTC().Format("2006-01-02T15:04:05.000Z")))
	case registry.SourceTasmota:
		// Local time without offset, as Tasmota sends it by default; a
		// plug has no battery.
		field("Time", strconv.Quote(ts.In(h.loc).Format("2006-01-02T15:04:05")))
		if n.TotalKWh != nil {
			energy := `{"Total":` + num(*n.TotalKWh, 3)
			if n.PowerW != nil {
				energy += `,"Power":` + num(*n.PowerW, 0)
			}
			field("ENERGY", energy+`,"Voltage":230}`)
		}
	case registry.SourceWmbusmeters:
		field("_", `"telegram"`)
		field("media", `"water"`)
		field("meter", `"iperl"`)
		field("name", strconv.Quote(name))
		if n.TotalLiters != nil {
			// Four decimals: the tenth of a litre the simulated register counts.
			field("total_m3", num(*n.TotalLiters/1000, 4))
		}
		field("timestamp", strconv.Quote(ts.UTC().Format("2006-01-02T15:04:05Z")))
	}
	b.WriteByte('}')
	m.Payload = []byte(b.String())
	return m
}
