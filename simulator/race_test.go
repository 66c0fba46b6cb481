//go:build race

package simulator

// raceDetector is on: the race detector slows the broker, the monitor and the
// simulator several times over.
const raceDetector = true
