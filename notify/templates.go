package notify

import (
	"bytes"
	"embed"
	"fmt"
	"math"
	"slices"
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
//	<event>.title   one line: the push title
//	<event>.worker  the text for grid workers (with details and a map link)
//	<event>.family  the text for family contacts (less detail)
//
// Adding an event ("reminder", "cleared") means adding its three templates to
// every file and its name to events; NewTemplates refuses a set that misses
// one, so a gap shows at start-up rather than at the first alarm.
//
// An SMS is the text alone (smsBody): a text starts with who, what and when,
// so that it stands without the title, and a family's text about a household
// with an everyday name and address fits one SMS (70 Chinese characters, 160
// GSM ones), or two joined (134, 306) when it carries a link (an answer or
// rating page). The tests hold the templates to that.
//
// What a family is told is less than what a worker is told: who, what, when,
// where and who is coming, and for a resolved task the outcome in kind words.
// Never the evidence (readings, device ids), the wristband's position, the
// worker's note or an operator's reason, which are written for the office.
//
// The words the layouts use (rule phrases, severity words, outcomes) are in
// the vocabulary table below, so that a test can check every rule and outcome
// is named in every language.

//go:embed templates/*.tmpl
var templateFiles embed.FS

// events are the notice events every language must have templates for.
var events = []string{tasks.NoticeOpened, tasks.NoticeEscalated, tasks.NoticeHandover, tasks.NoticeResolved, tasks.NoticeCancelled,
	tasks.NoticeVerifying, tasks.NoticeAcknowledged, tasks.NoticeOnSite}

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
			rules.RuleUnusualQuiet:        "比平时安静得多",
			rules.RuleLateWake:            "比平时晚起且无活动",
			rules.RuleDeviceOffline:       "设备离线",
			rules.RuleBatteryLow:          "设备电量低",
			rules.RuleUnmonitored:         "所有看护传感器均已失联，无法看护",
			rules.RuleManual:              "人工上报（居民来电）",
			rules.RuleRoutineVisit:        "例行走访",
		},
		severities: map[rules.Severity]string{
			rules.Critical: "紧急",
			rules.High:     "重要",
			rules.Medium:   "一般",
			rules.Low:      "提示",
		},
		outcomes: map[string]string{
			"safe":         "平安无事",
			"needs_help":   "需要帮助",
			"hospitalized": "已送医",
			"false_alarm":  "误报",
			"deceased":     "已故",
			"other":        "其他",
			"visited":      "已走访",
			"not_home":     "无人在家",
		},
		familyOutcomes: map[string]string{
			"safe":         "老人平安",
			"needs_help":   "老人需要帮助，社区会继续跟进",
			"hospitalized": "老人已送医，社区会与您联系",
			"false_alarm":  "一切正常，系误报",
			"deceased":     "社区工作人员会尽快与您电话联系", // such news is told in person, never by SMS
			"other":        "详情请联系社区",
			// A routine visit's outcome follows the worker's name.
			"visited":  "已上门走访",
			"not_home": "上门时家中无人，三天内会再来",
		},
		when:      "1月2日 15:04",
		separator: "、",
	},
	"en": {
		rules: map[string]string{
			rules.RuleFall:                "a fall",
			rules.RuleSOS:                 "SOS button pressed",
			rules.RuleWaterNoUse:          "no water used for a long time",
			rules.RuleWaterContinuousFlow: "water running for hours (a leak or an open tap?)",
			rules.RuleNoMotion:            "no movement at home for a long time",
			rules.RuleNoExit:              "has not left home for days",
			rules.RulePowerNoUse:          "almost no electricity used for a long time",
			rules.RuleUnusualQuiet:        "much quieter at home than usual",
			rules.RuleLateWake:            "not up at the usual time",
			rules.RuleDeviceOffline:       "a device is offline",
			rules.RuleBatteryLow:          "a device's battery is low",
			rules.RuleUnmonitored:         "every welfare sensor is silent: the home is not watched",
			rules.RuleManual:              "reported by phone",
			rules.RuleRoutineVisit:        "a routine visit",
		},
		severities: map[rules.Severity]string{
			rules.Critical: "Critical",
			rules.High:     "High",
			rules.Medium:   "Medium",
			rules.Low:      "Low",
		},
		outcomes: map[string]string{
			"safe":         "safe and well",
			"needs_help":   "needs help",
			"hospitalized": "taken to hospital",
			"false_alarm":  "false alarm",
			"deceased":     "deceased",
			"other":        "other",
			"visited":      "visited",
			"not_home":     "nobody at home",
		},
		familyOutcomes: map[string]string{
			"safe":         "all is well",
			"needs_help":   "help is needed, and the community office will follow up",
			"hospitalized": "taken to hospital; the community office will contact you",
			"false_alarm":  "a false alarm, all is well",
			"deceased":     "the community office will call you shortly", // such news is told in person, never by SMS
			"other":        "please ask the community office for details",
			// A routine visit's outcome follows the worker's name.
			"visited":  "called in",
			"not_home": "called, but nobody was at home; they will call again within 3 days",
		},
		when:      "Jan 2, 15:04",
		separator: ", ",
		zone:      true,
	},
}

