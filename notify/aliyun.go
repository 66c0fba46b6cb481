package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/eldersafe/eldersafe/tasks"
)

// DefaultAliyunEndpoint is Alibaba Cloud SMS (dysmsapi).
const DefaultAliyunEndpoint = "https://dysmsapi.aliyuncs.com"

// aliyunMaxText bounds the template variable: Alibaba Cloud takes at most 500
// characters in a whole SMS, signature and fixed text included.
const aliyunMaxText = 400

// AliyunOptions configure an Alibaba Cloud SMS sender.
type AliyunOptions struct {
	// Endpoint is the SMS API; tests point it at a local server that speaks
	// the same API. Default DefaultAliyunEndpoint.
	Endpoint        string
	AccessKeyID     string
	AccessKeySecret string
	SignName        string // the approved signature, shown as 【SignName】
	TemplateCode    string // the approved template, e.g. SMS_123456789; docs/notifications.md says what it must read
	Timeout         time.Duration
	Logger          *slog.Logger
}

// Aliyun sends notices as SMS through Alibaba Cloud's SendSms (API version
// 2017-05-25), a GET whose query is signed with HMAC-SHA1 (signature version
// 1.0). Mainland Chinese SMS must use an approved template: the notice's text
// goes in its one variable, TemplateParam {"text": ...}. Alibaba limits a
// variable to 35 characters unless the template is approved with the limit
// lifted, which docs/notifications.md asks for.
//
// It signs requests itself rather than through
// github.com/aliyun/alibaba-cloud-sdk-go: that one module carries the client
// of every Alibaba Cloud service, to make one API call; it retries and times
// out by its own rules underneath the dispatcher's; and the signature is a
// few dozen lines, tested against the examples Alibaba publishes.
//
// OutId carries the notice id. Alibaba echoes it in delivery receipts, which
// ties a delivered SMS to its notice; it does not promise to drop a repeat,
// so, as with Twilio, a retry after a lost answer may send the SMS twice.
type Aliyun struct {
	opts     AliyunOptions
	endpoint string
	client   *http.Client
}

