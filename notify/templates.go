package notify

import (
	"bytes"
	"embed"
	"fmt"
	"math"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/tasks"
)

// The message layouts live in templates/<lang>.tmpl, one file per language. Each
// file defines, for every event in events, three templates:
//
//	<event>.title   one line: the push title, and the start of an SMS
//	<event>.worker  the text for grid workers (with details and a map link)
//	<event>.family  the text for family contacts (less detail)
//
// Adding an event ("escalated", "reminder", "cleared") means adding its three
// templates to every file and its name to events; NewTemplates refuses a set
// that misses one, so a gap shows at start-up rather than at the first alarm.
//
// The words the layouts use (rule phrases, severity words) are in the vocabulary
// table below, so that a test can check every rule is named in every language.

//go:embed templates/*.tmpl
var templateFiles embed.FS

// events are the notice events every language must have templates for.
var events = []string{tasks.NoticeOpened}

// roles are the recipient roles every event must have a text for.
var roles = []string{tasks.RecipientWorker, tasks.RecipientFamily}

// vocabulary holds, per language, the human phrase of every rule and severity.
var vocabulary = map[string]words{
	"zh-CN": {
		rules: map[string]string{
			rules.RuleFall:                "跌倒",
			rules.RuleSOS:                 "紧急呼叫",
			rules.RuleWaterNoUse:          "长时间未用水",
			rules.RuleWaterContinuousFlow: "长时间持续流水（可能漏水或忘关水龙头）",
			rules.RuleNoMotion:            "长时间无活动",
			rules.RuleNoExit:              "多日未出门",
			rules.RulePowerNoUse:          "长时间几乎未用电",
			rules.RuleDeviceOffline:       "设备离线",
			rules.RuleBatteryLow:          "设备电量低",
			rules.RuleManual:              "人工上报（居民来电）",
		},
		severities: map[rules.Severity]string{
			rules.Critical: "紧急",
			rules.High:     "重要",
			rules.Medium:   "一般",
			rules.Low:      "提示",
		},
	},
	"en": {
		rules: map[string]string{
			rules.RuleFall:                "a fall",
			rules.RuleSOS:                 "SOS button pressed",
			rules.RuleWaterNoUse:          "no water used for a long time",
			rules.RuleWaterContinuousFlow: "water running without a pause for a long time (a leak or a tap left open?)",
			rules.RuleNoMotion:            "no movement at home for a long time",
			rules.RuleNoExit:              "has not left home for days",
			rules.RulePowerNoUse:          "almost no electricity used for a long time",
			rules.RuleDeviceOffline:       "a device is offline",
			rules.RuleBatteryLow:          "a device's battery is low",
			rules.RuleManual:              "reported by phone",
		},
		severities: map[rules.Severity]string{
			rules.Critical: "Critical",
			rules.High:     "High",
			rules.Medium:   "Medium",
			rules.Low:      "Low",
		},
	},
}

type words struct {
	rules      map[string]string
	severities map[rules.Severity]string
}

// whenLayout is how the time of an event is written, in the household's time zone.
const whenLayout = "2006-01-02 15:04"

// maxDetails bounds how many pieces of evidence a worker's text lists.
const maxDetails = 3

// Templates composes notices from the embedded per-language templates. It is
// safe for concurrent use.
type Templates struct {
	sets       map[string]*template.Template // by language
	defaultLoc *time.Location
}

// NewTemplates parses the embedded templates and checks that every language has
// every event's templates and names every rule and severity.
func NewTemplates() (*Templates, error) {
	t := &Templates{sets: make(map[string]*template.Template), defaultLoc: time.UTC}
	if loc, err := time.LoadLocation(registry.DefaultTimezone); err == nil {
		t.defaultLoc = loc
	}
	for _, lang := range registry.Languages {
		if _, ok := vocabulary[lang]; !ok {
			return nil, fmt.Errorf("templates: no vocabulary for language %s", lang)
		}
		set, err := template.New(lang).Option("missingkey=error").ParseFS(templateFiles, "templates/"+lang+".tmpl")
		if err != nil {
			return nil, fmt.Errorf("templates: %s: %w", lang, err)
		}
		for _, ev := range events {
			for _, part := range append([]string{"title"}, roles...) {
				if set.Lookup(ev+"."+part) == nil {
					return nil, fmt.Errorf("templates: %s: template %q is missing", lang, ev+"."+part)
				}
			}
		}
		t.sets[lang] = set
	}
	return t, nil
}

