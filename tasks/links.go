package tasks

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/eldersafe/eldersafe/registry"
)

// AnswerToken binds a link in a family notice to one task, one family
// contact and one purpose (CONTRACT.md §12, §13): a verifying task's answer
// link, or a resolved visit's rating link. Only its hash is stored: the
// token itself is in the notice alone.
type AnswerToken struct {
	Hash        string
	TaskID      string
	HouseholdID string
	// Contact is the family contact's name: the actor of their answers.
	Contact string
	Lang    string
	// Purpose is what the link does: PurposeAnswer or PurposeRating; a
	// token does nothing else.
	Purpose   string
	CreatedAt time.Time
}

// Link purposes, each served at its own path.
const (
	PurposeAnswer = "answer"
	PurposeRating = "rating"
)

// RatingLinkLifetime is how long a rating link works after its notice was
// written (wall time): long enough for a family to get round to it, short
// enough that a forwarded old message rates nothing.
const RatingLinkLifetime = 14 * 24 * time.Hour

// Actor is the contact as the audit log and a rating name them.
func (t AnswerToken) Actor() string { return "contact:" + t.Contact }

// tokenBytes is a token's randomness: 128 bits, unguessable.
const tokenBytes = 16

// HashToken is how a token is stored and looked up.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// answerLabels are the answers' words on a notice's buttons, by language.
var answerLabels = map[string]map[string]string{
	"zh-CN": {AnswerOK: "平安无事", AnswerWithMe: "在我这里", AnswerCannotReach: "联系不上", AnswerPleaseVisit: "请上门查看"},
	"en":    {AnswerOK: "All is well", AnswerWithMe: "With me", AnswerCannotReach: "Cannot reach them", AnswerPleaseVisit: "Please visit"},
}

// AnswerLabel is an answer's label in lang, or in the default language.
func AnswerLabel(lang, answer string) string {
	if l, ok := answerLabels[lang]; ok {
		return l[answer]
	}
	return answerLabels[registry.DefaultLanguage][answer]
}

// ratingLabels are the words of a resolved notice's rating link, by language.
var ratingLabels = map[string]string{"zh-CN": "评价这次走访", "en": "Rate this visit"}

// ActionRate is the action of a resolved notice's rating link.
const ActionRate = "rate"

// link makes a new token of purpose for t and the family contact r, and
// returns its URL, PublicURL + path (e.g. /r/) + token; "" without a
// public URL.
func (s *Service) link(ctx context.Context, tx Tx, t Task, r recipient, purpose, path string) (string, error) {
	if s.opts.PublicURL == "" {
		return "", nil
	}
	raw := make([]byte, tokenBytes)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("%s token: %w", purpose, err)
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	tok := AnswerToken{Hash: HashToken(token), TaskID: t.ID, HouseholdID: t.HouseholdID, Contact: r.name, Lang: langOr(r.lang),
		Purpose: purpose, CreatedAt: s.opts.Wall.Now()}
	if err := tx.AddAnswerToken(ctx, tok); err != nil {
		return "", fmt.Errorf("store %s token: %w", purpose, err)
	}
	return strings.TrimRight(s.opts.PublicURL, "/") + path + token, nil
}

// langOr is lang, or the default language when it is empty.
func langOr(lang string) string {
	if lang == "" {
		return registry.DefaultLanguage
	}
	return lang
}

// ratingLink is the action a resolved visit's notice offers the family
// contact r: a link to rate it, without logging in. None without a public
// URL (the family rates in the console), nor after a death, which the
// office tells in person.
func (s *Service) ratingLink(ctx context.Context, tx Tx, t Task, r recipient) ([]Action, error) {
	if t.Outcome == OutcomeDeceased {
		return nil, nil
	}
	url, err := s.link(ctx, tx, t, r, PurposeRating, "/r/")
	if url == "" || err != nil {
		return nil, err
	}
	label, ok := ratingLabels[r.lang]
	if !ok {
		label = ratingLabels[registry.DefaultLanguage]
	}
	return []Action{{Answer: ActionRate, Label: label, URL: url}}, nil
}

