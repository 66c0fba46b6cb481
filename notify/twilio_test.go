package notify

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/tasks"
)

func smsNotice(id, phone string) tasks.Notice {
	n := testNotice(id, "sms", phone)
	n.Message = "王秀英：跌倒（3月5日 09:12）\n地址：上海市黄浦区幸福路12弄3号401室\n社区网格员李敏正在前往查看。"
	return n
}

func TestTwilio_RequestMatchesAPI(t *testing.T) {
	f := newFakeTwilio(t)
	n := smsNotice("n1", "+86 138-0000-0001")
	retry, err := f.sender(t, time.Second).Send(context.Background(), n)
	if err != nil || retry {
		t.Fatalf("Send = %v, %v; want success", retry, err)
	}
	calls, accepted, refused := f.requests()
	if calls != 1 || len(accepted) != 1 || len(refused) != 0 {
		t.Fatalf("%d calls, accepted %v, refused %v; want one accepted request", calls, accepted, refused)
	}
	form := accepted[0]
	want := map[string]string{"To": "+8613800000001", "From": f.from, "Body": n.Message}
	for k, v := range want {
		if got := form.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if len(form) != len(want) {
		t.Errorf("form = %v, want only To, From and Body", form)
	}
}

func TestTwilio_Answers(t *testing.T) {
	testAnswers(t, func(t *testing.T, answer step) (bool, error) {
		f := newFakeTwilio(t)
		f.setAnswer(inOrder(answer))
		return f.sender(t, 200*time.Millisecond).Send(context.Background(), smsNotice("n1", "+8613800000001"))
	}, []answerCase{
		{"created", step{}, false, ""},
		{"invalid number", step{status: 400, fixture: "21211"}, false, "400 Bad Request: twilio error 21211: Invalid 'To' Phone Number"},
		{"unknown account", step{status: 404, fixture: "20404"}, false, "404 Not Found: twilio error 20404"},
		{"rate limited", step{status: 429, fixture: "20429"}, true, "429 Too Many Requests: twilio error 20429"},
		{"internal error", step{status: 500, fixture: "20500"}, true, "500 Internal Server Error: twilio error 20500"},
		{"unavailable", step{status: 503, fixture: "20503"}, true, "503 Service Unavailable: twilio error 20503"},
		{"proxy page", step{status: 502, raw: "<html>bad gateway</html>"}, true, "502 Bad Gateway: <html>bad gateway</html>"},
		{"stall", step{stall: true}, true, "Client.Timeout exceeded"},
	})
}

// TestTwilio_RefusedAsTwilioWould: what the real service refuses fails the
// notice at once, with Twilio's reason.
func TestTwilio_RefusedAsTwilioWould(t *testing.T) {
	f := newFakeTwilio(t)
	tests := []struct {
		name string
		opts func(*TwilioOptions)
		to   string
		code string
	}{
		{"wrong token", func(o *TwilioOptions) { o.AuthToken = "stale" }, "+8613800000001", "20003"},
		{"wrong account", func(o *TwilioOptions) { o.AccountSID = "AC00000000000000000000000000000000" }, "+8613800000001", "20404"},
		{"unowned sender", func(o *TwilioOptions) { o.From = "+15550000000" }, "+8613800000001", "21606"},
		{"not E.164", func(*TwilioOptions) {}, "13800000001", "21211"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := TwilioOptions{BaseURL: f.URL, AccountSID: f.sid, AuthToken: f.token, From: f.from}
			tt.opts(&opts)
			s, err := NewTwilio(opts)
			if err != nil {
				t.Fatal(err)
			}
			retry, err := s.Send(context.Background(), smsNotice("n1", tt.to))
			if err == nil || retry {
				t.Fatalf("Send = %v, %v; want a permanent error", retry, err)
			}
			if !strings.Contains(err.Error(), "twilio error "+tt.code) {
				t.Errorf("error %q does not give Twilio's code %s", err, tt.code)
			}
		})
	}
	if _, _, refused := f.requests(); strings.Join(refused, ",") != "20003,20404,21606,21211" {
		t.Errorf("fake refused %v", refused)
	}
}

func TestTwilio_NetworkErrorRetries(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close() // nothing listens there now
	s, err := NewTwilio(TwilioOptions{BaseURL: base, AccountSID: "AC1", AuthToken: "secret-token", From: "+15005550006"})
	if err != nil {
		t.Fatal(err)
	}
	retry, err := s.Send(context.Background(), smsNotice("n1", "+8613800000001"))
	if err == nil || !retry {
		t.Fatalf("Send = %v, %v; want a retryable error", retry, err)
	}
	if strings.Contains(err.Error(), "secret-token") {
		t.Errorf("error %q reveals the token", err)
	}
}

func TestTwilio_BadAddressIsNotRetried(t *testing.T) {
	f := newFakeTwilio(t)
	for _, addr := range []string{"", "not a number", "+86 1", "https://push.example/x"} {
		retry, err := f.sender(t, time.Second).Send(context.Background(), smsNotice("n1", addr))
		if err == nil || retry {
			t.Errorf("Send to %q = %v, %v; want an error without retry", addr, retry, err)
		}
	}
	if calls, _, _ := f.requests(); calls != 0 {
		t.Errorf("%d requests for addresses that are no phone numbers", calls)
	}
}

func TestNewTwilio_Options(t *testing.T) {
	ok := TwilioOptions{AccountSID: "AC1", AuthToken: "t", From: "+15005550006"}
	s, err := NewTwilio(ok)
	if err != nil {
		t.Fatal(err)
	}
	if want := "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json"; s.endpoint != want {
		t.Errorf("endpoint = %q, want %q", s.endpoint, want)
	}
	ok.BaseURL = "http://127.0.0.1:8089/twilio/"
	if s, _ := NewTwilio(ok); s.endpoint != "http://127.0.0.1:8089/twilio/2010-04-01/Accounts/AC1/Messages.json" {
		t.Errorf("endpoint with a base path = %q", s.endpoint)
	}
	for name, edit := range map[string]func(*TwilioOptions){
		"no account": func(o *TwilioOptions) { o.AccountSID = "" },
		"no token":   func(o *TwilioOptions) { o.AuthToken = "" },
		"no from":    func(o *TwilioOptions) { o.From = "" },
		"ftp":        func(o *TwilioOptions) { o.BaseURL = "ftp://api.twilio.com" },
		"query":      func(o *TwilioOptions) { o.BaseURL = "https://api.twilio.com/?x=1" },
	} {
		o := ok
		edit(&o)
		if _, err := NewTwilio(o); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
}
