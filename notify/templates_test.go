package notify

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/tasks"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// allRules are every rule that can open a task.
var allRules = []string{
	rules.RuleFall, rules.RuleSOS, rules.RuleWaterNoUse, rules.RuleWaterContinuousFlow,
	rules.RuleNoMotion, rules.RuleNoExit, rules.RulePowerNoUse, rules.RuleDeviceOffline,
	rules.RuleBatteryLow, rules.RuleManual,
}

func newTemplates(t *testing.T) *Templates {
	t.Helper()
	tpl, err := NewTemplates()
	if err != nil {
		t.Fatalf("NewTemplates: %v", err)
	}
	return tpl
}

func ptr(f float64) *float64 { return &f }

func shanghai(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// people are the names a golden message uses, in the recipient's language:
// a Chinese family reads Chinese names, an English-speaking one Latin ones.
type people struct {
	household, address, owner, backup, supervisor, reason, note, cancel string
}

var cast = map[string]people{
	"zh-CN": {"王秀英", "上海市黄浦区幸福路12弄3号401室", "李敏", "张伟", "赵主任", "李敏临时请假", "右腿擦伤，已由120送往第一人民医院", "居民来电：误触手环"},
	"en":    {"Wang Xiuying", "Flat 401, 12 Xingfu Road", "Li Min", "Zhang Wei", "Supervisor Zhao", "Li Min is off sick", "Grazed right leg; taken to First People's Hospital by ambulance", "Resident phoned: pressed by mistake"},
}

// goldenMessages are every event of a fall (with a position and an assignee)
// and the opening of an unassigned water_no_use task (with neither), each in
// both languages for both recipient roles.
func goldenMessages(t *testing.T) map[string]tasks.Message {
	loc := shanghai(t)
	acked := time.Date(2024, 3, 5, 1, 14, 0, 0, time.UTC)
	out := make(map[string]tasks.Message)
	for _, lang := range registry.Languages {
		p := cast[lang]
		fall := tasks.Task{
			ID: "t-1", HouseholdID: "hh-1", Rule: rules.RuleFall, Severity: rules.Critical, Kind: rules.Visit,
			OpenedAt: time.Date(2024, 3, 5, 1, 12, 30, 0, time.UTC), // 09:12 in Shanghai
			Evidence: []rules.Evidence{{
				At: time.Date(2024, 3, 5, 1, 12, 28, 0, time.UTC), DeviceID: "wb-1",
				Summary: "wristband wb-1 reported a fall",
				Values:  map[string]any{"lat": 31.2304, "lon": 121.4737},
			}},
		}
		home := tasks.HouseholdInfo{Name: p.household, Address: p.address, Location: loc}
		verifying := tasks.Task{
			ID: "t-3", HouseholdID: "hh-1", Rule: rules.RuleWaterNoUse, Severity: rules.High, Kind: rules.Visit, State: tasks.Verifying,
			OpenedAt: time.Date(2024, 3, 6, 14, 5, 0, 0, time.UTC), // 22:05 in Shanghai
		}
		resolved := fall
		resolved.State, resolved.AckedAt, resolved.Outcome, resolved.Note = tasks.Resolved, &acked, "hospitalized", p.note
		due := time.Date(2024, 3, 20, 2, 0, 0, 0, time.UTC)
		routine := tasks.Task{
			ID: "t-4", HouseholdID: "hh-1", Rule: rules.RuleRoutineVisit, Severity: rules.Low, Kind: rules.RoutineVisit,
			State: tasks.Resolved, Outcome: tasks.OutcomeVisited, OpenedAt: time.Date(2024, 3, 17, 1, 0, 0, 0, time.UTC), DueAt: &due, AckedAt: &acked,
		}
		notHome := routine
		notHome.Outcome = tasks.OutcomeNotHome
		// Links as a public URL of everyday length makes them, with a token of 22 characters.
		const page = "https://care.example.org/"
		answers := make([]tasks.Action, len(tasks.AnswerChoices))
		for i, a := range tasks.AnswerChoices {
			answers[i] = tasks.Action{Answer: a, Label: tasks.AnswerLabel(lang, a), URL: page + "a/Xq3vR8kLm2Np5sT7wY9zAb?answer=" + a}
		}
		rate := []tasks.Action{{Answer: tasks.ActionRate, Label: "rate", URL: page + "r/Xq3vR8kLm2Np5sT7wY9zAb"}}
		cases := map[string]tasks.Message{
			// The opening notice carries the wristband's position; later ones find it in the evidence.
			tasks.NoticeOpened:       {Event: tasks.NoticeOpened, Task: fall, Assignee: p.owner, Lat: ptr(31.2304), Lon: ptr(121.4737)},
			tasks.NoticeEscalated:    {Event: tasks.NoticeEscalated, Task: fall, Assignee: p.owner, EscalatedTo: []string{p.backup, p.supervisor}},
			tasks.NoticeHandover:     {Event: tasks.NoticeHandover, Task: fall, Assignee: p.backup, Reason: p.reason},
			tasks.NoticeResolved:     {Event: tasks.NoticeResolved, Task: resolved, Assignee: p.owner},
			tasks.NoticeCancelled:    {Event: tasks.NoticeCancelled, Task: fall, Reason: p.cancel},
			tasks.NoticeVerifying:    {Event: tasks.NoticeVerifying, Task: verifying},
			tasks.NoticeAcknowledged: {Event: tasks.NoticeAcknowledged, Task: fall, Assignee: p.owner},
			tasks.NoticeOnSite:       {Event: tasks.NoticeOnSite, Task: fall, Assignee: p.owner},
			"verifying_link":         {Event: tasks.NoticeVerifying, Task: verifying, Actions: answers},
			"resolved_rating_link":   {Event: tasks.NoticeResolved, Task: routine, Assignee: p.owner, Actions: rate},
			"resolved_not_home":      {Event: tasks.NoticeResolved, Task: notHome, Assignee: p.owner},
			"opened_unassigned": {Event: tasks.NoticeOpened, Task: tasks.Task{
				ID: "t-2", HouseholdID: "hh-1", Rule: rules.RuleWaterNoUse, Severity: rules.High, Kind: rules.Visit,
				OpenedAt: time.Date(2024, 3, 6, 14, 5, 0, 0, time.UTC), // 22:05 in Shanghai
				Evidence: []rules.Evidence{{
					At: time.Date(2024, 3, 6, 14, 5, 0, 0, time.UTC), DeviceID: "wm-2",
					Summary: "total_liters stayed at 1532.5 for 12h since 2024-03-06 10:05",
					Values:  map[string]any{"since": "2024-03-06T02:05:00Z", "total_liters": 1532.5, "threshold_hours": 12.0},
				}},
			}},
		}
		for name, m := range cases {
			for _, role := range roles {
				m.Lang, m.Role, m.Household = lang, role, home
				out[lang+"_"+role+"_"+name] = m
			}
		}
	}
	return out
}

func TestTemplates_Golden(t *testing.T) {
	tpl := newTemplates(t)
	msgs := goldenMessages(t)
	for name, m := range msgs {
		t.Run(name, func(t *testing.T) {
			title, text, err := tpl.Compose(m)
			if err != nil {
				t.Fatalf("Compose: %v", err)
			}
			got := title + "\n\n" + text + "\n"
			path := filepath.Join("testdata", "golden", name+".txt")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./notify -run TestTemplates_Golden -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs (run with -update if the change is intended)\n--- got\n%s--- want\n%s", path, got, want)
			}
		})
	}
	// Every event has its goldens, and no golden is left over from a removed case.
	for _, ev := range events {
		for _, lang := range registry.Languages {
			for _, role := range roles {
				if _, ok := msgs[lang+"_"+role+"_"+ev]; !ok {
					t.Errorf("no golden message for %s %s %s", lang, role, ev)
				}
			}
		}
	}
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if _, ok := msgs[strings.TrimSuffix(filepath.Base(f), ".txt")]; !ok {
			t.Errorf("%s has no golden message: remove it", f)
		}
	}
}

