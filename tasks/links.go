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

// AnswerToken binds an answer link to one task and one family contact
// (CONTRACT.md §12). Only its hash is stored: the token itself is in the
// notice alone.
type AnswerToken struct {
	Hash        string
	TaskID      string
	HouseholdID string
	// Contact is the family contact's name: the actor of their answers.
	Contact   string
	Lang      string
	CreatedAt time.Time
}

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

// answerLinks makes a new token for t and the family contact r and the
// actions a notice offers with it; without a public URL, the actions alone.
func (s *Service) answerLinks(ctx context.Context, tx Tx, t Task, r recipient) ([]Action, error) {
	lang := r.lang
	if lang == "" {
		lang = registry.DefaultLanguage
	}
	base := ""
	if s.opts.PublicURL != "" {
		raw := make([]byte, tokenBytes)
		if _, err := rand.Read(raw); err != nil {
			return nil, fmt.Errorf("answer token: %w", err)
		}
		token := base64.RawURLEncoding.EncodeToString(raw)
		tok := AnswerToken{Hash: HashToken(token), TaskID: t.ID, HouseholdID: t.HouseholdID, Contact: r.name, Lang: lang,
			CreatedAt: s.opts.Wall.Now()}
		if err := tx.AddAnswerToken(ctx, tok); err != nil {
			return nil, fmt.Errorf("store answer token: %w", err)
		}
		base = strings.TrimRight(s.opts.PublicURL, "/") + "/a/" + token
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

// ByToken loads the task an answer link is for, and the token. An unknown
// token is ErrNotFound; one whose task is closed ErrTokenDead.
func (s *Service) ByToken(ctx context.Context, token string) (Task, AnswerToken, error) {
	if token == "" || len(token) > 64 {
		return Task{}, AnswerToken{}, fmt.Errorf("answer link: %w", ErrNotFound)
	}
	tok, err := s.opts.Store.AnswerToken(ctx, HashToken(token))
	if err != nil {
		return Task{}, AnswerToken{}, fmt.Errorf("answer link: %w", err)
	}
	t, err := s.opts.Store.Task(ctx, tok.TaskID)
	if err != nil {
		return Task{}, AnswerToken{}, err
	}
	if t.State.Closed() {
		return t, tok, ErrTokenDead
	}
	return t, tok, nil
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
