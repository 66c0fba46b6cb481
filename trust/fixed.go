package trust

// Switch is one setting that turns a part of the decision step off.
type Switch struct {
	// Key is the config key (app.Config, as in configs/eldersafe.yaml).
	Key   string
	Value any
	// Off says what setting it turns off.
	Off string
}

// FixedRules are the settings that make the decision step the
// fixed-threshold rules alone: every rule fires on its one signal at its
// threshold and a worker is sent at once. The report runs the population a
// second time with every one of them this build knows; a feature that can be
// turned off for the comparison adds its switch here.
var FixedRules = []Switch{
	{Key: "tasks.verify_window", Value: "0s", Off: "verification before dispatch (a welfare task opens at once, no verifying phase; corroboration moot)"},
	{Key: "rules.unusual_quiet.enabled", Value: false, Off: "the learned baseline unusual_quiet"},
	{Key: "rules.late_wake.enabled", Value: false, Off: "the learned baseline late_wake"},
	{Key: "rules.sensor_health.enabled", Value: false, Off: "sensor health: stale inputs silencing welfare rules"},
	{Key: "rules.presumed_out.enabled", Value: false, Off: "the presumed-out pause of water_no_use and power_no_use, and no_motion's ceiling"},
}