// Compose writes the title and text of a notice for m.Role in m.Lang; an
// unknown language falls back to the default, zh-CN. An unknown rule or
// severity is written as its name rather than failing: a notice must never be
// lost to a missing phrase.
func (t *Templates) Compose(m tasks.Message) (title, text string, err error) {
	lang := t.language(m.Lang)
	set := t.sets[lang]
	body := set.Lookup(m.Event + "." + m.Role)
	head := set.Lookup(m.Event + ".title")
	if body == nil || head == nil {
		return "", "", fmt.Errorf("templates: no %s template for event %q and recipient %q", lang, m.Event, m.Role)
	}
	v := t.view(lang, m)
	var buf bytes.Buffer
	if err := head.Execute(&buf, v); err != nil {
		return "", "", fmt.Errorf("templates: %s %s title: %w", lang, m.Event, err)
	}
	title = oneLine(buf.String())
	buf.Reset()
	if err := body.Execute(&buf, v); err != nil {
		return "", "", fmt.Errorf("templates: %s %s %s text: %w", lang, m.Event, m.Role, err)
	}
	return title, strings.TrimSpace(buf.String()), nil
}

// language picks the template set for lang: an exact match, then a case-insensitive
// one, then one of the same base language ("en-GB" → "en", "zh" → "zh-CN"),
// else the default.
func (t *Templates) language(lang string) string {
	if _, ok := t.sets[lang]; ok {
		return lang
	}
	base := func(l string) string {
		b, _, _ := strings.Cut(strings.ReplaceAll(l, "_", "-"), "-")
		return strings.ToLower(b)
	}
	for _, l := range registry.Languages {
		if strings.EqualFold(l, lang) {
			return l
		}
	}
	for _, l := range registry.Languages {
		if lang != "" && base(l) == base(lang) {
			return l
		}
	}
	return registry.DefaultLanguage
}

// view is what the templates see.
type view struct {
	Event    string
	Worker   bool   // the recipient is a grid worker
	Name     string // the household's name: who
	Address  string // where
	What     string // the rule's phrase
	Rule     string // the rule's name, e.g. fall
	Severity string // the severity's word
	Kind     string // visit or maintenance
	When     string // when the task opened, in the household's time zone
	Details  []string
	MapURL   string
	Assignee string // who is on the way; empty while the office arranges it
}

func (t *Templates) view(lang string, m tasks.Message) view {
	w := vocabulary[lang]
	v := view{
		Event:    m.Event,
		Worker:   m.Role == tasks.RecipientWorker,
		Name:     oneLine(m.Household.Name),
		Address:  oneLine(m.Household.Address),
		What:     w.rules[m.Task.Rule],
		Rule:     m.Task.Rule,
		Severity: w.severities[m.Task.Severity],
		Kind:     string(m.Task.Kind),
		Assignee: oneLine(m.Assignee),
	}
	if v.What == "" {
		v.What = m.Task.Rule
	}
	if v.Severity == "" {
		v.Severity = string(m.Task.Severity)
	}
	loc := m.Household.Location
	if loc == nil {
		loc = t.defaultLoc
	}
	if !m.Task.OpenedAt.IsZero() {
		v.When = m.Task.OpenedAt.In(loc).Format(whenLayout)
	}
	if v.Worker {
		for _, ev := range m.Task.Evidence {
			if s := oneLine(ev.Summary); s != "" && len(v.Details) < maxDetails {
				v.Details = append(v.Details, s)
			}
		}
		v.MapURL = mapURL(lang, m.Lat, m.Lon)
	}
	return v
}

// mapURL links to a map marker at the wristband's position: Amap for zh-CN,
// OpenStreetMap otherwise. Wristbands report GPS (WGS-84) coordinates, which
// Amap must be told: it assumes GCJ-02, some hundreds of metres off in China.
func mapURL(lang string, lat, lon *float64) string {
	if lat == nil || lon == nil || !validCoord(*lat, 90) || !validCoord(*lon, 180) {
		return ""
	}
	la, lo := coord(*lat), coord(*lon)
	if lang == "zh-CN" {
		return "https://uri.amap.com/marker?position=" + lo + "," + la + "&coordinate=wgs84"
	}
	return "https://www.openstreetmap.org/?mlat=" + la + "&mlon=" + lo
}

func validCoord(v, limit float64) bool {
	return !math.IsNaN(v) && v >= -limit && v <= limit
}

func coord(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// oneLine folds runs of whitespace, newlines included, into single spaces, so
// that a name or a summary cannot break a template's layout.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
