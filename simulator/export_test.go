package simulator

// libraryFile exposes the embedded library's bytes to the fuzz test's corpus.
var LibraryFile = func(name string) ([]byte, error) { return library.ReadFile("scenarios/" + name) }
