package api

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"time"

	"github.com/eldersafe/eldersafe/audit"
	"github.com/eldersafe/eldersafe/notify"
	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/tasks"
)

// Answer links (CONTRACT.md §12): a family contact answers a verifying
// task's check from a link in their notice, without logging in. The token
// in the path is the only credential: bound to one task and contact, dead
// once the task is closed, every use audited with the contact as actor.
// Rating links (§13, ratinglinks.go) work the same way at /r/.

func (a *API) answerRoutes(rt *router) {
	rt.handle("GET /a/{token}", a.answerPage)
	rt.handle("POST /a/{token}", a.answer)
	rt.handle("GET /r/{token}", a.ratingPage)
	rt.handle("POST /r/{token}", a.rateByLink)
}

// answerRequest is the body of POST /a/{token}.
type answerRequest struct {
	Answer string `json:"answer"`
	Until  string `json:"until,omitempty"`
}

type answerResponse struct {
	State   tasks.State `json:"state"`
	Outcome string      `json:"outcome,omitempty"`
}

// answerError maps what a link's lookup says to an HTTP error: an unknown
// token (or one of another purpose) is 404, a closed task's or an expired
// rating link's 410.
func answerError(err error) error {
	for _, gone := range []error{tasks.ErrTokenDead, tasks.ErrLinkExpired} {
		if errors.Is(err, gone) {
			return errorf(http.StatusGone, codeConflict, "%s", gone.Error())
		}
	}
	if errors.Is(err, registry.ErrNotFound) {
		return errorf(http.StatusNotFound, codeNotFound, "no such link")
	}
	return err
}

// auditAnswer records a use of a link, the contact as actor, on the
// object its purpose names: tasks/{id}/answer or tasks/{id}/rating.
func (a *API) auditAnswer(r *http.Request, tok tasks.AnswerToken, action, what string) error {
	if a.opts.Audit == nil {
		return nil
	}
	e := audit.Entry{At: a.wall.Now(), Actor: clip(tok.Actor()), Role: registry.RoleFamily, Action: action,
		Object: "tasks/" + tok.TaskID + "/" + tok.Purpose, Remote: remoteHost(r), Reason: what}
	if err := a.opts.Audit(r.Context(), e); err != nil {
		return &apiError{status: http.StatusServiceUnavailable, code: codeUnavailable, msg: "the audit log cannot be written; try again later", err: err}
	}
	return nil
}

func (a *API) answer(w http.ResponseWriter, r *http.Request) error {
	var req answerRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	var until time.Time
	if req.Until != "" {
		var err error
		if until, err = time.Parse(time.RFC3339, req.Until); err != nil {
			return invalidf("until %q: must be RFC 3339 with an offset", clip(req.Until))
		}
	}
	_, tok, err := a.opts.Tasks.ByToken(r.Context(), r.PathValue("token"))
	if err != nil {
		return answerError(err)
	}
	if err := a.auditAnswer(r, tok, audit.Update, "answer link: "+clip(req.Answer)); err != nil {
		return err
	}
	t, _, err := a.opts.Tasks.AnswerByToken(r.Context(), r.PathValue("token"), req.Answer, until)
	if err != nil {
		return answerError(err)
	}
	a.writeJSON(w, r, http.StatusOK, answerResponse{State: t.State, Outcome: t.Outcome})
	return nil
}

// answerPage is the phone-sized page of an answer link, in the contact's
// language: what happened, and the answers as buttons that POST.
func (a *API) answerPage(w http.ResponseWriter, r *http.Request) error {
	t, tok, err := a.opts.Tasks.ByToken(r.Context(), r.PathValue("token"))
	if err != nil && !errors.Is(err, tasks.ErrTokenDead) {
		return answerError(err)
	}
	h, words, err := a.linkOpened(r, tok, pageWords)
	if err != nil {
		return err
	}
	v := pageView{Lang: tok.Lang, Words: words, Name: h.Name, What: notify.RulePhrase(tok.Lang, t.Rule),
		When: t.OpenedAt.In(h.Location()).Format("2006-01-02 15:04"), Closed: t.State.Closed(), Preset: r.URL.Query().Get("answer")}
	for _, ans := range tasks.AnswerChoices {
		v.Answers = append(v.Answers, tasks.Action{Answer: ans, Label: tasks.AnswerLabel(tok.Lang, ans)})
	}
	status := http.StatusOK
	if v.Closed {
		status = http.StatusGone
	}
	if v.Nonce, err = pageNonce(); err != nil {
		return err
	}
	return a.linkPage(w, answerTemplate, status, v.Nonce, tok, v)
}

