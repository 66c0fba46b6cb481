package notify

import (
	"fmt"
	"time"

	"github.com/eldersafe/eldersafe/rules"
)

// A worker's notice says what the sensors saw in the notice's language,
// from the rule and the evidence's values, times in the household's zone
// and durations in words ("6小时", "6 h"): never the rules engine's own
// summary, which is English and written for logs. A manual task's evidence
// is what the office wrote, quoted as it is.

// phrasebook holds, per language, how evidence and times are worded.
type phrasebook struct {
	fall, sos, unmonitored string
	// since words an absence: when it began and how long it has lasted.
	since map[string]string
	// lateWake: since when, and the usual time of rising.
	lateWake string
	// powerNoUse: since when, and the kWh used since.
	powerNoUse string
	// offline: when the device was last heard, and how long ago.
	offline string
	battery string
	// day, hour, minute spell a duration's parts; join joins them.
	day, hour, minute, join string
}

var phrasebooks = map[string]phrasebook{
	"zh-CN": {
		fall: "手环检测到跌倒", sos: "按下了紧急呼叫按钮", unmonitored: "所有看护传感器均无信号",
		since: map[string]string{
			rules.RuleWaterNoUse:          "自%s起未用水（已%s）",
			rules.RuleWaterContinuousFlow: "自%s起水流不止（已%s）",
			rules.RuleNoMotion:            "自%s起无活动（已%s）",
			rules.RuleNoExit:              "自%s起入户门未开过（已%s）",
			rules.RuleUnusualQuiet:        "自%s起无活动（已%s），比平时安静得多",
		},
		lateWake:   "自%s起无活动，平时%s前起床",
		powerNoUse: "自%s起仅用电%.2f千瓦时",
		offline:    "最后一次上报：%s（%s前）",
		battery:    "电量%.0f%%",
		day:        "%d天", hour: "%d小时", minute: "%d分钟", join: "",
	},
	"en": {
		fall: "the wristband detected a fall", sos: "the SOS button was pressed", unmonitored: "every welfare sensor is silent",
		since: map[string]string{
			rules.RuleWaterNoUse:          "no water used since %s (%s)",
			rules.RuleWaterContinuousFlow: "water running since %s (%s)",
			rules.RuleNoMotion:            "no movement since %s (%s)",
			rules.RuleNoExit:              "the entrance door has not opened since %s (%s)",
			rules.RuleUnusualQuiet:        "no movement since %s (%s), much quieter than usual",
		},
		lateWake:   "no movement since %s; usually up by %s",
		powerNoUse: "only %.2[2]f kWh used since %[1]s",
		offline:    "last heard %s (%s ago)",
		battery:    "battery at %.0f%%",
		day:        "%d d", hour: "%d h", minute: "%d min", join: " ",
	},
}

// detail words one piece of evidence of a task of rule, for lang, times in
// loc written with layout; empty when there is nothing to add to the
// notice's "what".
func detail(lang, rule string, ev rules.Evidence, loc *time.Location, layout string) string {
	if rule == rules.RuleManual {
		return oneLine(ev.Summary)
	}
	p, ok := phrasebooks[lang]
	if !ok {
		return ""
	}
	when := func(t time.Time) string { return t.In(loc).Format(layout) }
	switch rule {
	case rules.RuleFall:
		return p.fall
	case rules.RuleSOS:
		return p.sos
	case rules.RuleUnmonitored:
		return p.unmonitored
	case rules.RuleDeviceOffline:
		if seen, ok := timeValue(ev.Values, "last_seen"); ok {
			return fmt.Sprintf(p.offline, when(seen), p.duration(ev.At.Sub(seen)))
		}
	case rules.RuleBatteryLow:
		if pct, ok := ev.Values["battery_pct"].(float64); ok {
			return fmt.Sprintf(p.battery, pct)
		}
	}
	since, ok := timeValue(ev.Values, "since")
	if !ok {
		since, ok = timeValue(ev.Values, "flowing_since")
	}
	if !ok {
		return ""
	}
	switch rule {
	case rules.RuleLateWake:
		if wake, ok := ev.Values["usual_wake"].(string); ok {
			return fmt.Sprintf(p.lateWake, when(since), wake)
		}
	case rules.RulePowerNoUse:
		if kwh, ok := ev.Values["used_kwh"].(float64); ok {
			return fmt.Sprintf(p.powerNoUse, when(since), kwh)
		}
	}
	if f, ok := p.since[rule]; ok {
		return fmt.Sprintf(f, when(since), p.duration(ev.At.Sub(since)))
	}
	return ""
}

// duration spells d in words to the minute: "1天2小时", "6 h 5 min"; whole
// days drop the minutes.
func (p phrasebook) duration(d time.Duration) string {
	mins := int(d.Round(time.Minute) / time.Minute)
	if mins < 0 {
		mins = -mins
	}
	days, hours, minutes := mins/(24*60), mins%(24*60)/60, mins%60
	var parts []string
	if days > 0 {
		parts = append(parts, fmt.Sprintf(p.day, days))
	}
	if hours > 0 {
		parts = append(parts, fmt.Sprintf(p.hour, hours))
	}
	if minutes > 0 && days == 0 || len(parts) == 0 {
		parts = append(parts, fmt.Sprintf(p.minute, minutes))
	}
	out := parts[0]
	for _, s := range parts[1:] {
		out += p.join + s
	}
	return out
}

// timeValue reads an RFC 3339 time the engine put in evidence values.
func timeValue(values map[string]any, key string) (time.Time, bool) {
	s, ok := values[key].(string)
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}

// zoneLabel names t's zone by its offset, "UTC+8", "UTC+5:30" or "UTC", which
// every reader can place (an abbreviation such as CST cannot be).
func zoneLabel(t time.Time) string {
	_, off := t.Zone()
	if off == 0 {
		return "UTC"
	}
	sign := "+"
	if off < 0 {
		sign, off = "-", -off
	}
	if m := off % 3600 / 60; m != 0 {
		return fmt.Sprintf("UTC%s%d:%02d", sign, off/3600, m)
	}
	return fmt.Sprintf("UTC%s%d", sign, off/3600)
}
