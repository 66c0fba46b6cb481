package rules

import (
	"testing"
	"time"
)

func TestEngine_Location(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(DefaultConfig(), time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.SetHousehold("h1", Settings{Location: paris}); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]*time.Location{"h1": paris, "h2": time.UTC} {
		if got := e.Location(id); got != want {
			t.Errorf("Location(%s) = %v, want %v", id, got, want)
		}
	}
}

// TestEngine_DefaultZoneIsNoZone: a household registered with the engine's
// own zone keeps no settings of its own (a million of them would cost a
// restart and memory), and still runs in that zone.
func TestEngine_DefaultZoneIsNoZone(t *testing.T) {
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	again, err := time.LoadLocation("Asia/Shanghai") // another value, the same zone
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(DefaultConfig(), shanghai)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.SetHousehold("h1", Settings{Location: again}); err != nil {
		t.Fatal(err)
	}
	if got := e.Location("h1"); got.String() != "Asia/Shanghai" {
		t.Errorf("Location(h1) = %v, want Asia/Shanghai", got)
	}
	s := e.shard("h1")
	if h := s.households["h1"]; h == nil || h.settings != nil {
		t.Errorf("h1's settings = %+v, want none", h)
	}
}
