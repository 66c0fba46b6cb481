package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
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
	// Event is what happened (opened, verifying, acknowledged, on_site,
	// resolved, escalated, cancelled, handover), State the task's state
	// then, Actions the answers a family may give (CONTRACT.md §12).
	Event   string         `json:"event"`
	State   string         `json:"state"`
	Actions []tasks.Action `json:"actions"`
}

// Push delivers a notice as an HTTP POST of JSON to the recipient's push URL
// (an app backend or an ntfy topic URL), with the notice's id as Idempotency-Key.
//
// A 2xx answer is success. 5xx, 429, network errors and timeouts are worth
// retrying; any other answer (4xx, a redirect other than 307/308) is not.
type Push struct {
	// Client sends the requests; nil means a client with DefaultHTTPTimeout
	// that follows only method-preserving redirects.
	Client *http.Client
}

// NewPush returns a Push whose requests time out after timeout (DefaultHTTPTimeout if zero or less).
func NewPush(timeout time.Duration) *Push {
	return &Push{Client: newClient(timeout)}
}

var defaultPushClient = newClient(DefaultHTTPTimeout)

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
		Event:       n.Event,
		State:       n.State,
		Actions:     append([]tasks.Action{}, n.Actions...), // [] rather than null
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
	resp, body, err := roundTrip(client, req)
	if err != nil {
		return true, fmt.Errorf("post: %w", err)
	}
	if success(resp.StatusCode) {
		return false, nil
	}
	return retryableStatus(resp.StatusCode), statusError(resp, body)
}