type words struct {
	rules      map[string]string
	severities map[rules.Severity]string
	// outcomes name a resolution's outcome for workers; familyOutcomes tell it to a family.
	outcomes, familyOutcomes map[string]string
	// when is the layout of the time of an event, in the household's time zone:
	// without the year, which an alarm never needs and an SMS cannot spare.
	when string
	// separator joins names in a list.
	separator string
	// zone: times name their zone ("UTC+8"), for readers who may be
	// elsewhere; a Chinese notice is read where the resident lives.
	zone bool
}

// maxDetails bounds how many pieces of evidence a worker's text lists.
const maxDetails = 3

// maxFreeText bounds the free text a worker's notice quotes (a handover or
// cancellation reason, a resolution note), which may run to 2000 bytes.
const maxFreeText = 100

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
	Visit    bool   // a visit task, as opposed to a device's maintenance
	When     string // when the task opened, in the household's time zone
	Details  []string
	MapURL   string
	Assignee string // who is on the way (or resolved it); empty while the office arranges it
	// Acked says the task had been acknowledged: an escalation is then about
	// nobody being on site in time, not about nobody answering.
	Acked       bool
	EscalatedTo string // who an escalation reached, as a list
	Reason      string // why a task was handed over or cancelled; workers only
	Outcome     string // a resolution's outcome, for workers
	// FamilyOutcome tells a family the outcome.
	FamilyOutcome string
	Note          string // the resolution note; workers only
	// Link is where a family answers a check (its answer page) or rates a
	// resolved visit (its rating page); empty without notify.public_url.
	// An SMS carries this one short link.
	Link string
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
		Visit:    m.Task.Kind != rules.Maintenance,
		Assignee: oneLine(m.Assignee),
		Acked:    m.Task.AckedAt != nil,
	}
	if len(m.Actions) > 0 {
		// The page itself, not one answer's: it offers them all.
		v.Link, _, _ = strings.Cut(m.Actions[0].URL, "?")
	}
	if v.What == "" {
		v.What = m.Task.Rule
	}
	if v.Severity == "" {
		v.Severity = string(m.Task.Severity)
	}
	var reached []string
	for _, name := range m.EscalatedTo {
		if name = oneLine(name); name != "" {
			reached = append(reached, name)
		}
	}
	v.EscalatedTo = strings.Join(reached, w.separator)
	if o := m.Task.Outcome; o != "" {
		v.Outcome, v.FamilyOutcome = w.outcomes[o], w.familyOutcomes[o]
		if v.Outcome == "" {
			v.Outcome, v.FamilyOutcome = o, o
		}
	}
	loc := m.Household.Location
	if loc == nil {
		loc = t.defaultLoc
	}
	if !m.Task.OpenedAt.IsZero() {
		v.When = m.Task.OpenedAt.In(loc).Format(w.when)
		if w.zone {
			v.When += " " + zoneLabel(m.Task.OpenedAt.In(loc))
		}
	}
	if v.Worker {
		for _, ev := range m.Task.Evidence {
			if s := detail(lang, m.Task.Rule, ev, loc, w.when); s != "" && len(v.Details) < maxDetails && !slices.Contains(v.Details, s) {
				v.Details = append(v.Details, s)
			}
		}
		lat, lon := m.Lat, m.Lon
		if lat == nil || lon == nil {
			lat, lon = lastPosition(m.Task.Evidence)
		}
		v.MapURL = mapURL(lang, lat, lon)
		v.Reason = clip(oneLine(m.Reason), maxFreeText)
		v.Note = clip(oneLine(m.Task.Note), maxFreeText)
	}
	return v
}

// lastPosition is the newest position in the evidence, for the notices that
// follow the opening one: they carry no position of their own.
func lastPosition(evidence []rules.Evidence) (lat, lon *float64) {
	for i := len(evidence) - 1; i >= 0; i-- {
		la, laOK := evidence[i].Values["lat"].(float64)
		lo, loOK := evidence[i].Values["lon"].(float64)
		if laOK && loOK {
			return &la, &lo
		}
	}
	return nil, nil
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

// RulePhrase is a rule's words in lang (the default language for one
// without a vocabulary), or its name when no language names it: an answer
// page says what happened as the notice did.
func RulePhrase(lang, rule string) string {
	w, ok := vocabulary[lang]
	if !ok {
		w = vocabulary[registry.DefaultLanguage]
	}
	if p := w.rules[rule]; p != "" {
		return p
	}
	return rule
}
