package rules

import (
	"errors"
	"fmt"
	"time"
)

// Config holds the global thresholds of every rule the engine runs.
type Config struct {
	// WaterNoUse: the meter keeps reporting but its register has not risen for this long.
	WaterNoUse time.Duration
	// DeviceOffline: a device silent this long is offline; a silent meter is
	// never read as an unused one. WristbandOffline applies to wristbands.
	DeviceOffline    time.Duration
	WristbandOffline time.Duration
}

// DefaultConfig holds the contract's defaults.
func DefaultConfig() Config {
	return Config{
		WaterNoUse:       12 * time.Hour,
		DeviceOffline:    6 * time.Hour,
		WristbandOffline: 2 * time.Hour,
	}
}

// Validate names every threshold that is out of range.
func (c Config) Validate() error {
	var errs []error
	positive := func(name string, d time.Duration) {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, got %v", name, d))
		}
	}
	positive("rules.water_no_use.hours", c.WaterNoUse)
	positive("rules.device_offline.hours", c.DeviceOffline)
	positive("rules.device_offline.wristband_hours", c.WristbandOffline)
	return errors.Join(errs...)
}
