package envfile

import "strings"

// Change is what an edit did to one key.
type Change struct {
	Key string `json:"key"`
	// Action is added, updated, removed, unchanged or absent (unset of a key not there).
	Action string `json:"action"`
	// Line is the key's line after the edit (before it, for removed).
	Line   int  `json:"line,omitempty"`
	Secret bool `json:"secret"`
}

// DiffLine is a line of a change, masked when its key looks secret.
type DiffLine struct {
	// Op is "-" (before) or "+" (after).
	Op   string `json:"op"`
	Line int    `json:"line"`
	Key  string `json:"key"`
	// Text is the line as written, with a secret value, and the
	// credentials of a URL (user:pass@), replaced by Mask (unless revealed).
	Text   string `json:"text"`
	Secret bool   `json:"secret"`
}

// Diff compares two documents key by key: each key whose definitions'
// lines differ gets its old lines (-) and new lines (+), the values of keys
// isSecret names masked unless reveal. otherLines reports differences
// outside any key's lines (comments, blank lines).
func Diff(a, b *Document, isSecret func(string) bool, reveal bool) (changes []Change, lines []DiffLine, otherLines bool) {
	return diff(a, b, isSecret, reveal, nil)
}

// EditDiff is Diff limited to the keys edited on after, a clone of before
// (an edit verified to touch nothing else), with a change for each edited
// key that stayed as it was: "unchanged" for a Set to the value it had,
// "absent" for an Unset of a key that was not there.
func EditDiff(before, after *Document, isSecret func(string) bool, reveal bool) ([]Change, []DiffLine) {
	intent := after.intent
	if intent == nil {
		intent = map[string]*string{}
	}
	changes, lines, _ := diff(before, after, isSecret, reveal, intent)
	for _, k := range after.order {
		if intent[k] == nil && !before.Has(k) {
			changes = append(changes, Change{Key: k, Action: "absent", Secret: isSecret(k)})
		}
	}
	for _, k := range after.order {
		if intent[k] != nil && before.Has(k) && !changed(changes, k) {
			changes = append(changes, Change{Key: k, Action: "unchanged", Line: after.entry(after.last(k)).Line, Secret: isSecret(k)})
		}
	}
	return changes, lines
}

func changed(cs []Change, key string) bool {
	for _, c := range cs {
		if c.Key == key {
			return true
		}
	}
	return false
}

// diff compares two documents key by key: each key whose definitions'
// lines differ gets its old lines (-) and new lines (+), secret values
// masked. otherLines reports differences outside any key's lines. only,
// when not nil, limits the comparison to those keys (an edit verified to
// touch nothing else).
func diff(a, b *Document, isSecret func(string) bool, reveal bool, only map[string]*string) (changes []Change, lines []DiffLine, otherLines bool) {
	changes, lines = []Change{}, []DiffLine{}
	type defs struct {
		text  string
		texts []string     // each definition's record text
		lines [][]DiffLine // each definition's lines
		first int
		last  int
	}
	collect := func(d *Document, op string) (map[string]*defs, []string) {
		m := map[string]*defs{}
		var order []string
		for i := range d.stmts {
			st := &d.stmts[i]
			k := d.keyOf(st)
			if only != nil {
				if _, ok := only[k]; !ok {
					continue
				}
			}
			df, ok := m[k]
			if !ok {
				df = &defs{}
				m[k] = df
				order = append(order, k)
			}
			secret := isSecret(k) && !reveal
			rec := d.records[st.record]
			text := strings.TrimRight(d.src[rec.start:rec.end], "\r\n")
			df.text += text + "\x00"
			df.texts = append(df.texts, text)
			line := d.lineOf(int(rec.start))
			if df.first == 0 {
				df.first = line
			}
			df.last = d.lineOf(int(st.start))
			var lines []DiffLine
			if secret && !st.inherited {
				shown := d.src[st.lineStart:st.valStart] + Mask + strings.TrimRight(d.src[st.valEnd:d.lineEndFrom(int(st.valEnd))], "\r\n")
				lines = append(lines, DiffLine{Op: op, Line: line, Key: k, Text: shown, Secret: true})
			} else {
				for j, l := range strings.Split(text, "\n") {
					l = strings.TrimRight(l, "\r")
					if !reveal {
						l, _ = MaskURLCredentials(l)
					}
					lines = append(lines, DiffLine{Op: op, Line: line + j, Key: k, Text: l, Secret: isSecret(k)})
				}
			}
			df.lines = append(df.lines, lines)
		}
		return m, order
	}
	am, aorder := collect(a, "-")
	bm, border := collect(b, "+")
	seen := map[string]bool{}
	var keys []string
	for _, k := range border {
		seen[k] = true
		keys = append(keys, k)
	}
	for _, k := range aorder {
		if !seen[k] {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		ad, bd := am[k], bm[k]
		switch {
		case ad == nil:
			changes = append(changes, Change{Key: k, Action: "added", Line: bd.last, Secret: isSecret(k)})
			lines = append(lines, flatten(bd.lines)...)
		case bd == nil:
			changes = append(changes, Change{Key: k, Action: "removed", Line: ad.last, Secret: isSecret(k)})
			lines = append(lines, flatten(ad.lines)...)
		case ad.text != bd.text:
			changes = append(changes, Change{Key: k, Action: "updated", Line: bd.last, Secret: isSecret(k)})
			if len(ad.texts) == len(bd.texts) {
				// the same definitions: show only those that differ
				for i := range ad.texts {
					if ad.texts[i] != bd.texts[i] {
						lines = append(lines, ad.lines[i]...)
						lines = append(lines, bd.lines[i]...)
					}
				}
				continue
			}
			lines = append(lines, flatten(ad.lines)...)
			lines = append(lines, flatten(bd.lines)...)
		}
	}
	if only != nil {
		return changes, lines, false
	}
	return changes, lines, trivia(a) != trivia(b)
}

func flatten(l [][]DiffLine) []DiffLine {
	var out []DiffLine
	for _, x := range l {
		out = append(out, x...)
	}
	return out
}

// trivia is a document's text outside its statements' lines, with line
// terminators normalised away (an unset at the end may move one).
func trivia(d *Document) string {
	var b strings.Builder
	pos := 0
	for _, r := range d.records {
		b.WriteString(d.src[pos:r.start])
		pos = int(r.end)
	}
	b.WriteString(d.src[pos:])
	return strings.NewReplacer("\r", "", "\n", "").Replace(b.String())
}