// TestTemplates_SMSFits holds the templates to the SMS budget: a family's SMS
// in one message, 70 characters when Chinese (UCS-2), 160 when all GSM; and
// no text uses the signature's brackets.
func TestTemplates_SMSFits(t *testing.T) {
	tpl := newTemplates(t)
	for name, m := range goldenMessages(t) {
		title, text, err := tpl.Compose(m)
		if err != nil {
			t.Fatal(err)
		}
		// 【】 marks an SMS's signature: Alibaba refuses templates that use it.
		if strings.ContainsAny(text, "【】") {
			t.Errorf("%s: text uses 【】:\n%s", name, text)
		}
		if m.Role != tasks.RecipientFamily {
			continue
		}
		body := smsBody(tasks.Notice{Title: title, Message: text})
		// A link takes two messages joined: 153 or 67 characters each, the
		// rest of 160 or 70 is the header that joins them.
		limit, messages := 160, "one message"
		switch {
		case m.Lang == "zh-CN" && len(m.Actions) > 0:
			limit, messages = 2*67, "two messages"
		case m.Lang == "zh-CN":
			limit = 70
		case len(m.Actions) > 0:
			limit, messages = 2*153, "two messages"
		}
		if n := smsLength(body); n > limit {
			t.Errorf("%s: family SMS is %d characters, more than %s (%d):\n%s", name, n, messages, limit, body)
		}
	}
}

