package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/tasks"
)

func TestPush_RequestMatchesContract(t *testing.T) {
	type request struct {
		method string
		header http.Header
		body   []byte
	}
	got := make(chan request, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- request{r.Method, r.Header.Clone(), body}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)

	n := testNotice("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "push", srv.URL+"/hooks/eldersafe?x=1")
	n.OpenedAt = time.Date(2024, 3, 5, 9, 12, 0, 0, time.FixedZone("CST", 8*3600))
	n.Event, n.State = tasks.NoticeVerifying, "verifying"
	n.Actions = []tasks.Action{{Answer: "ok", Label: "平安无事", URL: "https://care.example/a/tok?answer=ok"}}
	retry, err := NewPush(time.Second).Send(context.Background(), n)
	if err != nil || retry {
		t.Fatalf("Send = %v, %v; want success", retry, err)
	}
	req := <-got
	if req.method != http.MethodPost {
		t.Errorf("method = %s, want POST", req.method)
	}
	if ct := req.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if k := req.header.Get("Idempotency-Key"); k != n.ID {
		t.Errorf("Idempotency-Key = %q, want the notice id %q", k, n.ID)
	}
	var body map[string]any
	if err := json.Unmarshal(req.body, &body); err != nil {
		t.Fatalf("body %s: %v", req.body, err)
	}
	want := map[string]any{
		"task_id":      n.TaskID,
		"household_id": "hh-1",
		"rule":         "fall",
		"severity":     "critical",
		"title":        "【紧急】王秀英：跌倒",
		"message":      "住户：王秀英",
		"lang":         "zh-CN",
		"opened_at":    "2024-03-05T09:12:00+08:00",
		"event":        "verifying",
		"state":        "verifying",
		"actions":      []any{map[string]any{"answer": "ok", "label": "平安无事", "url": "https://care.example/a/tok?answer=ok"}},
	}
	if !reflect.DeepEqual(body, want) {
		t.Errorf("body = %v\nwant   %v", body, want)
	}
	if _, err := time.Parse(time.RFC3339, body["opened_at"].(string)); err != nil {
		t.Errorf("opened_at is not RFC 3339: %v", err)
	}
}

func TestPush_Status(t *testing.T) {
	tests := []struct {
		status    int
		body      string
		wantErr   bool
		wantRetry bool
	}{
		{200, "", false, false},
		{201, `{"id":"x"}`, false, false},
		{204, "", false, false},
		{500, "boom", true, true},
		{502, "", true, true},
		{503, "try later", true, true},
		{429, "slow down", true, true},
		{408, "", true, true},
		{400, `{"error":"bad"}`, true, false},
		{401, "", true, false},
		{404, "no such topic", true, false},
		{410, "gone", true, false},
		{302, "", true, false}, // a redirect that would turn the POST into a GET
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.status == 302 {
					w.Header().Set("Location", "/elsewhere")
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			t.Cleanup(srv.Close)
			retry, err := NewPush(time.Second).Send(context.Background(), testNotice("n1", "push", srv.URL))
			if (err != nil) != tt.wantErr || retry != tt.wantRetry {
				t.Fatalf("Send = %v, %v; want error %v, retry %v", retry, err, tt.wantErr, tt.wantRetry)
			}
			if err != nil {
				if !strings.HasPrefix(err.Error(), strconv.Itoa(tt.status)+" ") || !strings.Contains(err.Error(), http.StatusText(tt.status)) {
					t.Errorf("error %q does not say the status", err)
				}
				if tt.body != "" && !strings.Contains(err.Error(), tt.body) {
					t.Errorf("error %q does not quote the body %q", err, tt.body)
				}
			}
		})
	}
}

func TestPush_FollowsMethodPreservingRedirect(t *testing.T) {
	var gotBody []byte
	mux := http.NewServeMux()
	mux.HandleFunc("/old", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/new", http.StatusPermanentRedirect)
	})
	mux.HandleFunc("/new", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Idempotency-Key") != "n1" {
			http.Error(w, "want the same POST", http.StatusBadRequest)
			return
		}
		gotBody, _ = io.ReadAll(r.Body)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	if retry, err := NewPush(time.Second).Send(context.Background(), testNotice("n1", "push", srv.URL+"/old")); err != nil {
		t.Fatalf("Send = %v, %v", retry, err)
	}
	if !bytes.Contains(gotBody, []byte(`"task_id":"task-n1"`)) {
		t.Errorf("redirected body = %s", gotBody)
	}
}

