package notify

import (
	"strings"
	"testing"

	"github.com/eldersafe/eldersafe/tasks"
)

func TestPhoneNumber(t *testing.T) {
	tests := []struct {
		in, want string // want "" for an error
	}{
		{"+8613800000001", "+8613800000001"},
		{"+86 138-0000-0001", "+8613800000001"},
		{"(021) 6321.0000", "02163210000"},
		{"13800000001", "13800000001"},
		{"", ""},
		{"+86 1", ""},
		{"138 0000 000x", ""},
		{"++8613800000001", ""},
		{"https://push.example/x", ""},
		{strings.Repeat("1", 21), ""},
	}
	for _, tt := range tests {
		got, err := phoneNumber(tt.in)
		if got != tt.want || (err != nil) != (tt.want == "") {
			t.Errorf("phoneNumber(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
		if err != nil && tt.in != "" && strings.Contains(err.Error(), tt.in) {
			t.Errorf("error %q repeats the number", err)
		}
	}
}

func TestSMSBody(t *testing.T) {
	n := tasks.Notice{Title: "【紧急】王秀英：跌倒", Message: "王秀英：跌倒（3月5日 09:12）\n社区网格员李敏正在前往查看。\n"}
	if got, want := smsBody(n), "王秀英：跌倒（3月5日 09:12）\n社区网格员李敏正在前往查看。"; got != want {
		t.Errorf("smsBody = %q, want the text alone, %q", got, want)
	}
	n.Message = strings.Repeat("很长", 1000)
	got := []rune(smsBody(n))
	if len(got) != maxSMSBody || got[len(got)-1] != '…' {
		t.Errorf("long body: %d characters ending in %q, want %d ending in …", len(got), got[len(got)-1], maxSMSBody)
	}
}
