package notify

import (
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/rules"
)

// TestDetail: evidence is worded in the notice's language from its values,
// in the household's zone with durations in words; never the engine's
// English summary, except a manual task's, which the office wrote.
func TestDetail(t *testing.T) {
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Skip("no time zone data")
	}
	at := time.Date(2026, 3, 2, 9, 27, 8, 0, time.UTC)
	since := map[string]any{"since": "2026-03-02T03:27:08Z", "threshold_hours": 6.0}
	tests := []struct {
		name, lang, rule string
		ev               rules.Evidence
		want             string
	}{
		{"no motion zh", "zh-CN", rules.RuleNoMotion, rules.Evidence{At: at, Summary: "no motion since 2026-03-02T03:27:08Z: 6h0m0s", Values: since}, "自3月2日 11:27起无活动（已6小时）"},
		{"no motion en", "en", rules.RuleNoMotion, rules.Evidence{At: at, Summary: "no motion since 2026-03-02T03:27:08Z: 6h0m0s", Values: since}, "no movement since Mar 2, 11:27 (6 h)"},
		{"fall zh", "zh-CN", rules.RuleFall, rules.Evidence{At: at, Summary: "wristband detected a fall"}, "手环检测到跌倒"},
		{"water 1 d 2 h", "zh-CN", rules.RuleWaterNoUse, rules.Evidence{At: at.Add(20 * time.Hour), Values: since}, "自3月2日 11:27起未用水（已1天2小时）"},
		{"flow 1 h 30 min", "en", rules.RuleWaterContinuousFlow, rules.Evidence{At: at.Add(-270 * time.Minute), Values: map[string]any{"flowing_since": "2026-03-02T03:27:08Z"}}, "water running since Mar 2, 11:27 (1 h 30 min)"},
		{"offline", "zh-CN", rules.RuleDeviceOffline, rules.Evidence{At: at, Values: map[string]any{"last_seen": "2026-03-02T07:27:08Z"}}, "最后一次上报：3月2日 15:27（2小时前）"},
		{"battery", "en", rules.RuleBatteryLow, rules.Evidence{At: at, Values: map[string]any{"battery_pct": 12.0}}, "battery at 12%"},
		{"late wake", "zh-CN", rules.RuleLateWake, rules.Evidence{At: at, Values: map[string]any{"since": "2026-03-01T14:00:00Z", "usual_wake": "07:30"}}, "自3月1日 22:00起无活动，平时07:30前起床"},
		{"power", "en", rules.RulePowerNoUse, rules.Evidence{At: at, Values: map[string]any{"since": "2026-03-01T14:00:00Z", "used_kwh": 0.4}}, "only 0.40 kWh used since Mar 1, 22:00"},
		{"manual: the office's words", "zh-CN", rules.RuleManual, rules.Evidence{At: at, Summary: "老人来电：头晕"}, "老人来电：头晕"},
		{"no values: nothing rather than English", "zh-CN", rules.RuleNoExit, rules.Evidence{At: at, Summary: "the entrance door has not opened"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := detail(tt.lang, tt.rule, tt.ev, shanghai, vocabulary[tt.lang].when); got != tt.want {
				t.Errorf("detail = %q, want %q", got, tt.want)
			}
		})
	}
}
