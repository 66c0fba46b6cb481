//go:build race

package trust

// raceDetector is on: the store, SQLite compiled from C to Go, runs many
// times slower under it.
const raceDetector = true
