package notify

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// The fake providers below speak Twilio's and Alibaba Cloud's SMS APIs on
// loopback and check every request as the provider would: a request the real
// service would refuse is refused with the provider's own error. What a
// request gets once it passes is up to the test's answer func: success, an
// error answer read from testdata/, or a stall until the client gives up.

// step is one answer of a fake provider.
type step struct {
	status  int    // 0: the provider's success answer
	fixture string // body, from testdata/<provider>/<fixture>.json
	stall   bool   // hold the request until the client gives up
	raw     string // a body that is not the provider's JSON (a proxy's page)
}

// inOrder answers with the steps in turn, then with success.
func inOrder(steps ...step) func(to string) step {
	var mu sync.Mutex
	return func(string) step {
		mu.Lock()
		defer mu.Unlock()
		if len(steps) == 0 {
			return step{}
		}
		s := steps[0]
		steps = steps[1:]
		return s
	}
}

// perRecipient answers every phone number with the steps in turn, then with success.
func perRecipient(steps ...step) func(to string) step {
	var mu sync.Mutex
	seen := map[string]int{}
	return func(to string) step {
		mu.Lock()
		defer mu.Unlock()
		i := seen[to]
		seen[to]++
		if i < len(steps) {
			return steps[i]
		}
		return step{}
	}
}

// fakeServer is what both fakes share: the answers, the stall, the record.
type fakeServer struct {
	*httptest.Server
	provider string
	release  chan struct{} // closed at cleanup: stalled requests return

	mu       sync.Mutex
	answer   func(to string) step
	accepted []url.Values // requests that passed the checks, in order
	refused  []string     // the error codes of requests that did not
	calls    int
}

func newFakeServer(t *testing.T, provider string, h http.HandlerFunc) *fakeServer {
	f := &fakeServer{provider: provider, release: make(chan struct{}), answer: func(string) step { return step{} }}
	f.Server = httptest.NewServer(h)
	t.Cleanup(f.Close)
	t.Cleanup(func() { close(f.release) }) // runs first: lets stalled handlers return
	return f
}

func (f *fakeServer) setAnswer(a func(to string) step) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answer = a
}

func (f *fakeServer) requests() (calls int, accepted []url.Values, refused []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls, append([]url.Values(nil), f.accepted...), append([]string(nil), f.refused...)
}

// refuse answers with the provider's error fixture and records its code.
func (f *fakeServer) refuse(w http.ResponseWriter, status int, code string) {
	f.mu.Lock()
	f.refused = append(f.refused, code)
	f.mu.Unlock()
	f.write(w, status, f.fixture(code))
}

// play records an accepted request and answers it as the test's answer says;
// ok writes the success answer.
func (f *fakeServer) play(w http.ResponseWriter, r *http.Request, to string, form url.Values, ok func()) {
	f.mu.Lock()
	f.accepted = append(f.accepted, form)
	s := f.answer(to)
	f.mu.Unlock()
	switch {
	case s.stall:
		select {
		case <-r.Context().Done():
		case <-f.release:
		}
	case s.raw != "":
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(s.status)
		fmt.Fprint(w, s.raw)
	case s.status != 0:
		f.write(w, s.status, f.fixture(s.fixture))
	default:
		ok()
	}
}

func (f *fakeServer) fixture(name string) []byte {
	b, err := os.ReadFile(filepath.Join("testdata", f.provider, name+".json"))
	if err != nil {
		panic(err) // a test names a fixture that does not exist
	}
	return b
}

func (f *fakeServer) write(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(body)
}

func (f *fakeServer) count() {
	f.mu.Lock()
	f.calls++
	f.mu.Unlock()
}

// fakeTwilio is Twilio's Messages API for one account.
type fakeTwilio struct {
	*fakeServer
	sid, token, from string
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)

func newFakeTwilio(t *testing.T) *fakeTwilio {
	f := &fakeTwilio{sid: "AC0123456789abcdef0123456789abcdef", token: "twilio-auth-token", from: "+15005550006"}
	f.fakeServer = newFakeServer(t, "twilio", f.serve)
	return f
}

