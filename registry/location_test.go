package registry

import "testing"

func TestLoadLocation(t *testing.T) {
	a, err := LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	if a != b || a.String() != "Asia/Shanghai" {
		t.Errorf("two loads of Asia/Shanghai: %p %q, %p %q; want one shared location", a, a, b, b)
	}
	if loc, err := LoadLocation("Mars/Olympus_Mons"); err == nil {
		t.Errorf("an unknown zone loaded: %v", loc)
	}
}
