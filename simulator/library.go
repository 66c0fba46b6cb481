package simulator

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
)

// library holds the scenarios that ship with the binary.
//
//go:embed scenarios/*.yaml
var library embed.FS

// Library lists the scenarios that ship with the binary, by file name.
func Library() []string {
	entries, _ := fs.ReadDir(library, "scenarios") // embedded: cannot fail
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names
}

// Load reads a scenario from a file, or from the library when no file of that
// name exists: "fall.yaml" and "fall" both name the library's fall scenario.
func Load(name string) (*Scenario, error) {
	data, err := os.ReadFile(name)
	if err == nil {
		return Decode(name, data)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	base := name
	if !strings.HasSuffix(base, ".yaml") {
		base += ".yaml"
	}
	if path.Base(base) == base {
		if data, err := library.ReadFile("scenarios/" + base); err == nil {
			return Decode(base, data)
		}
	}
	return nil, fmt.Errorf("scenario %q: no such file, and the library has none of that name (it has %s)", name, strings.Join(Library(), ", "))
}