func (f *fakeTwilio) serve(w http.ResponseWriter, r *http.Request) {
	f.count()
	if r.Method != http.MethodPost || r.URL.Path != "/2010-04-01/Accounts/"+f.sid+"/Messages.json" {
		f.refuse(w, http.StatusNotFound, "20404")
		return
	}
	if user, pass, ok := r.BasicAuth(); !ok || user != f.sid || pass != f.token {
		f.refuse(w, http.StatusUnauthorized, "20003")
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" || r.ParseForm() != nil {
		f.refuse(w, http.StatusBadRequest, "21604") // Twilio reads no fields from any other body
		return
	}
	to, from, body := r.PostForm.Get("To"), r.PostForm.Get("From"), r.PostForm.Get("Body")
	switch {
	case to == "":
		f.refuse(w, http.StatusBadRequest, "21604")
	case !e164.MatchString(to):
		f.refuse(w, http.StatusBadRequest, "21211")
	case from != f.from:
		f.refuse(w, http.StatusBadRequest, "21606")
	case body == "":
		f.refuse(w, http.StatusBadRequest, "21602")
	case utf8.RuneCountInString(body) > 1600:
		f.refuse(w, http.StatusBadRequest, "21617")
	default:
		f.play(w, r, to, r.PostForm, func() {
			var msg map[string]any
			if err := json.Unmarshal(f.fixture("created"), &msg); err != nil {
				panic(err)
			}
			msg["account_sid"], msg["to"], msg["from"], msg["body"] = f.sid, to, from, body
			msg["sid"] = fmt.Sprintf("SM%032x", time.Now().UnixNano())
			b, _ := json.Marshal(msg)
			f.write(w, http.StatusCreated, b)
		})
	}
}

