package registry

import (
	"fmt"
	"sync"
	"time"
)

// locations holds every time zone loaded, by name.
var locations sync.Map // string → *time.Location

// LoadLocation is time.LoadLocation, loading each zone once: the standard
// library reads and parses the zone's file at every call, about 700 bytes
// kept per call, so a million households in Asia/Shanghai held a million
// copies of it. A *time.Location is never changed once loaded, so every
// household in a zone can share one.
func LoadLocation(name string) (*time.Location, error) {
	if loc, ok := locations.Load(name); ok {
		return loc.(*time.Location), nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", name, err)
	}
	actual, _ := locations.LoadOrStore(name, loc)
	return actual.(*time.Location), nil
}
