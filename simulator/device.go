package simulator

import (
	"strconv"
	"time"

	"github.com/eldersafe/eldersafe/registry"
)

// Devices of a household, by index in household.dev.
const (
	waterMeter = iota
	powerMeter
	doorSensor
	wristband
	firstPIR   // one PIR per room, in place order
	numDevices = firstPIR + numRooms
)

// role is what a device is in every simulated home.
type role struct {
	// name is how a scenario names the device: water_meter, pir_kitchen, ...
	name string
	// suffix ends the device id: {household}-{suffix}.
	suffix string
	kind   registry.DeviceKind
	// period is how often it sends telemetry, in seconds: the meters report
	// their registers every 15 minutes, every other device sends a battery
	// heartbeat hourly (CONTRACT §3).
	period int64
}

var roles = [numDevices]role{
	{"water_meter", "wm", registry.WaterMeter, 15 * minute},
	{"power_meter", "pm", registry.PowerMeter, 15 * minute},
	{"door_sensor", "door", registry.DoorSensor, 60 * minute},
	{"wristband", "wb", registry.Wristband, 60 * minute},
	{"pir_bedroom", "pir-bedroom", registry.MotionSensor, 60 * minute},
	{"pir_bathroom", "pir-bathroom", registry.MotionSensor, 60 * minute},
	{"pir_kitchen", "pir-kitchen", registry.MotionSensor, 60 * minute},
	{"pir_living_room", "pir-living-room", registry.MotionSensor, 60 * minute},
	{"pir_hall", "pir-hall", registry.MotionSensor, 60 * minute},
}

// DeviceNames lists the names a scenario gives a household's devices.
func DeviceNames() []string {
	names := make([]string, numDevices)
	for i, r := range roles {
		names[i] = r.name
	}
	return names
}

func deviceIndex(name string) int {
	for i, r := range roles {
		if r.name == name {
			return i
		}
	}
	return -1
}

// Battery drain and charge, in percent per hour.
const (
	wornDrain   = -2.2  // a 4G wristband worn through the day
	chargeRate  = 30    // on its charger
	idleDrain   = -0.01 // coin cells and meter batteries: years
	faultDrain  = -6    // battery_dies: a cell that gives out
	meterDrain  = -0.002
	maxBattery  = 100
	deadBattery = 0
)

// battery is a level that changes at a constant rate between updates.
type battery struct {
	level float64 // percent
	at    int64   // when level was true
	rate  float64 // percent per hour
	// dying is a fault that drains the cell whatever else happens.
	dying bool
}

func (b *battery) update(t int64) {
	if t <= b.at {
		return
	}
	b.level += b.rate * float64(t-b.at) / 3600
	b.level = min(maxBattery, max(deadBattery, b.level))
	b.at = t
}

func (b *battery) setRate(t int64, rate float64) {
	b.update(t)
	if !b.dying {
		b.rate = rate
	}
}

// device is one device's state.
type device struct {
	id      string
	seq     uint64
	next    int64 // next telemetry
	battery battery
	// off and skew are spans [from, until) in which the device is silent,
	// or stamps a far-future ts.
	off, skew [2]int64
	dead      bool
	// stuck is a span in which it senses nothing (sensor_stuck); a meter
	// then repeats frozen, the register it showed when it stuck.
	stuck  [2]int64
	frozen float64
}

func within(span [2]int64, t int64) bool { return span[1] > span[0] && t >= span[0] && t < span[1] }

// payload writes JSON objects field by field, in a fixed order, so that the
// same seed gives the same bytes.
type payload []byte

func newPayload(ts int64, loc *time.Location, seq uint64) payload {
	b := make(payload, 0, 128)
	b = append(b, `{"ts":"`...)
	b = time.Unix(ts, 0).In(loc).AppendFormat(b, time.RFC3339)
	b = append(b, '"')
	if seq > 0 {
		b = append(b, `,"seq":`...)
		b = strconv.AppendUint(b, seq, 10)
	}
	return b
}

func (b payload) num(key string, v float64, prec int) payload {
	b = append(b, `,"`...)
	b = append(b, key...)
	b = append(b, `":`...)
	return strconv.AppendFloat(b, v, 'f', prec, 64)
}

func (b payload) boolean(key string, v bool) payload {
	b = append(b, `,"`...)
	b = append(b, key...)
	b = append(b, `":`...)
	return strconv.AppendBool(b, v)
}

func (b payload) str(key, v string) payload {
	b = append(b, `,"`...)
	b = append(b, key...)
	b = append(b, `":`...)
	return strconv.AppendQuote(b, v)
}

func (b payload) end() []byte { return append(b, '}') }
