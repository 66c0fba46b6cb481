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