// linkOpened audits a link's page being opened and loads what every link
// page says: the household, and the page's words in the contact's language.
func (a *API) linkOpened(r *http.Request, tok tasks.AnswerToken, words map[string]map[string]string) (registry.Household, map[string]string, error) {
	if err := a.auditAnswer(r, tok, audit.Read, tok.Purpose+" link opened"); err != nil {
		return registry.Household{}, nil, err
	}
	h, err := a.opts.Registry.Household(r.Context(), tok.HouseholdID)
	if err != nil {
		return registry.Household{}, nil, fmt.Errorf("%s page of task %s: %w", tok.Purpose, tok.TaskID, err)
	}
	if w := words[tok.Lang]; w != nil {
		return h, w, nil
	}
	return h, words[registry.DefaultLanguage], nil
}

// pageNonce is a fresh nonce for a link page's one script.
func pageNonce() (string, error) {
	raw := make([]byte, 16)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("link page nonce: %w", err)
	}
	return base64.StdEncoding.EncodeToString(raw), nil
}

// linkPage writes a link's page, tmpl with data, and headers that allow
// nothing but its script (by nonce) and that script's request to the monitor.
func (a *API) linkPage(w http.ResponseWriter, tmpl *template.Template, status int, nonce string, tok tasks.AnswerToken, data any) error {
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-"+nonce+
		"'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	if err := tmpl.Execute(w, data); err != nil {
		a.log.Error("render link page", "purpose", tok.Purpose, "task_id", tok.TaskID, "err", err)
	}
	return nil
}

type pageView struct {
	Lang, Name, What, When, Preset, Nonce string
	Words                                 map[string]string
	Closed                                bool
	Answers                               []tasks.Action
}

// pageWords are the page's own words, by language.
var pageWords = map[string]map[string]string{
	"zh-CN": {"title": "请确认老人是否平安", "ask": "请选择：", "until": "在您那里住到（可选）", "done": "谢谢，已收到您的回复。", "closed": "此事已处理完毕，无需再回复。", "failed": "提交失败，请重试。", "colon": "：", "open": "（", "close": "）"},
	"en":    {"title": "Please check on them", "ask": "Please choose:", "until": "Staying with you until (optional)", "done": "Thank you, your answer is in.", "closed": "This has been settled; no answer is needed.", "failed": "Sending failed; please try again.", "colon": ": ", "open": " (", "close": ")"},
}

var answerTemplate = template.Must(template.New("answer").Parse(`<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{index .Words "title"}}</title>
<style>
*{box-sizing:border-box} body{font:18px/1.4 system-ui,sans-serif;margin:0;padding:16px;max-width:480px}
h1{font-size:20px;margin:0 0 8px} p{margin:8px 0}
button{display:block;width:100%;font-size:18px;padding:14px;margin:10px 0;border-radius:8px;border:1px solid #888;background:#f4f4f4}
button.preset{border:2px solid #1a5fb4} label{display:block;margin-top:8px} input{font-size:16px;width:100%}
#msg{font-weight:bold}
</style></head><body>
<h1>{{index .Words "title"}}</h1>
<p>{{.Name}}{{index .Words "colon"}}{{.What}}{{index .Words "open"}}{{.When}}{{index .Words "close"}}</p>
{{if .Closed}}<p id="msg">{{index .Words "closed"}}</p>{{else}}
<p>{{index .Words "ask"}}</p>
<div id="answers">{{range .Answers}}
<button type="button" data-answer="{{.Answer}}"{{if eq .Answer $.Preset}} class="preset"{{end}}>{{.Label}}</button>{{if eq .Answer "with_me"}}
<label>{{index $.Words "until"}}<input type="datetime-local" id="until"></label>{{end}}{{end}}
</div>
<p id="msg" role="status"></p>
<script nonce="{{.Nonce}}">
document.querySelectorAll('button[data-answer]').forEach(function (b) {
  b.addEventListener('click', function () {
    var body = {answer: b.dataset.answer};
    var u = document.getElementById('until');
    if (b.dataset.answer === 'with_me' && u && u.value) { body.until = new Date(u.value).toISOString().replace(/\.\d+Z$/, 'Z'); }
    fetch(location.pathname, {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)})
      .then(function (r) {
        document.getElementById('msg').textContent = r.ok ? {{index .Words "done"}} : {{index .Words "failed"}};
        if (r.ok) { document.getElementById('answers').hidden = true; }
      });
  });
});
</script>{{end}}
</body></html>
`))
