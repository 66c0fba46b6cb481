package rules

import (
	"fmt"
	"slices"
	"strings"
)

// SwitchSensorHealth names sensor health (health.go) among Switches: off, a
// welfare rule fires on a sensor until device_offline finds it silent rather
// than from the moment it is stale, and no home is called unmonitored.
const SwitchSensorHealth = "sensor_health"

// SwitchPresumedOut names the pause of the rules that watch a resident at
// home while the resident is presumed out (absence.go): off, water_no_use
// and power_no_use count on while the home looks left, and no_motion waits
// for as long as it does, as before there was a ceiling.
const SwitchPresumedOut = "presumed_out"

// Switches lists what `rules.<name>.enabled` turns off: every rule the
// engine raises from its own state (those of Table with thresholds), sensor
// health and the presumed-out pause. The alarms a resident or a device raises on purpose (fall,
// sos) have no switch: a slip in a config file must never silence them.
var Switches = func() []string {
	var names []string
	for _, r := range Table {
		if len(r.Params) > 0 {
			names = append(names, r.Name)
		}
	}
	return append(names, SwitchSensorHealth, SwitchPresumedOut)
}()

// Enabled reports whether the switch called name is on; anything that is not
// a switch is always on.
func (c *Config) Enabled(name string) bool {
	i := slices.Index(Switches, name)
	return i < 0 || c.off&(1<<i) == 0
}

// WithEnabled returns c with the switch called name turned on or off.
func (c Config) WithEnabled(name string, on bool) (Config, error) {
	i := slices.Index(Switches, name)
	if i < 0 {
		return Config{}, fmt.Errorf("%s.enabled: not a switch (known: %s)", name, strings.Join(Switches, ", "))
	}
	if on {
		c.off &^= 1 << i
	} else {
		c.off |= 1 << i
	}
	return c, nil
}
