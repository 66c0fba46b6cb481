package simulator

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client is what the simulator asks of the monitor's HTTP API (CONTRACT §5):
// provisioning, away periods, the event clock, tasks and the ingest counters.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// NewClient talks to the API at baseURL (http://127.0.0.1:8080) with token.
func NewClient(baseURL, token string) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("api url %q: want http://host:port", baseURL)
	}
	return &Client{
		base:  strings.TrimRight(baseURL, "/"),
		token: token,
		http:  &http.Client{Timeout: 30 * time.Second},
	}, nil
}

// APIError is an answer outside 2xx, with the contract's error body.
type APIError struct {
	Method, Path string
	Status       int
	Code         string
	Message      string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s %s: %d %s: %s", e.Method, e.Path, e.Status, e.Code, e.Message)
}

// ErrWallClock is the answer to a clock tick when the monitor runs on the
// wall clock.
var ErrWallClock = errors.New("the monitor runs on the wall clock; start it with --clock event")

func statusOf(err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var r io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, r)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return c.send(req, out)
}

// send makes the request and decodes a 2xx answer into out.
func (c *Client) send(req *http.Request, out any) error {
	method, path := req.Method, req.URL.Path
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		ae := &APIError{Method: method, Path: path, Status: resp.StatusCode}
		var eb struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(data, &eb) == nil {
			ae.Code, ae.Message = eb.Error.Code, eb.Error.Message
		} else {
			ae.Message = strings.TrimSpace(string(data))
		}
		return ae
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return nil
}

// create posts a new object; one that exists already (409) is fine, since
// a run may provision what an earlier run with the same seed did.
func (c *Client) create(ctx context.Context, path string, body any) (existed bool, err error) {
	err = c.do(ctx, http.MethodPost, path, body, nil)
	if statusOf(err) == http.StatusConflict {
		return true, nil
	}
	return false, err
}

// importCSV posts an import file; a row the monitor refuses is an error.
func (c *Client) importCSV(ctx context.Context, body []byte) error {
	const path = "/api/v1/import/households"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("POST %s: %w", path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "text/csv")
	var out struct {
		Errors []struct {
			Line    int    `json:"line"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := c.send(req, &out); err != nil {
		return err
	}
	if len(out.Errors) > 0 {
		var msgs []string
		for _, e := range out.Errors[:min(3, len(out.Errors))] {
			msgs = append(msgs, fmt.Sprintf("line %d: %s", e.Line, e.Message))
		}
		return fmt.Errorf("POST %s: %d row(s) refused: %s", path, len(out.Errors), strings.Join(msgs, "; "))
	}
	return nil
}

// Away records an away period.
func (c *Client) Away(ctx context.Context, a Away) error {
	return c.do(ctx, http.MethodPost, "/api/v1/households/"+url.PathEscape(a.HouseholdID)+"/away", map[string]string{
		"from":   a.From.Format(time.RFC3339),
		"until":  a.Until.Format(time.RFC3339),
		"reason": a.Reason,
	}, nil)
}

// Clock moves the monitor's event clock to ts and returns its now, which a
// ts in its past leaves unchanged. A wall-clock monitor answers ErrWallClock.
func (c *Client) Clock(ctx context.Context, ts time.Time) (time.Time, error) {
	var out struct {
		TS time.Time `json:"ts"`
	}
	err := c.do(ctx, http.MethodPost, "/api/v1/clock", map[string]string{"ts": ts.Format(time.RFC3339)}, &out)
	if statusOf(err) == http.StatusConflict {
		return time.Time{}, ErrWallClock
	}
	return out.TS, err
}

// Task is a task as GET /api/v1/tasks lists it, with what the checker needs.
type Task struct {
	ID          string    `json:"id"`
	HouseholdID string    `json:"household_id"`
	Rule        string    `json:"rule"`
	Severity    string    `json:"severity"`
	Kind        string    `json:"kind"`
	State       string    `json:"state"`
	OpenedAt    time.Time `json:"opened_at"`
}

// maxTasks is the longest listing the API gives in one answer.
const maxTasks = 5000

// Tasks lists every task of any state for the households given. It asks
// for all tasks at once, and household by household only when that listing
// may have been cut short.
func (c *Client) Tasks(ctx context.Context, householdIDs []string) ([]Task, error) {
	all, err := c.tasks(ctx, "")
	if err != nil || len(all) < maxTasks {
		return all, err
	}
	all = all[:0]
	for _, id := range householdIDs {
		ts, err := c.tasks(ctx, "&household_id="+url.QueryEscape(id))
		if err != nil {
			return nil, err
		}
		all = append(all, ts...)
	}
	return all, nil
}

func (c *Client) tasks(ctx context.Context, filter string) ([]Task, error) {
	var out struct {
		Tasks []Task `json:"tasks"`
	}
	if err := c.do(ctx, http.MethodGet, "/api/v1/tasks?limit="+strconv.Itoa(maxTasks)+filter, nil, &out); err != nil {
		return nil, err
	}
	return out.Tasks, nil
}

// Handled is how many device messages the monitor has finished with,
// accepted or rejected: the sum of eldersafe_ingest_messages_total and
// eldersafe_ingest_rejected_total on /metrics. Each is counted once the
// message's effect is stored, so a count that reached what was sent means
// the monitor is level with the simulator.
func (c *Client) Handled(ctx context.Context) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/metrics", nil)
	if err != nil {
		return 0, fmt.Errorf("metrics: %w", err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("metrics: status %d", resp.StatusCode)
	}
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "eldersafe_ingest_messages_total{") && !strings.HasPrefix(line, "eldersafe_ingest_rejected_total{") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			return 0, fmt.Errorf("metrics: %q: %w", line, err)
		}
		sum += v
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("metrics: %w", err)
	}
	return sum, nil
}

// Ack, CheckIn and Resolve act on a task as its worker would, through the
// API: the trust report's workers answer their tasks so that the next alarm
// of a household opens a task of its own.
func (c *Client) Ack(ctx context.Context, taskID, workerID string) error {
	return c.do(ctx, http.MethodPost, "/api/v1/tasks/"+url.PathEscape(taskID)+"/ack", map[string]string{"worker_id": workerID}, nil)
}

func (c *Client) CheckIn(ctx context.Context, taskID, workerID string) error {
	return c.do(ctx, http.MethodPost, "/api/v1/tasks/"+url.PathEscape(taskID)+"/checkin", map[string]string{"worker_id": workerID}, nil)
}

func (c *Client) Resolve(ctx context.Context, taskID, workerID, outcome, note string) error {
	return c.ResolveFor(ctx, taskID, workerID, outcome, "", note)
}

// ResolveFor resolves a task with a reason (a false alarm's: was_out,
// slept_late, visitor, sensor_fault, other), which feeds outcome feedback.
func (c *Client) ResolveFor(ctx context.Context, taskID, workerID, outcome, reason, note string) error {
	body := map[string]string{"worker_id": workerID, "outcome": outcome, "note": note}
	if reason != "" {
		body["reason"] = reason
	}
	return c.do(ctx, http.MethodPost, "/api/v1/tasks/"+url.PathEscape(taskID)+"/resolve", body, nil)
}

// CreateUser registers a console user (POST /api/v1/users): u holds id,
// password, role and, as the role needs, worker_id or household_id. existed
// reports a user of that id registered before, whose password stays.
func (c *Client) CreateUser(ctx context.Context, u map[string]string) (existed bool, err error) {
	return c.create(ctx, "/api/v1/users", u)
}