// answerLinks makes a new token for t and the family contact r and the
// actions a notice offers with it; without a public URL, the actions alone.
func (s *Service) answerLinks(ctx context.Context, tx Tx, t Task, r recipient) ([]Action, error) {
	lang := langOr(r.lang)
	base, err := s.link(ctx, tx, t, r, PurposeAnswer, "/a/")
	if err != nil {
		return nil, err
	}
	actions := make([]Action, len(AnswerChoices))
	for i, a := range AnswerChoices {
		actions[i] = Action{Answer: a, Label: AnswerLabel(lang, a)}
		if base != "" {
			actions[i].URL = base + "?answer=" + a
		}
	}
	return actions, nil
}

// ErrTokenDead: an answer link whose task is resolved or cancelled.
var ErrTokenDead = fmt.Errorf("this answer link is no longer valid: the task is closed")

// ErrLinkExpired: a rating link older than RatingLinkLifetime.
var ErrLinkExpired = fmt.Errorf("this rating link has expired")

// ByToken loads the task an answer link is for, and the token. An unknown
// token, or one of another purpose, is ErrNotFound; one whose task is
// closed ErrTokenDead.
func (s *Service) ByToken(ctx context.Context, token string) (Task, AnswerToken, error) {
	t, tok, err := s.byToken(ctx, token, PurposeAnswer)
	if err == nil && t.State.Closed() {
		return t, tok, ErrTokenDead
	}
	return t, tok, err
}

// byToken loads a link's token, which must be of purpose, and its task.
func (s *Service) byToken(ctx context.Context, token, purpose string) (Task, AnswerToken, error) {
	if token == "" || len(token) > 64 {
		return Task{}, AnswerToken{}, fmt.Errorf("%s link: %w", purpose, ErrNotFound)
	}
	tok, err := s.opts.Store.AnswerToken(ctx, HashToken(token))
	if err == nil && tok.Purpose != purpose {
		err = ErrNotFound
	}
	if err != nil {
		return Task{}, AnswerToken{}, fmt.Errorf("%s link: %w", purpose, err)
	}
	t, err := s.opts.Store.Task(ctx, tok.TaskID)
	if err != nil {
		return Task{}, AnswerToken{}, err
	}
	return t, tok, nil
}

// ByRatingToken loads the visit a rating link is for, the token, and the
// contact's rating when they gave one already (nil if not). An unknown
// token, or one of another purpose, is ErrNotFound; one past
// RatingLinkLifetime ErrLinkExpired.
func (s *Service) ByRatingToken(ctx context.Context, token string) (Task, AnswerToken, *Rating, error) {
	t, tok, err := s.ratingToken(ctx, token)
	if err != nil {
		return t, tok, nil, err
	}
	rated, err := s.opts.Store.RatingsBy(ctx, tok.Actor(), []string{t.ID})
	if err != nil {
		return t, tok, nil, fmt.Errorf("rating link: %w", err)
	}
	if r, ok := rated[t.ID]; ok {
		return t, tok, &r, nil
	}
	return t, tok, nil, nil
}

// ratingToken loads a rating link's live token and its task.
func (s *Service) ratingToken(ctx context.Context, token string) (Task, AnswerToken, error) {
	t, tok, err := s.byToken(ctx, token, PurposeRating)
	if err == nil && s.opts.Wall.Now().Sub(tok.CreatedAt) > RatingLinkLifetime {
		err = ErrLinkExpired
	}
	return t, tok, err
}

// RateByToken records a family contact's rating through their link: as
// Rate, with the contact (AnswerToken.Actor) as the rater, so a contact
// rates a visit once however many links they were sent.
func (s *Service) RateByToken(ctx context.Context, token string, stars int, comment string) (Rating, AnswerToken, error) {
	_, tok, err := s.ratingToken(ctx, token)
	if err != nil {
		return Rating{}, tok, err
	}
	r, err := s.Rate(ctx, tok.TaskID, tok.Actor(), stars, comment)
	return r, tok, err
}

// AnswerByToken records a family contact's answer through their link.
func (s *Service) AnswerByToken(ctx context.Context, token, answer string, until time.Time) (Task, AnswerToken, error) {
	_, tok, err := s.ByToken(ctx, token)
	if err != nil {
		return Task{}, tok, err
	}
	t, err := s.AnswerCheck(ctx, tok.TaskID, AnswerRequest{By: tok.Contact, Role: ByFamily, Answer: answer, Until: until, HouseholdID: tok.HouseholdID})
	return t, tok, err
}
