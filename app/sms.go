package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/eldersafe/eldersafe/notify"
)

// SMS providers of notify.sms.provider.
const (
	SMSTwilio = "twilio"
	SMSAliyun = "aliyun"
)

// SMSConfig is notify.sms: which provider sends SMS, and its credentials.
// docs/notifications.md explains each setting.
type SMSConfig struct {
	// Provider is twilio, aliyun, or empty: no SMS (sms notices go to the log).
	Provider string        `mapstructure:"provider"`
	Timeout  time.Duration `mapstructure:"timeout"` // one request to the provider
	Twilio   TwilioConfig  `mapstructure:"twilio"`
	Aliyun   AliyunConfig  `mapstructure:"aliyun"`
}

type TwilioConfig struct {
	BaseURL    string `mapstructure:"base_url"`
	AccountSID string `mapstructure:"account_sid"`
	AuthToken  string `mapstructure:"auth_token"`
	From       string `mapstructure:"from"`
}

type AliyunConfig struct {
	Endpoint        string `mapstructure:"endpoint"`
	AccessKeyID     string `mapstructure:"access_key_id"`
	AccessKeySecret string `mapstructure:"access_key_secret"`
	SignName        string `mapstructure:"sign_name"`
	TemplateCode    string `mapstructure:"template_code"`
}

func defaultSMSConfig() SMSConfig {
	return SMSConfig{
		Timeout: notify.DefaultHTTPTimeout,
		Twilio:  TwilioConfig{BaseURL: notify.DefaultTwilioBaseURL},
		Aliyun:  AliyunConfig{Endpoint: notify.DefaultAliyunEndpoint},
	}
}

// validate names every notify.sms setting that is wrong; only the chosen
// provider's settings must be complete.
func (c SMSConfig) validate() []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("notify.sms.%s: %s", key, fmt.Sprintf(format, args...)))
	}
	required := func(provider string, settings ...[2]string) {
		for _, kv := range settings {
			if kv[1] == "" {
				bad(provider+"."+kv[0], "required when notify.sms.provider is %s", provider)
			}
		}
	}
	baseURL := func(key, raw string) {
		if u, err := url.Parse(raw); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad(key, "%q: want an http or https URL", raw)
		}
	}
	switch c.Provider {
	case "":
		return nil
	case SMSTwilio:
		required(SMSTwilio, [2]string{"account_sid", c.Twilio.AccountSID}, [2]string{"auth_token", c.Twilio.AuthToken},
			[2]string{"from", c.Twilio.From})
		baseURL("twilio.base_url", c.Twilio.BaseURL)
	case SMSAliyun:
		required(SMSAliyun, [2]string{"access_key_id", c.Aliyun.AccessKeyID}, [2]string{"access_key_secret", c.Aliyun.AccessKeySecret},
			[2]string{"sign_name", c.Aliyun.SignName}, [2]string{"template_code", c.Aliyun.TemplateCode})
		baseURL("aliyun.endpoint", c.Aliyun.Endpoint)
	default:
		bad("provider", "%q: want twilio, aliyun or empty (no SMS)", c.Provider)
	}
	if c.Timeout <= 0 {
		bad("timeout", "must be positive")
	}
	return errs
}

// sender is the Sender of the configured provider; nil when SMS is off.
func (c SMSConfig) sender(logger *slog.Logger) (notify.Sender, error) {
	logger = logger.With("component", "sms")
	switch c.Provider {
	case SMSTwilio:
		s, err := notify.NewTwilio(notify.TwilioOptions{BaseURL: c.Twilio.BaseURL, AccountSID: c.Twilio.AccountSID,
			AuthToken: c.Twilio.AuthToken, From: c.Twilio.From, Timeout: c.Timeout, Logger: logger})
		if err != nil {
			return nil, err
		}
		return s, nil
	case SMSAliyun:
		s, err := notify.NewAliyun(notify.AliyunOptions{Endpoint: c.Aliyun.Endpoint, AccessKeyID: c.Aliyun.AccessKeyID,
			AccessKeySecret: c.Aliyun.AccessKeySecret, SignName: c.Aliyun.SignName, TemplateCode: c.Aliyun.TemplateCode,
			Timeout: c.Timeout, Logger: logger})
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	return nil, nil
}

// warnNoSMS says, when no SMS provider is configured, how many workers
// have only a phone: their notices go to the log, where nobody reads them.
func (m *Monitor) warnNoSMS(ctx context.Context) {
	n, err := m.db.WorkersWithOnlyAPhone(ctx)
	if err != nil {
		m.log.Error("count workers without an SMS provider", "err", err)
		return
	}
	if n > 0 {
		m.log.Warn(fmt.Sprintf("no SMS provider is configured (notify.sms.provider): the notices of %d workers with a phone and no push_url go to the log", n),
			"workers", n)
	}
}
