package notify

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// TestAliyunSignature_PublishedExamples reproduces, to the byte, the examples
// Alibaba Cloud publishes for its RPC signature (signature version 1.0):
//
//   - the generic one, from "Request syntax and signature method V2 for RPC
//     APIs" / "签名机制": ECS DescribeRegions, AccessKeyId testid, secret
//     testsecret, with the string-to-sign and the signature it prints;
//   - the SMS one, from the SMS service's "HTTP协议及签名" / "生成请求签名"
//     (help.aliyun.com/document_detail/101343): SendSms with a Chinese
//     SignName, AccessKeyId testId, secret testSecret, signature
//     zJDF+Lrzhj/ThnlvIToysFRq6t4= (zJDF%2BLrzhj%2FThnlvIToysFRq6t4%3D in its URL).
func TestAliyunSignature_PublishedExamples(t *testing.T) {
	tests := []struct {
		name          string
		params        map[string]string
		secret        string
		stringToSign  string // "" where the example prints only the signature
		signature     string
		signedURLPart string
	}{
		{
			name: "DescribeRegions",
			params: map[string]string{
				"AccessKeyId": "testid", "Action": "DescribeRegions", "Format": "XML",
				"SignatureMethod": "HMAC-SHA1", "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
				"SignatureVersion": "1.0", "Timestamp": "2016-02-23T12:46:24Z", "Version": "2014-05-26",
			},
			secret: "testsecret",
			stringToSign: "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML%26SignatureMethod%3DHMAC-SHA1" +
				"%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1.0" +
				"%26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26",
			signature:     "OLeaidS1JvxuMvnyHOwuJ+uX5qY=",
			signedURLPart: "&Signature=OLeaidS1JvxuMvnyHOwuJ%2BuX5qY%3D",
		},
		{
			name: "SendSms",
			params: map[string]string{
				"AccessKeyId": "testId", "Action": "SendSms", "Format": "XML", "OutId": "123",
				"PhoneNumbers": "15300000001", "RegionId": "cn-hangzhou", "SignName": "阿里云短信测试专用",
				"SignatureMethod": "HMAC-SHA1", "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
				"SignatureVersion": "1.0", "TemplateCode": "SMS_71390007", "TemplateParam": `{"customer":"test"}`,
				"Timestamp": "2017-07-12T02:42:19Z", "Version": "2017-05-25",
			},
			secret:        "testSecret",
			signature:     "zJDF+Lrzhj/ThnlvIToysFRq6t4=",
			signedURLPart: "&Signature=zJDF%2BLrzhj%2FThnlvIToysFRq6t4%3D",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sts := aliyunStringToSign(http.MethodGet, aliyunCanonicalQuery(tt.params))
			if tt.stringToSign != "" && sts != tt.stringToSign {
				t.Errorf("string to sign\n got %s\nwant %s", sts, tt.stringToSign)
			}
			if got := aliyunSignature(sts, tt.secret); got != tt.signature {
				t.Errorf("signature = %s, want %s", got, tt.signature)
			}
			if q := aliyunSignedQuery(tt.params, tt.secret); !strings.HasSuffix(q, tt.signedURLPart) {
				t.Errorf("signed query %s does not end in %s", q, tt.signedURLPart)
			}
		})
	}
}

