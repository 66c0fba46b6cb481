// Package simulator is a neighbourhood of virtual households that publish over
// MQTT exactly as hardware would (CONTRACT.md §2, §8): residents follow daily
// routines drawn from profiles, their homes' devices report what the routines
// cause, and scripted incidents (a fall, a tap left running, a device that
// dies) break the routine at chosen simulated times. A scenario file lists the
// households, the incidents and the tasks the monitor must open; the checker
// compares them with what the monitor's API reports.
//
// Layout: scenario.go decodes scenario files (timeparse.go their times,
// library.go the embedded ones); profile.go and plan.go make a resident's
// day; household.go (with device.go and incident.go) turns a day into device
// messages; world.go merges every household into one stream in time order;
// run.go paces that stream, sends clock ticks and waits for the monitor;
// mqtt.go and client.go are the two ways out (MQTT and the HTTP API);
// provision.go registers the neighbourhood; expect.go checks the outcome;
// simulate.go strings a whole run together for the commands.
//
// Everything sent is a function of the scenario and its seed: each household
// draws from its own PCG stream, households are merged by (time, index), and
// no wall time or map order reaches a payload.
package simulator
