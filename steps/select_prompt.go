package steps

import (
	"errors"

	"github.com/AlecAivazis/survey/v2"
	"github.com/AlecAivazis/survey/v2/core"
	"github.com/AlecAivazis/survey/v2/terminal"
)

// selectPrompt is survey's Select with one difference that matters here: when
// the typed filter changes, the cursor goes to the first option that matches.
//
// survey.Select keeps the cursor's index into the filtered list across filter
// changes (clamped to its length), so after a previous choice at index 2,
// typing "Deploy" in the menu filtered it to Deploy / Roll back / History and
// Enter ran History. Its cursor is unexported, so the prompt is rebuilt on
// survey's exported pieces (renderer, rune reader, templates), which keeps its
// look and keys: arrows or Tab move, typing filters, Backspace, Ctrl-W and
// Ctrl-U edit the filter, Enter chooses, Ctrl-C interrupts.
type selectPrompt struct {
	survey.Renderer
	Message  string
	Options  []string
	Default  int // index into Options
	PageSize int

	filter string
	cursor int // index into the filtered list
}

// filteredOptions is the options the current filter lets through, in order.
func filteredOptions(options []string, filter string, config *survey.PromptConfig) []core.OptionAnswer {
	if filter == "" {
		return core.OptionAnswerList(options)
	}
	var out []core.OptionAnswer
	for i, o := range options {
		if config.Filter(filter, o, i) {
			out = append(out, core.OptionAnswer{Value: o, Index: i})
		}
	}
	return out
}

// editFilter applies a key to a filter; it reports whether the key was a
// filter edit at all.
func editFilter(filter string, key rune) (string, bool) {
	switch {
	case key == terminal.KeyDeleteWord || key == terminal.KeyDeleteLine:
		return "", true
	case key == terminal.KeyDelete || key == terminal.KeyBackspace:
		if r := []rune(filter); len(r) > 0 {
			return string(r[:len(r)-1]), true
		}
		return filter, true
	case key >= terminal.KeySpace:
		return filter + string(key), true
	}
	return filter, false
}

// moveCursor applies an arrow key (wrapping at both ends) to cursor in a list of n.
func moveCursor(cursor, n int, key rune) (int, bool) {
	if n == 0 {
		return cursor, false
	}
	switch key {
	case terminal.KeyArrowUp:
		return (cursor - 1 + n) % n, true
	case terminal.KeyArrowDown, terminal.KeyTab:
		return (cursor + 1) % n, true
	}
	return cursor, false
}

// page is survey's pagination: the window of choices around the cursor and
// the cursor's position in it.
func page(pageSize int, choices []core.OptionAnswer, sel int) ([]core.OptionAnswer, int) {
	if pageSize <= 0 || len(choices) <= pageSize {
		return choices, sel
	}
	var start int
	switch {
	case sel < pageSize/2:
		start = 0
	case len(choices)-sel-1 < pageSize/2:
		start = len(choices) - pageSize
	default:
		start = sel - pageSize/2
	}
	return choices[start : start+pageSize], sel - start
}

func (s *selectPrompt) pageSize(config *survey.PromptConfig) int {
	if s.PageSize > 0 {
		return s.PageSize
	}
	return config.PageSize
}

func (s *selectPrompt) render(config *survey.PromptConfig) error {
	opts, idx := page(s.pageSize(config), filteredOptions(s.Options, s.filter, config), s.cursor)
	data := survey.SelectTemplateData{
		Select:        survey.Select{Message: s.Message, Options: s.Options, FilterMessage: filterMessage(s.filter)},
		SelectedIndex: idx,
		PageEntries:   opts,
		Config:        config,
	}
	return s.RenderWithCursorOffset(survey.SelectQuestionTemplate, data, opts, idx)
}

func filterMessage(filter string) string {
	if filter == "" {
		return ""
	}
	return " " + filter
}

// runKeys is the loop both prompts share, as survey's own prompts run it:
// the cursor hidden, the terminal in raw mode, the prompt drawn, then each
// key given to onKey and the prompt redrawn, until onKey has an answer.
// Ctrl-C interrupts; Enter (and Ctrl-D) reach onKey as KeyEnter.
func runKeys(r *survey.Renderer, render func() error, onKey func(key rune) (answer any, done bool)) (any, error) {
	cursor := r.NewCursor()
	cursor.Save()
	cursor.Hide()
	defer cursor.Show()
	defer cursor.Restore()
	if err := render(); err != nil {
		return nil, err
	}
	rr := r.NewRuneReader()
	_ = rr.SetTermMode()
	defer func() { _ = rr.RestoreTermMode() }()
	for {
		key, _, err := rr.ReadRune()
		if err != nil {
			return nil, err
		}
		switch key {
		case terminal.KeyInterrupt:
			return nil, terminal.InterruptErr
		case '\n', terminal.KeyEndTransmission:
			key = terminal.KeyEnter
		}
		if answer, done := onKey(key); done {
			return answer, nil
		}
		_ = render()
	}
}

