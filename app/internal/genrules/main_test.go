package main

import (
	"bytes"
	"os"
	"testing"

	"github.com/eldersafe/eldersafe/rules"
)

// TestGenerated: app/rules_config.go is what rules.Table makes of it.
func TestGenerated(t *testing.T) {
	want, err := render(rules.Table)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../../rules_config.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("app/rules_config.go is not what rules.Table makes: run go generate ./app")
	}
}
