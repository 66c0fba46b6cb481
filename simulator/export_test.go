package simulator

// LibraryFile gives the fuzz test the embedded library's bytes as its corpus.
var LibraryFile = func(name string) ([]byte, error) { return library.ReadFile("scenarios/" + name) }

// RaceDetector tells the external tests whether the race detector is on.
const RaceDetector = raceDetector
