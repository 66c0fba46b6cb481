package app

import (
	"strings"
	"testing"
)

func TestValidateMQTTURL(t *testing.T) {
	tests := []struct {
		url   string
		valid bool
	}{
		{"", true}, // embedded broker
		{"tcp://127.0.0.1:1883", true},
		{"ssl://broker.example:8883", true},
		{"ws://broker.example:8080/mqtt", true},
		{"s://broker.example:1883", false},
		{"//broker.example:1883", false},
		{"http://broker.example", false},
		{"tcp://", false},
	}
	for _, tt := range tests {
		cfg := DefaultConfig()
		cfg.MQTT.URL = tt.url
		err := cfg.Validate()
		if tt.valid != (err == nil) {
			t.Errorf("mqtt.url %q: error %v, want valid=%v", tt.url, err, tt.valid)
		}
		if err != nil && !strings.Contains(err.Error(), "mqtt.url") {
			t.Errorf("mqtt.url %q: error %v does not name the key", tt.url, err)
		}
	}
}
