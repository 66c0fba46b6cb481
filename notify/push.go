package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/eldersafe/eldersafe/tasks"
)

// PushPayload is the JSON body of a push notice (contract §6).
type PushPayload struct {
	TaskID      string `json:"task_id"`
	HouseholdID string `json:"household_id"`
	Rule        string `json:"rule"`
	Severity    string `json:"severity"`
	Title       string `json:"title"`
	Message     string `json:"message"`
	Lang        string `json:"lang"`
	OpenedAt    string `json:"opened_at"` // RFC 3339
}

// DefaultPushTimeout bounds one push request when Push has no client of its own.
const DefaultPushTimeout = 10 * time.Second

// maxSnippet bounds how much of an error response's body an error quotes.
const maxSnippet = 200

// Push delivers a notice as an HTTP POST of JSON to the recipient's push URL
// (an app backend or an ntfy topic URL), with the notice's id as Idempotency-Key.
//
// A 2xx answer is success. 5xx, 429, network errors and timeouts are worth
// retrying; any other answer (4xx, a redirect other than 307/308) is not.
type Push struct {
	// Client sends the requests; nil means a client with DefaultPushTimeout
	// that follows only method-preserving redirects.
	Client *http.Client
}

// NewPush returns a Push whose requests time out after timeout (DefaultPushTimeout if zero or less).
func NewPush(timeout time.Duration) *Push {
	return &Push{Client: newPushClient(timeout)}
}

func newPushClient(timeout time.Duration) *http.Client {
	if timeout <= 0 {
		timeout = DefaultPushTimeout
	}
	return &http.Client{Timeout: timeout, CheckRedirect: checkPushRedirect}
}

// checkPushRedirect follows 307 and 308, which repeat the POST with its body,
// and hands any other redirect back as the answer: a 301, 302 or 303 would turn
// the POST into a GET and drop the notice.
func checkPushRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 3 {
		return errors.New("stopped after 3 redirects")
	}
	if req.Response != nil && req.Response.StatusCode != http.StatusTemporaryRedirect && req.Response.StatusCode != http.StatusPermanentRedirect {
		return http.ErrUseLastResponse
	}
	return nil
}

var defaultPushClient = newPushClient(DefaultPushTimeout)

// Send posts n to n.Address.
func (p *Push) Send(ctx context.Context, n tasks.Notice) (retry bool, err error) {
	u, err := url.Parse(n.Address)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return false, fmt.Errorf("push address %q: must be an http or https URL", redactURL(n.Address))
	}
	body, err := json.Marshal(PushPayload{
		TaskID:      n.TaskID,
		HouseholdID: n.HouseholdID,
		Rule:        n.Rule,
		Severity:    n.Severity,
		Title:       n.Title,
		Message:     n.Message,
		Lang:        n.Lang,
		OpenedAt:    n.OpenedAt.Format(time.RFC3339),
	})
	if err != nil {
		return false, fmt.Errorf("encode: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", n.ID)
	req.Header.Set("User-Agent", "eldersafe")

	client := p.Client
	if client == nil {
		client = defaultPushClient
	}
	resp, err := client.Do(req)
	if err != nil {
		// The URL may carry a secret (an ntfy topic is one): name the failure, not the URL.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return true, fmt.Errorf("post: %w", err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, maxSnippet+1))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused

	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return false, nil
	case code >= 500 || code == http.StatusTooManyRequests || code == http.StatusRequestTimeout:
		return true, statusError(resp, snippet)
	default:
		return false, statusError(resp, snippet)
	}
}

// statusError says the status and a short, single-line snippet of the body.
func statusError(resp *http.Response, body []byte) error {
	msg := resp.Status
	if msg == "" {
		msg = fmt.Sprint(resp.StatusCode)
	}
	s := oneLine(strings.ToValidUTF8(string(body), "?"))
	if len(s) > maxSnippet {
		s = truncate(s, maxSnippet) + "…"
	}
	if s != "" {
		msg += ": " + s
	}
	return errors.New(msg)
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !isRuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// redactURL drops everything after the host: paths and queries may hold tokens.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		if len(raw) > 16 {
			return truncate(raw, 16) + "…"
		}
		return raw
	}
	return u.Scheme + "://" + u.Host + "/…"
}