// smsLength counts an SMS the way the networks do: in GSM-7 septets when every
// character is in the GSM alphabet (the extension characters [ ] { } ~ ^ | \ €
// count twice), else in UCS-2 characters.
func smsLength(s string) int {
	const gsm = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	const ext = "[]{}~^|\\€"
	n := 0
	for _, r := range s {
		switch {
		case strings.ContainsRune(gsm, r):
			n++
		case strings.ContainsRune(ext, r):
			n += 2
		default:
			return utf8.RuneCountInString(s)
		}
	}
	return n
}

func TestTemplates_FamilyGetsLess(t *testing.T) {
	tpl := newTemplates(t)
	for name, m := range goldenMessages(t) {
		if m.Role != tasks.RecipientFamily {
			continue
		}
		_, text, err := tpl.Compose(m)
		if err != nil {
			t.Fatal(err)
		}
		p := cast[m.Lang]
		leaks := []string{"wristband wb-1", "total_liters", p.note, p.reason, p.cancel}
		if len(m.Actions) == 0 {
			leaks = append(leaks, "http") // a family's only link is its answer or rating page
		}
		for _, leak := range leaks {
			if strings.Contains(text, leak) {
				t.Errorf("%s: family text contains %q:\n%s", name, leak, text)
			}
		}
	}
}

// TestTemplates_WorkerGetsWhatToActOn: who, what, when, where, the map link,
// who is on the way and, per event, the reason, the escalation's reach or the
// outcome and note.
func TestTemplates_WorkerGetsWhatToActOn(t *testing.T) {
	tpl := newTemplates(t)
	msgs := goldenMessages(t)
	for _, lang := range registry.Languages {
		p := cast[lang]
		mapLink := "https://www.openstreetmap.org/?mlat=31.2304&mlon=121.4737"
		if lang == "zh-CN" {
			mapLink = "https://uri.amap.com/marker?position=121.4737,31.2304&coordinate=wgs84"
		}
		common := []string{p.household, vocabulary[lang].rules[rules.RuleFall], p.address}
		for ev, want := range map[string][]string{
			tasks.NoticeOpened:    {mapLink, phrasebooks[lang].fall, p.owner},
			tasks.NoticeEscalated: {mapLink, p.backup, p.supervisor, p.owner},
			tasks.NoticeHandover:  {mapLink, p.backup, p.reason},
			tasks.NoticeResolved:  {vocabulary[lang].outcomes["hospitalized"], p.owner, p.note},
			tasks.NoticeCancelled: {p.cancel},
		} {
			_, text, err := tpl.Compose(msgs[lang+"_worker_"+ev])
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range append(common, want...) {
				if !strings.Contains(text, w) {
					t.Errorf("%s %s worker text lacks %q:\n%s", lang, ev, w, text)
				}
			}
		}
	}
}

func TestTemplates_MapLinks(t *testing.T) {
	tpl := newTemplates(t)
	m := goldenMessages(t)["en_worker_opened"]
	tests := []struct {
		lang, want string
	}{
		{"zh-CN", "https://uri.amap.com/marker?position=121.4737,31.2304&coordinate=wgs84"},
		{"en", "https://www.openstreetmap.org/?mlat=31.2304&mlon=121.4737"},
	}
	for _, tt := range tests {
		m.Lang = tt.lang
		_, text, err := tpl.Compose(m)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(text, tt.want) {
			t.Errorf("%s worker text lacks %s:\n%s", tt.lang, tt.want, text)
		}
	}
	// No position in the message or the evidence, or a nonsense one: no link.
	m.Task.Evidence = nil
	for _, pos := range [][2]*float64{{nil, nil}, {ptr(31), nil}, {ptr(95), ptr(121)}, {ptr(31), ptr(-200)}} {
		m.Lat, m.Lon = pos[0], pos[1]
		_, text, err := tpl.Compose(m)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(text, "http") {
			t.Errorf("position %v: text has a link:\n%s", pos, text)
		}
	}
	// A later notice finds the newest position in the evidence.
	m.Lat, m.Lon = nil, nil
	m.Task.Evidence = []rules.Evidence{
		{Summary: "fall", Values: map[string]any{"lat": 31.0, "lon": 121.0}},
		{Summary: "fall again", Values: map[string]any{"lat": 31.5, "lon": 121.5}},
		{Summary: "no position"},
	}
	if _, text, _ := tpl.Compose(m); !strings.Contains(text, "mlat=31.5&mlon=121.5") {
		t.Errorf("text does not link the newest position:\n%s", text)
	}
}