func TestAliyunPercentEncode(t *testing.T) {
	for in, want := range map[string]string{
		"AZaz09-_.~":           "AZaz09-_.~",
		"a b":                  "a%20b", // never +
		"*":                    "%2A",
		"+/=&":                 "%2B%2F%3D%26",
		"2016-02-23T12:46:24Z": "2016-02-23T12%3A46%3A24Z",
		"派":                    "%E6%B4%BE",
		`{"text":"x"}`:         "%7B%22text%22%3A%22x%22%7D",
	} {
		if got := aliyunPercentEncode(in); got != want {
			t.Errorf("aliyunPercentEncode(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestAliyun_RequestVerifiedByServer: the fake recomputes the signature from
// what it received and checks every parameter SendSms needs.
func TestAliyun_RequestVerifiedByServer(t *testing.T) {
	f := newFakeAliyun(t)
	n := smsNotice("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "+86 138 0000 0001")
	retry, err := f.sender(t, time.Second).Send(context.Background(), n)
	if err != nil || retry {
		t.Fatalf("Send = %v, %v; want success", retry, err)
	}
	calls, accepted, refused := f.requests()
	if calls != 1 || len(accepted) != 1 || len(refused) != 0 {
		t.Fatalf("%d calls, accepted %v, refused %v; want one accepted request", calls, accepted, refused)
	}
	q := accepted[0]
	for k, want := range map[string]string{
		"PhoneNumbers": "+8613800000001",
		"SignName":     f.signName,
		"TemplateCode": f.template,
		"OutId":        n.ID, // the idempotency key: the notice's id
		"RegionId":     "cn-hangzhou",
	} {
		if got := q.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	var param map[string]string
	if err := json.Unmarshal([]byte(q.Get("TemplateParam")), &param); err != nil {
		t.Fatalf("TemplateParam %q: %v", q.Get("TemplateParam"), err)
	}
	want := map[string]string{"text": "王秀英：跌倒（3月5日 09:12） 地址：上海市黄浦区幸福路12弄3号401室 社区网格员李敏正在前往查看。"}
	if len(param) != 1 || param["text"] != want["text"] {
		t.Errorf("TemplateParam = %v, want %v", param, want)
	}
}

func TestAliyun_Answers(t *testing.T) {
	testAnswers(t, func(t *testing.T, answer step) (bool, error) {
		f := newFakeAliyun(t)
		f.setAnswer(inOrder(answer))
		return f.sender(t, 200*time.Millisecond).Send(context.Background(), smsNotice("n1", "+8613800000001"))
	}, []answerCase{
		{"OK", step{}, false, ""},
		{"illegal number", step{status: 200, fixture: "isv.MOBILE_NUMBER_ILLEGAL"}, false, "200 OK: isv.MOBILE_NUMBER_ILLEGAL: 非法手机号"},
		{"template gone", step{status: 200, fixture: "isv.SMS_TEMPLATE_ILLEGAL"}, false, "isv.SMS_TEMPLATE_ILLEGAL"},
		{"rate limit per number", step{status: 200, fixture: "isv.BUSINESS_LIMIT_CONTROL"}, true, "isv.BUSINESS_LIMIT_CONTROL: 触发小时级流控"},
		{"out of credit", step{status: 200, fixture: "isv.OUT_OF_SERVICE"}, true, "isv.OUT_OF_SERVICE"},
		{"throttled", step{status: 400, fixture: "Throttling.User"}, true, "400 Bad Request: Throttling.User"},
		{"internal error", step{status: 500, fixture: "InternalError"}, true, "500 Internal Server Error: InternalError"},
		{"unavailable", step{status: 503, fixture: "ServiceUnavailable"}, true, "503 Service Unavailable: ServiceUnavailable"},
		{"proxy error page", step{status: 502, raw: "<html>bad gateway</html>"}, true, "502 Bad Gateway: <html>bad gateway</html>"},
		{"proxy page with 200", step{status: 200, raw: "<html>captive portal</html>"}, true, "200 OK: <html>captive portal</html>"},
		{"proxy refusal", step{status: 403, raw: "forbidden"}, false, "403 Forbidden: forbidden"},
		{"stall", step{stall: true}, true, "Client.Timeout exceeded"},
	})
}

// TestAliyun_RefusedAsAlibabaWould: a wrong secret, key, signature name or
// template is refused by the fake's own checks, and fails the notice at once.
func TestAliyun_RefusedAsAlibabaWould(t *testing.T) {
	f := newFakeAliyun(t)
	tests := []struct {
		name string
		edit func(*AliyunOptions)
		to   string
		code string
	}{
		{"wrong secret", func(o *AliyunOptions) { o.AccessKeySecret = "rotated" }, "+8613800000001", "SignatureDoesNotMatch"},
		{"unknown key", func(o *AliyunOptions) { o.AccessKeyID = "LTAI5tGone" }, "+8613800000001", "InvalidAccessKeyId.NotFound"},
		{"unapproved signature", func(o *AliyunOptions) { o.SignName = "别的签名" }, "+8613800000001", "isv.SMS_SIGNATURE_ILLEGAL"},
		{"unknown template", func(o *AliyunOptions) { o.TemplateCode = "SMS_0" }, "+8613800000001", "isv.SMS_TEMPLATE_ILLEGAL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := AliyunOptions{Endpoint: f.URL, AccessKeyID: f.keyID, AccessKeySecret: f.secret, SignName: f.signName, TemplateCode: f.template}
			tt.edit(&opts)
			s, err := NewAliyun(opts)
			if err != nil {
				t.Fatal(err)
			}
			retry, err := s.Send(context.Background(), smsNotice("n1", tt.to))
			if err == nil || retry {
				t.Fatalf("Send = %v, %v; want a permanent error", retry, err)
			}
			if !strings.Contains(err.Error(), tt.code) {
				t.Errorf("error %q does not give Alibaba's code %s", err, tt.code)
			}
			if strings.Contains(err.Error(), "8613800000001") {
				t.Errorf("error %q quotes the phone number", err)
			}
		})
	}
	if _, _, refused := f.requests(); strings.Join(refused, ",") != "SignatureDoesNotMatch,InvalidAccessKeyId.NotFound,isv.SMS_SIGNATURE_ILLEGAL,isv.SMS_TEMPLATE_ILLEGAL" {
		t.Errorf("fake refused %v", refused)
	}
}

// TestAliyun_EveryAttemptIsFresh: a retry draws a new nonce (the fake refuses a
// reused one) and a new timestamp, and keeps the OutId.
func TestAliyun_EveryAttemptIsFresh(t *testing.T) {
	f := newFakeAliyun(t)
	f.setAnswer(inOrder(step{status: 503, fixture: "ServiceUnavailable"}))
	s := f.sender(t, time.Second)
	n := smsNotice("n1", "+8613800000001")
	if retry, err := s.Send(context.Background(), n); err == nil || !retry {
		t.Fatalf("first Send = %v, %v; want a retryable error", retry, err)
	}
	if retry, err := s.Send(context.Background(), n); err != nil {
		t.Fatalf("second Send = %v, %v; want success", retry, err)
	}
	_, accepted, refused := f.requests()
	if len(accepted) != 2 || len(refused) != 0 {
		t.Fatalf("accepted %d, refused %v", len(accepted), refused)
	}
	if a, b := accepted[0], accepted[1]; a.Get("SignatureNonce") == b.Get("SignatureNonce") || a.Get("OutId") != "n1" || b.Get("OutId") != "n1" {
		t.Errorf("nonces %q, %q and OutIds %q, %q: want fresh nonces and the notice id twice",
			a.Get("SignatureNonce"), b.Get("SignatureNonce"), a.Get("OutId"), b.Get("OutId"))
	}
}

func TestAliyunTemplateParam(t *testing.T) {
	n := smsNotice("n1", "+8613800000001")
	n.Message = "王秀英：跌倒（紧急，3月5日 09:12）\n地址：幸福路12弄3号401室\n位置：https://uri.amap.com/marker?position=121.4737,31.2304&coordinate=wgs84\n负责人：李敏。"
	got := aliyunTemplateParam(n)
	if want := "王秀英：跌倒（紧急，3月5日 09:12） 地址：幸福路12弄3号401室 负责人：李敏。"; got["text"] != want {
		t.Errorf("text = %q, want %q (one line, no link)", got["text"], want)
	}
	n.Message = strings.Repeat("很长的备注", 200)
	if got := aliyunTemplateParam(n)["text"]; utf8.RuneCountInString(got) != aliyunMaxText || !strings.HasSuffix(got, "…") {
		t.Errorf("long text: %d characters, want %d ending in …", utf8.RuneCountInString(got), aliyunMaxText)
	}
}

func TestAliyun_NetworkErrorRetries(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	endpoint := srv.URL
	srv.Close()
	s, err := NewAliyun(AliyunOptions{Endpoint: endpoint, AccessKeyID: "LTAI5tKey", AccessKeySecret: "very-secret",
		SignName: "社区关爱", TemplateCode: "SMS_1"})
	if err != nil {
		t.Fatal(err)
	}
	retry, err := s.Send(context.Background(), smsNotice("n1", "+8613800000001"))
	if err == nil || !retry {
		t.Fatalf("Send = %v, %v; want a retryable error", retry, err)
	}
	if strings.Contains(err.Error(), "LTAI5tKey") || strings.Contains(err.Error(), "Signature") {
		t.Errorf("error %q quotes the signed URL", err)
	}
}

func TestNewAliyun_Options(t *testing.T) {
	ok := AliyunOptions{AccessKeyID: "k", AccessKeySecret: "s", SignName: "社区关爱", TemplateCode: "SMS_1"}
	s, err := NewAliyun(ok)
	if err != nil {
		t.Fatal(err)
	}
	if s.endpoint != "https://dysmsapi.aliyuncs.com/" {
		t.Errorf("endpoint = %q, want the default", s.endpoint)
	}
	for name, edit := range map[string]func(*AliyunOptions){
		"no key id":   func(o *AliyunOptions) { o.AccessKeyID = "" },
		"no secret":   func(o *AliyunOptions) { o.AccessKeySecret = "" },
		"no sign":     func(o *AliyunOptions) { o.SignName = "" },
		"no template": func(o *AliyunOptions) { o.TemplateCode = "" },
		"no scheme":   func(o *AliyunOptions) { o.Endpoint = "dysmsapi.aliyuncs.com" },
	} {
		o := ok
		edit(&o)
		if _, err := NewAliyun(o); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
}
