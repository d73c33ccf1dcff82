package steps

import (
	"fmt"
	"strings"
	"sync"
)

// TestingT is the part of testing.TB the scripted prompter needs; taking an
// interface keeps the testing package out of the binary.
type TestingT interface {
	Helper()
	Errorf(format string, args ...any)
	Cleanup(func())
}

// ScriptedPrompter answers prompts from a script, in order. A prompt that is
// not next in the script, or a scripted answer never asked for, fails the test.
type ScriptedPrompter struct {
	t       TestingT
	mu      sync.Mutex
	answers []scripted
}

type scripted struct {
	kind    string // select, multiselect, confirm, input, password
	message string // substring the prompt's message must contain
	value   any    // string, []string, bool, or error
}

// NewScriptedPrompter returns a prompter that checks at test end that every answer was used.
func NewScriptedPrompter(t TestingT) *ScriptedPrompter {
	p := &ScriptedPrompter{t: t}
	t.Cleanup(func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, a := range p.answers {
			t.Errorf("scripted prompter: %s %q was never asked", a.kind, a.message)
		}
	})
	return p
}

// Select answers the next select prompt (its message containing msg) with the option text.
func (p *ScriptedPrompter) Select(msg, option string) *ScriptedPrompter {
	return p.add("select", msg, option)
}

// MultiSelect answers with the given option texts.
func (p *ScriptedPrompter) MultiSelect(msg string, options ...string) *ScriptedPrompter {
	return p.add("multiselect", msg, options)
}

// Confirm answers yes or no.
func (p *ScriptedPrompter) Confirm(msg string, yes bool) *ScriptedPrompter {
	return p.add("confirm", msg, yes)
}

// Input answers with text.
func (p *ScriptedPrompter) Input(msg, text string) *ScriptedPrompter {
	return p.add("input", msg, text)
}

// Password answers with text.
func (p *ScriptedPrompter) Password(msg, text string) *ScriptedPrompter {
	return p.add("password", msg, text)
}

// Interrupt makes the next prompt of that kind return ErrInterrupted (Ctrl-C).
func (p *ScriptedPrompter) Interrupt(kind, msg string) *ScriptedPrompter {
	return p.add(kind, msg, ErrInterrupted)
}

func (p *ScriptedPrompter) add(kind, msg string, v any) *ScriptedPrompter {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.answers = append(p.answers, scripted{kind: kind, message: msg, value: v})
	return p
}

func (p *ScriptedPrompter) next(kind, message string) (any, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.t.Helper()
	if len(p.answers) == 0 {
		p.t.Errorf("scripted prompter: unexpected %s prompt %q", kind, message)
		return nil, fmt.Errorf("unexpected prompt %q", message)
	}
	a := p.answers[0]
	if a.kind != kind || !strings.Contains(message, a.message) {
		p.t.Errorf("scripted prompter: got %s prompt %q, script expected %s %q", kind, message, a.kind, a.message)
		return nil, fmt.Errorf("unexpected prompt %q", message)
	}
	p.answers = p.answers[1:]
	if err, ok := a.value.(error); ok {
		return nil, err
	}
	return a.value, nil
}

// Prompter returns the Prompter view of the script.
func (p *ScriptedPrompter) Prompter() Prompter { return scriptedView{p} }

type scriptedView struct{ p *ScriptedPrompter }

func (v scriptedView) Select(message string, options []string, _ string) (int, error) {
	a, err := v.p.next("select", message)
	if err != nil {
		return 0, err
	}
	for i, o := range options {
		if o == a.(string) || StripANSI(o) == a.(string) {
			return i, nil
		}
	}
	for i, o := range options {
		if strings.HasPrefix(StripANSI(o), a.(string)) {
			return i, nil
		}
	}
	v.p.t.Errorf("scripted prompter: %q is not an option of %q (options: %q)", a, message, options)
	return 0, fmt.Errorf("no option %q", a)
}

func (v scriptedView) MultiSelect(message string, options []string, _ []string) ([]int, error) {
	a, err := v.p.next("multiselect", message)
	if err != nil {
		return nil, err
	}
	var out []int
	for _, want := range a.([]string) {
		found := false
		for i, o := range options {
			if o == want || strings.HasPrefix(StripANSI(o), want) {
				out = append(out, i)
				found = true
				break
			}
		}
		if !found {
			v.p.t.Errorf("scripted prompter: %q is not an option of %q (options: %q)", want, message, options)
			return nil, fmt.Errorf("no option %q", want)
		}
	}
	return out, nil
}

func (v scriptedView) Confirm(message string, _ bool) (bool, error) {
	a, err := v.p.next("confirm", message)
	if err != nil {
		return false, err
	}
	return a.(bool), nil
}

func (v scriptedView) Input(message string, _ string) (string, error) {
	a, err := v.p.next("input", message)
	if err != nil {
		return "", err
	}
	return a.(string), nil
}

func (v scriptedView) Password(message string) (string, error) {
	a, err := v.p.next("password", message)
	if err != nil {
		return "", err
	}
	return a.(string), nil
}