func TestTemplates_EveryRuleEventAndOutcomeInEveryLanguage(t *testing.T) {
	tpl := newTemplates(t)
	for _, lang := range registry.Languages {
		w := vocabulary[lang]
		for _, r := range allRules {
			if w.rules[r] == "" {
				t.Errorf("%s: no phrase for rule %s", lang, r)
			}
		}
		for _, s := range rules.Severities {
			if w.severities[s] == "" {
				t.Errorf("%s: no word for severity %s", lang, s)
			}
		}
		for _, o := range tasks.Outcomes {
			if w.outcomes[o] == "" || w.familyOutcomes[o] == "" {
				t.Errorf("%s: no words for outcome %s", lang, o)
			}
		}
		for _, ev := range events {
			for _, r := range allRules {
				for _, kind := range []rules.TaskKind{rules.Visit, rules.Maintenance} {
					for _, role := range roles {
						// Bare messages: no assignee, reason, outcome or position.
						m := tasks.Message{Event: ev, Role: role, Lang: lang,
							Task:      tasks.Task{Rule: r, Severity: rules.Low, Kind: kind, OpenedAt: time.Now()},
							Household: tasks.HouseholdInfo{Name: "X", Address: "Y"}}
						title, text, err := tpl.Compose(m)
						if err != nil || title == "" || text == "" || strings.Contains(title+text, "<no value>") {
							t.Errorf("%s %s %s %s %s: %q / %q, %v", lang, ev, r, kind, role, title, text, err)
						}
						if !strings.Contains(title, w.rules[r]) {
							t.Errorf("%s %s %s: title %q does not name the rule", lang, ev, r, title)
						}
					}
				}
			}
		}
	}
}

func TestTemplates_FamilyOutcomes(t *testing.T) {
	tpl := newTemplates(t)
	m := goldenMessages(t)["zh-CN_family_resolved"]
	for _, tt := range []struct{ outcome, want, not string }{
		{"safe", "老人平安", ""},
		{"false_alarm", "误报", ""},
		// Such news is told in person: the SMS only says someone will call.
		{"deceased", "电话联系", "已故"},
		{"meditating", "meditating", ""}, // an outcome the vocabulary lacks is written as it is
	} {
		m.Task.Outcome = tt.outcome
		_, text, err := tpl.Compose(m)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(text, tt.want) || (tt.not != "" && strings.Contains(text, tt.not)) {
			t.Errorf("outcome %s: family text %q, want %q and not %q", tt.outcome, text, tt.want, tt.not)
		}
	}
}

// TestTemplates_RoutineVisitResolved: the family reads who called and what
// came of it in one sentence, the visit said once.
func TestTemplates_RoutineVisitResolved(t *testing.T) {
	tpl := newTemplates(t)
	for _, tt := range []struct{ lang, outcome, assignee, want string }{
		{"zh-CN", tasks.OutcomeVisited, "李敏", "社区网格员李敏已上门走访。"},
		{"zh-CN", tasks.OutcomeNotHome, "李敏", "社区网格员李敏上门时家中无人，三天内会再来。"},
		{"zh-CN", tasks.OutcomeVisited, "", "社区工作人员已上门走访。"},
		{"en", tasks.OutcomeVisited, "Li Min", "Li Min from the community office called in."},
		{"en", tasks.OutcomeNotHome, "Li Min", "Li Min from the community office called, but nobody was at home; they will call again within 3 days."},
		{"en", tasks.OutcomeNotHome, "", "The community office called, but nobody was at home; they will call again within 3 days."},
	} {
		m := goldenMessages(t)[tt.lang+"_family_resolved_rating_link"]
		m.Task.Outcome, m.Assignee, m.Actions = tt.outcome, tt.assignee, nil
		_, text, err := tpl.Compose(m)
		if err != nil {
			t.Fatal(err)
		}
		if _, got, _ := strings.Cut(text, "\n"); got != tt.want {
			t.Errorf("%s %s by %q: %q, want %q", tt.lang, tt.outcome, tt.assignee, got, tt.want)
		}
	}
}

