package api

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"

	"github.com/eldersafe/eldersafe/audit"
	"github.com/eldersafe/eldersafe/notify"
	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/tasks"
)

// Rating links (CONTRACT.md §13): a family contact rates a resolved visit
// from the link in its resolved notice, without logging in. As with answer
// links the token is the credential: bound to one task, one contact and this
// purpose alone, and it expires tasks.RatingLinkLifetime after the notice.
// Every use is audited with the contact as actor (object tasks/{id}/rating).

// ratingPage is the phone-sized page of a rating link, in the contact's
// language: which visit, and one to five stars with an optional comment; or
// the stars given already, or that the link has expired (410).
func (a *API) ratingPage(w http.ResponseWriter, r *http.Request) error {
	t, tok, rated, err := a.opts.Tasks.ByRatingToken(r.Context(), r.PathValue("token"))
	expired := errors.Is(err, tasks.ErrLinkExpired)
	if err != nil && !expired {
		return answerError(err)
	}
	h, words, err := a.linkOpened(r, tok, ratingWords)
	if err != nil {
		return err
	}
	v := ratingView{Lang: tok.Lang, Words: words, Name: h.Name, What: notify.RulePhrase(tok.Lang, t.Rule), Expired: expired}
	if t.ClosedAt != nil {
		v.When = t.ClosedAt.In(h.Location()).Format("2006-01-02 15:04")
	}
	if rated != nil {
		v.Rated = strings.Repeat("★", rated.Stars) + strings.Repeat("☆", 5-rated.Stars)
	}
	status := http.StatusOK
	if expired {
		status = http.StatusGone
	}
	if v.Nonce, err = pageNonce(); err != nil {
		return err
	}
	return a.linkPage(w, ratingTemplate, status, v.Nonce, tok, v)
}

// rateByLink answers POST /r/{token} {stars, comment?}: 201 with the
// rating, as POST /api/v1/tasks/{id}/rating does; 409 for a second rating
// by the same contact, 410 once the link has expired.
func (a *API) rateByLink(w http.ResponseWriter, r *http.Request) error {
	var req ratingRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if err := validation(registry.CheckField("comment", registry.KindNote, req.Comment)); err != nil {
		return err
	}
	token := r.PathValue("token")
	_, tok, _, err := a.opts.Tasks.ByRatingToken(r.Context(), token)
	if err != nil {
		return answerError(err)
	}
	if err := a.auditAnswer(r, tok, audit.Update, fmt.Sprintf("rating link: %d stars", req.Stars)); err != nil {
		return err
	}
	rating, _, err := a.opts.Tasks.RateByToken(r.Context(), token, req.Stars, req.Comment)
	if err != nil {
		return answerError(err)
	}
	a.writeJSON(w, r, http.StatusCreated, rating)
	return nil
}

type ratingView struct {
	Lang, Name, What, When, Nonce string
	// Rated is the stars given already, as ★★★★☆; empty before.
	Rated   string
	Expired bool
	Words   map[string]string
}

// ratingWords are the rating page's own words, by language.
var ratingWords = map[string]map[string]string{
	"zh-CN": {"title": "请评价这次走访", "ask": "您对这次走访满意吗？请选择星级：", "stars": "星", "comment": "留言（可选）", "send": "提交",
		"pick": "请先选择星级。", "done": "谢谢您的评价！", "rated": "您已评价这次走访：", "expired": "此评价链接已过期。您仍可登录社区平台评价。",
		"failed": "提交失败，请重试。", "colon": "：", "open": "（", "close": "）"},
	"en": {"title": "How was the visit?", "ask": "Please rate the community worker's visit:", "stars": " stars", "comment": "Comment (optional)", "send": "Send",
		"pick": "Please choose the stars first.", "done": "Thank you for your rating!", "rated": "You rated this visit: ", "expired": "This rating link has expired. You can still rate the visit in the console.",
		"failed": "Sending failed; please try again.", "colon": ": ", "open": " (", "close": ")"},
}

var ratingTemplate = template.Must(template.New("rating").Parse(`<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{index .Words "title"}}</title>
<style>
*{box-sizing:border-box} body{font:18px/1.4 system-ui,sans-serif;margin:0;padding:16px;max-width:480px}
h1{font-size:20px;margin:0 0 8px} p{margin:8px 0}
#stars{display:flex;gap:6px} #stars button{flex:1;font-size:28px;padding:8px 0;border-radius:8px;border:1px solid #888;background:#f4f4f4;color:#888}
#stars button.on{color:#b8860b;border-color:#b8860b;background:#fff8e1}
textarea{display:block;width:100%;font-size:16px;margin-top:4px} label{display:block;margin-top:12px}
#send{display:block;width:100%;font-size:18px;padding:14px;margin:12px 0;border-radius:8px;border:1px solid #1a5fb4;background:#1a5fb4;color:#fff}
#msg{font-weight:bold} .given{font-size:24px;color:#b8860b}
</style></head><body>
<h1>{{index .Words "title"}}</h1>
<p>{{.Name}}{{index .Words "colon"}}{{.What}}{{with .When}}{{index $.Words "open"}}{{.}}{{index $.Words "close"}}{{end}}</p>
{{if .Expired}}<p id="msg">{{index .Words "expired"}}</p>
{{else if .Rated}}<p id="msg">{{index .Words "rated"}}<span class="given">{{.Rated}}</span></p>
{{else}}<div id="form">
<p>{{index .Words "ask"}}</p>
<div id="stars" role="group">{{range $n := .Numbers}}
<button type="button" data-stars="{{$n}}" aria-pressed="false" aria-label="{{$n}}{{index $.Words "stars"}}">★</button>{{end}}
</div>
<label>{{index .Words "comment"}}<textarea id="comment" rows="3" maxlength="2000"></textarea></label>
<button type="button" id="send">{{index .Words "send"}}</button>
</div>
<p id="msg" role="status"></p>
<script nonce="{{.Nonce}}">
var stars = 0;
var buttons = document.querySelectorAll('#stars button');
buttons.forEach(function (b) {
  b.addEventListener('click', function () {
    stars = Number(b.dataset.stars);
    buttons.forEach(function (x) {
      var on = Number(x.dataset.stars) <= stars;
      x.classList.toggle('on', on);
      x.setAttribute('aria-pressed', String(Number(x.dataset.stars) === stars));
    });
  });
});
document.getElementById('send').addEventListener('click', function () {
  var msg = document.getElementById('msg');
  if (!stars) { msg.textContent = {{index .Words "pick"}}; return; }
  var body = {stars: stars};
  var comment = document.getElementById('comment').value.trim();
  if (comment) { body.comment = comment; }
  fetch(location.pathname, {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)})
    .then(function (r) {
      if (r.ok) { msg.textContent = {{index .Words "done"}}; document.getElementById('form').hidden = true; return; }
      return r.json().then(function (e) { msg.textContent = (e.error && e.error.message) || {{index .Words "failed"}}; });
    })
    .catch(function () { msg.textContent = {{index .Words "failed"}}; });
});
</script>{{end}}
</body></html>
`))

// Numbers are the stars a rating page offers.
func (ratingView) Numbers() []int { return []int{1, 2, 3, 4, 5} }