func TestPush_LongErrorBodyIsCut(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, "<html>\n"+strings.Repeat("错误", 1000)+"\n</html>")
	}))
	t.Cleanup(srv.Close)
	_, err := NewPush(time.Second).Send(context.Background(), testNotice("n1", "push", srv.URL))
	if err == nil {
		t.Fatal("want an error")
	}
	if len(err.Error()) > 300 || strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), "400 Bad Request: <html> 错误") {
		t.Errorf("error = %q (%d bytes), want a short single-line snippet", err, len(err.Error()))
	}
}

func TestPush_StalledServerTimesOut(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })

	start := time.Now()
	retry, err := NewPush(100*time.Millisecond).Send(context.Background(), testNotice("n1", "push", srv.URL))
	if err == nil || !retry {
		t.Fatalf("Send = %v, %v; want a retryable timeout", retry, err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("took %s with a 100 ms timeout", el)
	}
	if strings.Contains(err.Error(), srv.URL) {
		t.Errorf("error %q names the push URL, which may hold a secret", err)
	}
}

func TestPush_NetworkErrorRetries(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there now
	retry, err := NewPush(time.Second).Send(context.Background(), testNotice("n1", "push", url+"/topic-secret"))
	if err == nil || !retry {
		t.Fatalf("Send = %v, %v; want a retryable error", retry, err)
	}
	if strings.Contains(err.Error(), "topic-secret") {
		t.Errorf("error %q names the push URL", err)
	}
}

func TestPush_CancelledContextRetries(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	srv := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	if retry, err := NewPush(time.Second).Send(ctx, testNotice("n1", "push", srv.URL)); err == nil || !retry {
		t.Fatalf("Send = %v, %v; want a retryable error", retry, err)
	}
}

func TestPush_BadAddressIsNotRetried(t *testing.T) {
	for _, addr := range []string{"", "ftp://example.org/x", "mailto:someone@example.org", "example.org/push", "http://", "://bad"} {
		retry, err := (&Push{}).Send(context.Background(), testNotice("n1", "push", addr))
		if err == nil || retry {
			t.Errorf("Send to %q = %v, %v; want an error without retry", addr, retry, err)
		}
	}
}

func TestLog_NeverFails(t *testing.T) {
	var buf bytes.Buffer
	l := Log{Logger: slog.New(slog.NewJSONHandler(&buf, nil))}
	retry, err := l.Send(context.Background(), testNotice("n1", "log", ""))
	if err != nil || retry {
		t.Fatalf("Send = %v, %v", retry, err)
	}
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("log line %q: %v", buf.String(), err)
	}
	if rec["level"] != "INFO" || rec["notice_id"] != "n1" || rec["title"] != "【紧急】王秀英：跌倒" || rec["recipient"] != "张三" {
		t.Errorf("log record = %v", rec)
	}
	if _, err := (Log{}).Send(context.Background(), tasks.Notice{}); err != nil {
		t.Errorf("nil logger: %v", err)
	}
}

// TestPush_BurstKeepsConnections: a burst of as many sends to one host as
// the dispatcher makes at once leaves every connection open for the next
// burst, which dials none.
func TestPush_BurstKeepsConnections(t *testing.T) {
	const burst = 2 * DefaultConcurrency
	var dialled atomic.Int32
	arrived := make(chan struct{}, burst)
	release := make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release // every request of the burst in flight at once, each on a connection of its own
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			dialled.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)

	p := NewPush(5 * time.Second)
	for round := range 2 {
		var sends sync.WaitGroup
		for i := range burst {
			sends.Go(func() {
				n := testNotice(fmt.Sprintf("n%d-%d", round, i), "push", srv.URL+"/family")
				if retry, err := p.Send(context.Background(), n); err != nil || retry {
					t.Errorf("Send = %v, %v; want success", retry, err)
				}
			})
		}
		for range burst {
			<-arrived
		}
		for range burst {
			release <- struct{}{}
		}
		sends.Wait()
		if n := dialled.Load(); n != burst {
			t.Fatalf("after burst %d: %d connections dialled, want %d", round+1, n, burst)
		}
	}
}