func TestTemplates_EscalationSaysWhichDeadline(t *testing.T) {
	tpl := newTemplates(t)
	m := goldenMessages(t)["en_worker_escalated"]
	_, text, _ := tpl.Compose(m)
	if !strings.Contains(text, "Nobody acknowledged in time") {
		t.Errorf("unacknowledged task: %q", text)
	}
	acked := time.Date(2024, 3, 5, 1, 14, 0, 0, time.UTC)
	m.Task.AckedAt = &acked
	_, text, _ = tpl.Compose(m)
	if !strings.Contains(text, "Nobody on site in time") {
		t.Errorf("acknowledged task: %q", text)
	}
}

func TestTemplates_FreeTextIsBounded(t *testing.T) {
	tpl := newTemplates(t)
	m := goldenMessages(t)["en_worker_resolved"]
	m.Task.Note = strings.Repeat("very long note\n", 150) // 2000-odd bytes, as the API allows
	_, text, err := tpl.Compose(m)
	if err != nil {
		t.Fatal(err)
	}
	if n := utf8.RuneCountInString(text); n > 300 {
		t.Errorf("text is %d characters with a long note:\n%s", n, text)
	}
	if !strings.Contains(text, "very long note very long note") || !strings.Contains(text, "…") {
		t.Errorf("note not folded onto one line and cut:\n%s", text)
	}
}

func TestTemplates_Language(t *testing.T) {
	tpl := newTemplates(t)
	m := goldenMessages(t)["en_family_opened"]
	tests := map[string]string{
		"":      "【紧急】",
		"fr":    "【紧急】", // unknown: the default, zh-CN
		"zh-CN": "【紧急】",
		"zh":    "【紧急】",
		"en":    "[Critical]",
		"en-GB": "[Critical]",
		"EN":    "[Critical]",
	}
	for lang, prefix := range tests {
		m.Lang = lang
		title, _, err := tpl.Compose(m)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(title, prefix) {
			t.Errorf("lang %q: title %q, want prefix %q", lang, title, prefix)
		}
	}
}

func TestTemplates_TimeInHouseholdZone(t *testing.T) {
	tpl := newTemplates(t)
	m := goldenMessages(t)["en_family_opened"] // opened 01:12 UTC
	for _, tt := range []struct {
		loc  *time.Location
		want string
	}{
		{shanghai(t), "(Mar 5, 09:12 UTC+8)"},
		{nil, "(Mar 5, 09:12 UTC+8)"}, // no zone: the registry's default, Asia/Shanghai
		{time.UTC, "(Mar 5, 01:12 UTC)"},
		{time.FixedZone("", -5*3600), "(Mar 4, 20:12 UTC-5)"},
		{time.FixedZone("", 5*3600+1800), "(Mar 5, 06:42 UTC+5:30)"},
	} {
		m.Household.Location = tt.loc
		_, text, err := tpl.Compose(m)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(text, tt.want) {
			t.Errorf("location %v: text lacks %q:\n%s", tt.loc, tt.want, text)
		}
	}
}

func TestTemplates_UnknownsDoNotLoseTheNotice(t *testing.T) {
	tpl := newTemplates(t)
	m := goldenMessages(t)["en_worker_opened"]
	m.Task.Rule, m.Task.Severity = "gas_leak", "extreme"
	m.Household.Name = "Wang\nInjected: line"
	title, text, err := tpl.Compose(m)
	if err != nil {
		t.Fatalf("unknown rule: %v", err)
	}
	if title != "[extreme] Wang Injected: line: gas_leak" {
		t.Errorf("title = %q", title)
	}
	if strings.Contains(text, "\nInjected") {
		t.Errorf("a newline in a name broke the layout:\n%s", text)
	}

	m.Event = "no_such_event"
	if _, _, err := tpl.Compose(m); err == nil {
		t.Error("unknown event: want an error")
	}
	m.Event, m.Role = tasks.NoticeOpened, "stranger"
	if _, _, err := tpl.Compose(m); err == nil {
		t.Error("unknown role: want an error")
	}
}