// NewAliyun checks the options and returns an Alibaba Cloud SMS sender.
func NewAliyun(opts AliyunOptions) (*Aliyun, error) {
	if opts.Endpoint == "" {
		opts.Endpoint = DefaultAliyunEndpoint
	}
	endpoint, err := providerURL(opts.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("aliyun: endpoint: %w", err)
	}
	if opts.AccessKeyID == "" || opts.AccessKeySecret == "" || opts.SignName == "" || opts.TemplateCode == "" {
		return nil, errors.New("aliyun: access key id, access key secret, sign name and template code are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Aliyun{opts: opts, endpoint: endpoint + "/", client: newClient(opts.Timeout)}, nil
}

// aliyunRetryCodes are the answers worth trying again besides 5xx, 429 and
// 408: Alibaba's own trouble, rate limits (per number: a minute, an hour), and
// an account out of credit or over its daily quota, which an operator can
// put right within the retry window. Anything else (a wrong number, template,
// signature or key) is refused again and fails the notice at once.
var aliyunRetryCodes = []string{
	"InternalError", "ServiceUnavailable", "isp.SYSTEM_ERROR",
	"SignatureNonceUsed", // each attempt draws a new nonce
	"isv.BUSINESS_LIMIT_CONTROL", "isv.DAY_LIMIT_CONTROL",
	"isv.OUT_OF_SERVICE", "isv.AMOUNT_NOT_ENOUGH",
}

// Send sends n as an SMS to the phone number n.Address.
func (a *Aliyun) Send(ctx context.Context, n tasks.Notice) (retry bool, err error) {
	phone, err := phoneNumber(n.Address)
	if err != nil {
		return false, err
	}
	param, err := json.Marshal(aliyunTemplateParam(n))
	if err != nil {
		return false, fmt.Errorf("encode template param: %w", err)
	}
	query := aliyunSignedQuery(map[string]string{
		"AccessKeyId":      a.opts.AccessKeyID,
		"Action":           "SendSms",
		"Format":           "JSON",
		"OutId":            n.ID,
		"PhoneNumbers":     phone,
		"RegionId":         "cn-hangzhou",
		"SignName":         a.opts.SignName,
		"SignatureMethod":  "HMAC-SHA1",
		"SignatureNonce":   uuid.NewString(),
		"SignatureVersion": "1.0",
		"TemplateCode":     a.opts.TemplateCode,
		"TemplateParam":    string(param),
		"Timestamp":        time.Now().UTC().Format("2006-01-02T15:04:05Z"),
		"Version":          "2017-05-25",
	}, a.opts.AccessKeySecret)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.endpoint+"?"+query, nil)
	if err != nil {
		return false, fmt.Errorf("request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "eldersafe")

	resp, body, err := roundTrip(a.client, req)
	if err != nil {
		return true, fmt.Errorf("get: %w", err)
	}
	var answer struct{ Code, Message, BizId, RequestId string }
	if json.Unmarshal(body, &answer) != nil || answer.Code == "" {
		// Not Alibaba's answer (a proxy's error page?): the SMS may well not
		// have gone out, and a second one beats a lost alarm.
		return success(resp.StatusCode) || retryableStatus(resp.StatusCode), statusError(resp, body)
	}
	if answer.Code == "OK" && success(resp.StatusCode) {
		a.opts.Logger.Info("sms accepted", "provider", "aliyun", "notice_id", n.ID, "task_id", n.TaskID, "biz_id", answer.BizId, "request_id", answer.RequestId)
		return false, nil
	}
	retry = retryableStatus(resp.StatusCode) || slices.Contains(aliyunRetryCodes, answer.Code) || strings.HasPrefix(answer.Code, "Throttling")
	// A signature mismatch quotes the whole string to sign, phone number and
	// text included; the error is shown on the task, so it stops before that.
	msg, _, _ := strings.Cut(answer.Message, "server string to sign is")
	return retry, statusDetail(resp, answer.Code+": "+oneLine(msg))
}

// aliyunTemplateParam fills the template's variable with the notice's text,
// folded onto one line and without its links (the map link line): Alibaba
// accepts links only in a template's fixed text.
func aliyunTemplateParam(n tasks.Notice) map[string]string {
	var lines []string
	for line := range strings.Lines(n.Message) {
		if !strings.Contains(line, "://") {
			lines = append(lines, line)
		}
	}
	return map[string]string{"text": clip(oneLine(strings.Join(lines, " ")), aliyunMaxText)}
}

// aliyunSignedQuery is the query string of an RPC-style request: the
// parameters in canonical order, then the Signature over them.
func aliyunSignedQuery(params map[string]string, secret string) string {
	canonical := aliyunCanonicalQuery(params)
	sig := aliyunSignature(aliyunStringToSign(http.MethodGet, canonical), secret)
	return canonical + "&Signature=" + aliyunPercentEncode(sig)
}

// aliyunCanonicalQuery sorts the parameters by name and joins them as
// name=value with &, names and values percent-encoded.
func aliyunCanonicalQuery(params map[string]string) string {
	names := make([]string, 0, len(params))
	for name := range params {
		names = append(names, name)
	}
	slices.Sort(names)
	var b strings.Builder
	for i, name := range names {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(aliyunPercentEncode(name))
		b.WriteByte('=')
		b.WriteString(aliyunPercentEncode(params[name]))
	}
	return b.String()
}

// aliyunStringToSign is METHOD&%2F&percentEncode(canonical query): the
// canonical query is encoded a second time.
func aliyunStringToSign(method, canonical string) string {
	return method + "&" + aliyunPercentEncode("/") + "&" + aliyunPercentEncode(canonical)
}

// aliyunSignature is Base64(HMAC-SHA1(secret + "&", stringToSign)).
func aliyunSignature(stringToSign, secret string) string {
	mac := hmac.New(sha1.New, []byte(secret+"&"))
	mac.Write([]byte(stringToSign))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// aliyunPercentEncode is the RPC signature's encoding of UTF-8 bytes: A–Z,
// a–z, 0–9, -, _, . and ~ stay as they are, every other byte becomes %XY in
// upper case (a space is %20, never +).
func aliyunPercentEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == '~':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0x0F])
		}
	}
	return b.String()
}
