package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/eldersafe/eldersafe/tasks"
)

// DefaultTwilioBaseURL is Twilio's REST API.
const DefaultTwilioBaseURL = "https://api.twilio.com"

// TwilioOptions configure a Twilio sender.
type TwilioOptions struct {
	// BaseURL is where the Messages API lives; tests point it at a local
	// server that speaks the same API. Default DefaultTwilioBaseURL.
	BaseURL    string
	AccountSID string
	AuthToken  string
	// From is the sending number (E.164) or alphanumeric sender id.
	From    string
	Timeout time.Duration // one request; DefaultHTTPTimeout if zero
	Logger  *slog.Logger
}

// Twilio sends notices as SMS through Twilio's Messages API:
// POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json with the form
// fields To, From and Body and HTTP Basic auth AccountSid:AuthToken; 201 with
// the message's sid is success.
//
// It speaks the API with net/http rather than github.com/twilio/twilio-go: the
// SDK's Messages service has its base URL fixed at https://api.twilio.com
// (edge, region and domain can change the host name, nothing can make it a
// loopback http server short of a rewriting transport); its calls take no
// context, so neither the dispatcher's per-attempt timeout nor a shutdown
// could abort a send; and an error body it cannot decode comes back without
// the status, which is what says whether to retry. One form POST is less.
//
// The Messages API takes no idempotency key: when an answer is lost (a
// timeout after Twilio accepted the message) the retry sends the SMS again.
// A second identical SMS is better than a lost alarm.
type Twilio struct {
	opts     TwilioOptions
	endpoint string
	client   *http.Client
}

// NewTwilio checks the options and returns a Twilio sender.
func NewTwilio(opts TwilioOptions) (*Twilio, error) {
	if opts.BaseURL == "" {
		opts.BaseURL = DefaultTwilioBaseURL
	}
	base, err := providerURL(opts.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("twilio: base URL: %w", err)
	}
	if opts.AccountSID == "" || opts.AuthToken == "" || opts.From == "" {
		return nil, errors.New("twilio: account SID, auth token and from are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Twilio{
		opts:     opts,
		endpoint: base + "/2010-04-01/Accounts/" + url.PathEscape(opts.AccountSID) + "/Messages.json",
		client:   newClient(opts.Timeout),
	}, nil
}

// Send posts n as an SMS to the phone number n.Address.
func (t *Twilio) Send(ctx context.Context, n tasks.Notice) (retry bool, err error) {
	to, err := phoneNumber(n.Address)
	if err != nil {
		return false, err
	}
	form := url.Values{"To": {to}, "From": {t.opts.From}, "Body": {smsBody(n)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return false, fmt.Errorf("request: %w", err)
	}
	req.SetBasicAuth(t.opts.AccountSID, t.opts.AuthToken)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "eldersafe")

	resp, body, err := roundTrip(t.client, req)
	if err != nil {
		return true, fmt.Errorf("post: %w", err)
	}
	if success(resp.StatusCode) {
		// Accepted whatever the body says: trying again would send a second SMS.
		var msg struct{ SID, Status string }
		_ = json.Unmarshal(body, &msg) // only for the log
		t.opts.Logger.Info("sms accepted", "provider", "twilio", "notice_id", n.ID, "task_id", n.TaskID, "sid", msg.SID, "status", msg.Status)
		return false, nil
	}
	err = statusError(resp, body)
	var refusal struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &refusal) == nil && refusal.Message != "" {
		// Twilio's own words, e.g. "twilio error 21211: Invalid 'To' Phone Number".
		err = statusDetail(resp, fmt.Sprintf("twilio error %d: %s", refusal.Code, oneLine(refusal.Message)))
	}
	return retryableStatus(resp.StatusCode), err
}

// providerURL checks a provider's base URL (http or https, a host, no query)
// and returns it without a trailing slash.
func providerURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%q: want http(s)://host[:port][/path]", raw)
	}
	return strings.TrimSuffix(u.String(), "/"), nil
}