// sender is a Twilio sender for this account.
func (f *fakeTwilio) sender(t *testing.T, timeout time.Duration) *Twilio {
	t.Helper()
	s, err := NewTwilio(TwilioOptions{BaseURL: f.URL, AccountSID: f.sid, AuthToken: f.token, From: f.from, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fakeAliyun is Alibaba Cloud's SendSms for one AccessKey, signature and template.
type fakeAliyun struct {
	*fakeServer
	keyID, secret, signName, template string

	nonces map[string]bool // guarded by mu
}

func newFakeAliyun(t *testing.T) *fakeAliyun {
	f := &fakeAliyun{keyID: "LTAI5tTestKeyId0001", secret: "testAccessKeySecret", signName: "社区关爱", template: "SMS_468210001",
		nonces: map[string]bool{}}
	f.fakeServer = newFakeServer(t, "aliyun", f.serve)
	return f
}

// aliyunRequired are the parameters SendSms needs, OutId included: for us it is the idempotency key.
var aliyunRequired = []string{"Action", "Version", "Format", "AccessKeyId", "SignatureMethod", "SignatureVersion", "SignatureNonce",
	"Timestamp", "Signature", "PhoneNumbers", "SignName", "TemplateCode", "TemplateParam", "OutId"}

func (f *fakeAliyun) serve(w http.ResponseWriter, r *http.Request) {
	f.count()
	q := r.URL.Query()
	if r.Method != http.MethodGet || r.URL.Path != "/" {
		f.refuse(w, http.StatusNotFound, "MissingParameter")
		return
	}
	for _, p := range aliyunRequired {
		if len(q[p]) != 1 || q.Get(p) == "" {
			f.refuse(w, http.StatusBadRequest, "MissingParameter")
			return
		}
	}
	if q.Get("Action") != "SendSms" || q.Get("Version") != "2017-05-25" || q.Get("Format") != "JSON" ||
		q.Get("SignatureMethod") != "HMAC-SHA1" || q.Get("SignatureVersion") != "1.0" {
		f.refuse(w, http.StatusBadRequest, "MissingParameter")
		return
	}
	if q.Get("AccessKeyId") != f.keyID {
		f.refuse(w, http.StatusNotFound, "InvalidAccessKeyId.NotFound")
		return
	}
	ts, err := time.Parse("2006-01-02T15:04:05Z", q.Get("Timestamp"))
	if err != nil || time.Since(ts).Abs() > 15*time.Minute {
		f.refuse(w, http.StatusBadRequest, "InvalidTimeStamp.Expired")
		return
	}
	if !hmac.Equal([]byte(q.Get("Signature")), []byte(recomputeAliyunSignature(q, f.secret))) {
		f.refuse(w, http.StatusBadRequest, "SignatureDoesNotMatch")
		return
	}
	f.mu.Lock()
	used := f.nonces[q.Get("SignatureNonce")]
	f.nonces[q.Get("SignatureNonce")] = true
	f.mu.Unlock()
	if used {
		f.refuse(w, http.StatusBadRequest, "SignatureNonceUsed")
		return
	}
	var param map[string]string
	switch {
	case !regexp.MustCompile(`^\+?[0-9]{5,20}$`).MatchString(q.Get("PhoneNumbers")):
		f.refuse(w, http.StatusOK, "isv.MOBILE_NUMBER_ILLEGAL")
	case q.Get("SignName") != f.signName:
		f.refuse(w, http.StatusOK, "isv.SMS_SIGNATURE_ILLEGAL")
	case q.Get("TemplateCode") != f.template:
		f.refuse(w, http.StatusOK, "isv.SMS_TEMPLATE_ILLEGAL")
	case json.Unmarshal([]byte(q.Get("TemplateParam")), &param) != nil || param["text"] == "":
		f.refuse(w, http.StatusOK, "isv.TEMPLATE_MISSING_PARAMETERS")
	default:
		f.play(w, r, q.Get("PhoneNumbers"), q, func() { f.write(w, http.StatusOK, f.fixture("OK")) })
	}
}

// recomputeAliyunSignature checks a request's signature as Alibaba's servers
// do, written apart from the sender's code: every parameter but Signature,
// sorted, encoded the way Alibaba's Java sample does (URLEncoder, then + → %20,
// * → %2A, %7E → ~), and signed with the secret and "&".
func recomputeAliyunSignature(q url.Values, secret string) string {
	enc := func(s string) string {
		return strings.NewReplacer("+", "%20", "*", "%2A", "%7E", "~").Replace(url.QueryEscape(s))
	}
	var keys, pairs []string
	for k := range q {
		if k != "Signature" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		pairs = append(pairs, enc(k)+"="+enc(q.Get(k)))
	}
	mac := hmac.New(sha1.New, []byte(secret+"&"))
	mac.Write([]byte("GET&" + enc("/") + "&" + enc(strings.Join(pairs, "&"))))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// sender is an Alibaba Cloud sender for this account.
func (f *fakeAliyun) sender(t *testing.T, timeout time.Duration) *Aliyun {
	t.Helper()
	s, err := NewAliyun(AliyunOptions{Endpoint: f.URL, AccessKeyID: f.keyID, AccessKeySecret: f.secret,
		SignName: f.signName, TemplateCode: f.template, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// answerCase is how a provider's answer must come out of Send.
type answerCase struct {
	name      string
	answer    step
	wantRetry bool
	wantErr   string
}

// testAnswers sends one SMS per case through a fresh fake of a provider
// answering as the case says, with a 200 ms timeout, and checks whether it
// is retried and why it failed.
func testAnswers(t *testing.T, send func(t *testing.T, answer step) (bool, error), tests []answerCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			retry, err := send(t, tt.answer)
			if retry != tt.wantRetry || (err == nil) != (tt.wantErr == "") {
				t.Fatalf("Send = %v, %v; want retry %v, error %q", retry, err, tt.wantRetry, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q, want it to contain %q", err, tt.wantErr)
			}
			if el := time.Since(start); el > 2*time.Second {
				t.Errorf("took %s with a 200 ms timeout", el)
			}
		})
	}
}
