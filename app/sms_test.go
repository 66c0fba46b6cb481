package app

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/eldersafe/eldersafe/notify"
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
