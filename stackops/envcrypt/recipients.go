package envcrypt

import (
	"fmt"
	"strings"

	"filippo.io/age"

	"github.com/stackpilot/stackpilot/stackops/envfile"
)

// RecipientTag starts the comment line that names one recipient of a .env.
const RecipientTag = "# stackpilot-recipient:"

// recipientOf returns the public key a comment line names, if it is a
// recipient line.
func recipientOf(c envfile.CommentLine) (string, bool) {
	rest, ok := strings.CutPrefix(c.Text, RecipientTag)
	if !ok {
		return "", false
	}
	return strings.TrimSpace(rest), true
}

// Recipient is one recipient line of a .env.
type Recipient struct {
	// Key is the age public key (age1…).
	Key string `json:"recipient"`
	// Line is where it is recorded.
	Line int `json:"line"`
}

// Recipients lists the recipients a .env records, in file order. A line
// that names no valid key is an error naming its line: values encrypted
// while it was there were not encrypted to it.
func Recipients(d *envfile.Document) ([]Recipient, error) {
	var out []Recipient
	for _, c := range d.CommentLines() {
		k, ok := recipientOf(c)
		if !ok {
			continue
		}
		if _, err := ParseRecipient(k); err != nil {
			return nil, fmt.Errorf("line %d: %w — fix or remove that line", c.Line, err)
		}
		out = append(out, Recipient{Key: k, Line: c.Line})
	}
	return out, nil
}

// AgeRecipients parses the recipients a .env records.
func AgeRecipients(d *envfile.Document) ([]age.Recipient, error) {
	rs, err := Recipients(d)
	if err != nil {
		return nil, err
	}
	keys := make([]string, len(rs))
	for i, r := range rs {
		keys[i] = r.Key
	}
	return RecipientsOf(keys)
}

// AddRecipient records key in d (after the recipients already there, or at
// the top). It reports false when key was recorded already.
func AddRecipient(d *envfile.Document, key string) (bool, error) {
	r, err := ParseRecipient(key)
	if err != nil {
		return false, err
	}
	rs, err := Recipients(d)
	if err != nil {
		return false, err
	}
	for _, have := range rs {
		if have.Key == r.String() {
			return false, nil
		}
	}
	return true, d.AddCommentLine(RecipientTag+" "+r.String(), func(c envfile.CommentLine) bool {
		_, ok := recipientOf(c)
		return ok
	})
}

// RemoveRecipient removes key's lines from d; it reports whether there was one.
func RemoveRecipient(d *envfile.Document, key string) (bool, error) {
	key = strings.TrimSpace(key)
	n, err := d.RemoveCommentLines(func(c envfile.CommentLine) bool {
		k, ok := recipientOf(c)
		return ok && k == key
	})
	return n > 0, err
}
