package app

import (
	"strings"
	"testing"
)

func TestValidateInfluxDB(t *testing.T) {
	for _, tt := range []struct {
		cfg  InfluxDBConfig
		want string // the key the error names; empty: valid
	}{
		{InfluxDBConfig{}, ""}, // off
		{InfluxDBConfig{Bucket: "ignored without a url"}, ""},
		{InfluxDBConfig{URL: "http://127.0.0.1:8086", Bucket: "eldersafe/autogen"}, ""},
		{InfluxDBConfig{URL: "https://influx.example", Token: "t", Org: "o", Bucket: "b"}, ""},
		{InfluxDBConfig{URL: "http://127.0.0.1:8086"}, "influxdb.bucket"},
		{InfluxDBConfig{URL: "tcp://127.0.0.1:8086", Bucket: "b"}, "influxdb.url"},
		{InfluxDBConfig{URL: "127.0.0.1:8086", Bucket: "b"}, "influxdb.url"},
		{InfluxDBConfig{URL: "http://", Bucket: "b"}, "influxdb.url"},
	} {
		cfg := DefaultConfig()
		cfg.InfluxDB = tt.cfg
		err := cfg.Validate()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%+v: %v", tt.cfg, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%+v: error %v, want one naming %s", tt.cfg, err, tt.want)
		}
	}
}
