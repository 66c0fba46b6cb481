package notify

import (
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/eldersafe/eldersafe/tasks"
)

// An SMS says the notice's text alone: the templates write every text to
// stand without its title (who, what and when come first) and keep a family's
// within one message; a worker's, with its map link, takes a few. The title,
// the push headline, would only repeat the first line.

// maxSMSBody bounds an SMS body: Twilio refuses longer ones (error 21617)
// rather than cutting them, which would cost the notice.
const maxSMSBody = 1600

// smsBody is the text of an SMS for n.
func smsBody(n tasks.Notice) string {
	return clip(strings.TrimSpace(n.Message), maxSMSBody)
}

// phoneNumber cleans n.Address of the spaces, dashes, dots and brackets people
// type into phone numbers. What is left must be digits, after an optional +;
// anything else would be refused by the provider on every attempt.
func phoneNumber(addr string) (string, error) {
	num := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '.', '(', ')':
			return -1
		}
		return r
	}, addr)
	digits := strings.TrimPrefix(num, "+")
	if len(digits) < 5 || len(digits) > 20 || strings.Trim(digits, "0123456789") != "" {
		// The number itself stays out of the error: errors are shown on the task.
		return "", errors.New("sms address: not a phone number")
	}
	return num, nil
}

// clip cuts s to at most n characters, marking the cut with an ellipsis.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
