package notify

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The HTTP channels (push, Twilio, Alibaba Cloud) share one way of sending a
// request and one way of judging its answer, so that a 503 means the same to
// every channel.

// DefaultHTTPTimeout bounds one request of an HTTP channel that was given no timeout.
const DefaultHTTPTimeout = 10 * time.Second

// maxSnippet bounds how much of an error response's body an error quotes.
const maxSnippet = 200

// maxBody bounds how much of an answer is read: enough for any provider's JSON.
const maxBody = 64 << 10

// newClient returns a client whose requests time out after timeout
// (DefaultHTTPTimeout if zero or less) and that follows only method-preserving redirects.
// It keeps open as many connections to a host as the dispatcher sends at
// once (the notices it found and those handed over): with Go's default of
// two, a burst of notices to one push gateway or SMS provider dialled, and
// shook TLS hands, anew for all but two of them.
func newClient(timeout time.Duration) *http.Client {
	if timeout <= 0 {
		timeout = DefaultHTTPTimeout
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 2 * DefaultConcurrency
	return &http.Client{Timeout: timeout, CheckRedirect: checkRedirect, Transport: t}
}

// checkRedirect follows 307 and 308, which repeat the request with its body,
// and hands any other redirect back as the answer: a 301, 302 or 303 would turn
// a POST into a GET and drop the notice.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 3 {
		return errors.New("stopped after 3 redirects")
	}
	if req.Response != nil && req.Response.StatusCode != http.StatusTemporaryRedirect && req.Response.StatusCode != http.StatusPermanentRedirect {
		return http.ErrUseLastResponse
	}
	return nil
}

// roundTrip sends req and reads the start of the answer. Its error (refused
// connection, timeout, cancelled context) is always worth retrying, and never
// names the URL: push URLs and provider paths may carry secrets.
func roundTrip(client *http.Client, req *http.Request) (*http.Response, []byte, error) {
	resp, err := client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, nil, fmt.Errorf("read answer: %w", err)
	}
	return resp, body, nil
}

// retryableStatus says whether an HTTP status is worth trying again: the
// server's trouble (5xx), too many requests (429) and a request timeout (408)
// pass; any other refusal (bad credentials, a malformed request, an unknown
// recipient) will be refused again.
func retryableStatus(code int) bool {
	return code >= 500 || code == http.StatusTooManyRequests || code == http.StatusRequestTimeout
}

func success(code int) bool { return code >= 200 && code < 300 }

// statusError says the status and a short, single-line snippet of the body.
func statusError(resp *http.Response, body []byte) error {
	return statusDetail(resp, oneLine(strings.ToValidUTF8(string(body), "?")))
}

// statusDetail says the status and what the provider said about it, cut short.
func statusDetail(resp *http.Response, detail string) error {
	msg := resp.Status
	if msg == "" {
		msg = fmt.Sprint(resp.StatusCode)
	}
	if len(detail) > maxSnippet {
		detail = truncate(detail, maxSnippet) + "…"
	}
	if detail != "" {
		msg += ": " + detail
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
