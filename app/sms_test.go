package app

import (
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/eldersafe/eldersafe/notify"
	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/store"
	"github.com/eldersafe/eldersafe/testkit"
)

func TestValidateSMS(t *testing.T) {
	twilio := func(c *Config) {
		c.Notify.SMS.Provider = SMSTwilio
		c.Notify.SMS.Twilio = TwilioConfig{BaseURL: notify.DefaultTwilioBaseURL, AccountSID: "AC1", AuthToken: "tok-3x4mpl3", From: "+15005550006"}
	}
	aliyun := func(c *Config) {
		c.Notify.SMS.Provider = SMSAliyun
		c.Notify.SMS.Aliyun = AliyunConfig{Endpoint: notify.DefaultAliyunEndpoint, AccessKeyID: "LTAI5t", AccessKeySecret: "s3cr3t-value",
			SignName: "社区关爱", TemplateCode: "SMS_1"}
	}
	tests := []struct {
		name string
		edit func(*Config)
		want []string // every key the error names; none: valid
	}{
		{"off", func(*Config) {}, nil},
		{"off with half a Twilio config", func(c *Config) { c.Notify.SMS.Twilio.AccountSID = "AC1" }, nil},
		{"twilio", twilio, nil},
		{"aliyun", aliyun, nil},
		{"twilio without credentials", func(c *Config) { c.Notify.SMS.Provider = SMSTwilio },
			[]string{"notify.sms.twilio.account_sid: required when notify.sms.provider is twilio", "notify.sms.twilio.auth_token", "notify.sms.twilio.from"}},
		{"twilio without a token", func(c *Config) { twilio(c); c.Notify.SMS.Twilio.AuthToken = "" }, []string{"notify.sms.twilio.auth_token"}},
		{"twilio with a bad base URL", func(c *Config) { twilio(c); c.Notify.SMS.Twilio.BaseURL = "api.twilio.com" }, []string{"notify.sms.twilio.base_url"}},
		{"aliyun without credentials", func(c *Config) { c.Notify.SMS.Provider = SMSAliyun },
			[]string{"notify.sms.aliyun.access_key_id", "notify.sms.aliyun.access_key_secret", "notify.sms.aliyun.sign_name", "notify.sms.aliyun.template_code"}},
		{"aliyun with a bad endpoint", func(c *Config) { aliyun(c); c.Notify.SMS.Aliyun.Endpoint = "ftp://x" }, []string{"notify.sms.aliyun.endpoint"}},
		{"unknown provider", func(c *Config) { c.Notify.SMS.Provider = "pigeon" }, []string{`notify.sms.provider: "pigeon"`}},
		{"no timeout", func(c *Config) { twilio(c); c.Notify.SMS.Timeout = 0 }, []string{"notify.sms.timeout"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tt.edit(&cfg)
			err := cfg.Validate()
			if (err != nil) != (len(tt.want) > 0) {
				t.Fatalf("Validate = %v, want errors naming %v", err, tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
			if err != nil && (strings.Contains(err.Error(), "s3cr3t-value") || strings.Contains(err.Error(), "tok-3x4mpl3")) {
				t.Errorf("error %q quotes a credential", err)
			}
			s, serr := cfg.Notify.SMS.sender(slog.New(slog.DiscardHandler))
			switch {
			case err == nil && serr != nil:
				t.Errorf("valid config, but sender: %v", serr)
			case err == nil && (s != nil) != (cfg.Notify.SMS.Provider != ""):
				t.Errorf("provider %q: sender %T", cfg.Notify.SMS.Provider, s)
			}
		})
	}
}

// TestWarnNoSMS: at start without an SMS provider, the workers whose notices
// go to the log for want of one are counted in one WARN.
func TestWarnNoSMS(t *testing.T) {
	for _, c := range []struct {
		name   string
		worker registry.Worker
		sms    bool
		want   string
	}{
		{"a phone only", registry.Worker{Phone: "+8613800000001"}, false, "the notices of 1 workers with a phone and no push_url go to the log"},
		{"push too", registry.Worker{Phone: "+8613800000001", PushURL: "https://push.example/w1"}, false, ""},
		{"an SMS provider", registry.Worker{Phone: "+8613800000001"}, true, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			db, err := store.Open(t.Context(), dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			must(db.CreateGrid(t.Context(), registry.Grid{ID: "g1", Name: "G"}))
			w := c.worker
			w.ID, w.Name, w.GridIDs, w.Role = "w1", "Wang", []string{"g1"}, registry.RoleGridWorker
			must(db.CreateWorker(t.Context(), w))
			must(db.Close())

			cfg := DefaultConfig()
			cfg.DataDir, cfg.HTTP.Addr, cfg.MQTT.Broker.Addr = dir, "127.0.0.1:0", "127.0.0.1:0"
			if c.sms {
				cfg.Notify.SMS.Provider = SMSTwilio
				cfg.Notify.SMS.Twilio = TwilioConfig{BaseURL: notify.DefaultTwilioBaseURL, AccountSID: "AC1", AuthToken: "tok", From: "+15005550006"}
			}
			var logs testkit.SyncBuffer
			m, err := Start(t.Context(), cfg, slog.New(slog.NewTextHandler(&logs, nil)), io.Discard)
			must(err)
			must(m.Close())
			warned := strings.Contains(logs.String(), "level=WARN msg=\"no SMS provider is configured")
			if warned != (c.want != "") || !strings.Contains(logs.String(), c.want) {
				t.Errorf("logs:\n%s\nwant a WARN saying %q", logs.String(), c.want)
			}
		})
	}
}