// Prompt implements survey.Prompt.
func (s *selectPrompt) Prompt(config *survey.PromptConfig) (any, error) {
	if len(s.Options) == 0 {
		return nil, errors.New("no options to select from")
	}
	if s.Default >= 0 && s.Default < len(s.Options) {
		s.cursor = s.Default
	}
	return runKeys(&s.Renderer, func() error { return s.render(config) }, func(r rune) (any, bool) {
		options := filteredOptions(s.Options, s.filter, config)
		if r == terminal.KeyEnter {
			// nothing matches the filter: keep asking
			return optionAt(options, s.cursor)
		}
		if c, ok := moveCursor(s.cursor, len(options), r); ok {
			s.cursor = c
		} else if f, ok := editFilter(s.filter, r); ok && f != s.filter {
			s.filter = f
			s.cursor = 0 // the first match, never a stale index
		}
		return nil, false
	})
}

// optionAt is the option under the cursor, if there is one.
func optionAt(options []core.OptionAnswer, cursor int) (any, bool) {
	if cursor < len(options) {
		return options[cursor], true
	}
	return nil, false
}

// Cleanup implements survey.Prompt: the question is redrawn with the answer.
func (s *selectPrompt) Cleanup(config *survey.PromptConfig, val any) error {
	cursor := s.NewCursor()
	cursor.Restore()
	answer, _ := val.(core.OptionAnswer)
	return s.Render(survey.SelectQuestionTemplate, survey.SelectTemplateData{
		Select:     survey.Select{Message: s.Message, Options: s.Options},
		Answer:     answer.Value,
		ShowAnswer: true,
		Config:     config,
	})
}

// multiSelectPrompt is survey's MultiSelect with the same cursor rule as
// selectPrompt (a changed filter puts the cursor on the first match), and
// after Space or ←/→ clear the filter, the cursor stays on the option it was
// on rather than on whatever now sits at the same position.
type multiSelectPrompt struct {
	survey.Renderer
	Message  string
	Options  []string
	Default  []string
	PageSize int

	filter  string
	cursor  int
	checked map[int]bool
}

func (m *multiSelectPrompt) render(config *survey.PromptConfig) error {
	opts, idx := page((&selectPrompt{PageSize: m.PageSize}).pageSize(config), filteredOptions(m.Options, m.filter, config), m.cursor)
	data := survey.MultiSelectTemplateData{
		MultiSelect:   survey.MultiSelect{Message: m.Message, Options: m.Options, FilterMessage: filterMessage(m.filter)},
		SelectedIndex: idx,
		Checked:       m.checked,
		PageEntries:   opts,
		Config:        config,
	}
	return m.RenderWithCursorOffset(survey.MultiSelectQuestionTemplate, data, opts, idx)
}

// clearFilter drops the filter and keeps the cursor on option index i of the full list.
func (m *multiSelectPrompt) clearFilter(i int) {
	m.filter = ""
	m.cursor = i
}

// Prompt implements survey.Prompt.
func (m *multiSelectPrompt) Prompt(config *survey.PromptConfig) (any, error) {
	if len(m.Options) == 0 {
		return nil, errors.New("no options to select from")
	}
	m.checked = map[int]bool{}
	for _, d := range m.Default {
		for i, o := range m.Options {
			if o == d {
				m.checked[i] = true
			}
		}
	}
	return runKeys(&m.Renderer, func() error { return m.render(config) }, func(r rune) (any, bool) {
		options := filteredOptions(m.Options, m.filter, config)
		switch {
		case r == terminal.KeyEnter:
			var answers []core.OptionAnswer
			for i, o := range m.Options {
				if m.checked[i] {
					answers = append(answers, core.OptionAnswer{Value: o, Index: i})
				}
			}
			return answers, true
		case r == terminal.KeySpace:
			if m.cursor < len(options) {
				i := options[m.cursor].Index
				m.checked[i] = !m.checked[i]
				m.clearFilter(i)
			}
		case r == terminal.KeyArrowRight || r == terminal.KeyArrowLeft:
			for _, o := range options {
				m.checked[o.Index] = r == terminal.KeyArrowRight
			}
			if m.cursor < len(options) {
				m.clearFilter(options[m.cursor].Index)
			}
		default:
			if c, ok := moveCursor(m.cursor, len(options), r); ok {
				m.cursor = c
			} else if f, ok := editFilter(m.filter, r); ok && f != m.filter {
				m.filter = f
				m.cursor = 0
			}
		}
		return nil, false
	})
}

// Cleanup implements survey.Prompt: the question is redrawn with the answers.
func (m *multiSelectPrompt) Cleanup(config *survey.PromptConfig, val any) error {
	cursor := m.NewCursor()
	cursor.Restore()
	answers, _ := val.([]core.OptionAnswer)
	var text string
	for i, a := range answers {
		if i > 0 {
			text += ", "
		}
		text += a.Value
	}
	return m.Render(survey.MultiSelectQuestionTemplate, survey.MultiSelectTemplateData{
		MultiSelect: survey.MultiSelect{Message: m.Message, Options: m.Options},
		Answer:      text,
		ShowAnswer:  true,
		Checked:     m.checked,
		Config:      config,
	})
}
