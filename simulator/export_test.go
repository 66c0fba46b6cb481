package simulator

// LibraryFile gives the fuzz test the embedded library's bytes as its corpus.
var LibraryFile = func(name string) ([]byte, error) { return library.ReadFile("scenarios/" + name) }
