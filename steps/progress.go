package steps

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/briandowns/spinner"
	"github.com/fatih/color"
	"golang.org/x/term"

	"github.com/stackpilot/stackpilot/stackops"
)

// ProgressMode says how progress is drawn.
type ProgressMode string

// Progress modes.
const (
	// ProgressAuto picks ProgressTTY on a terminal, else ProgressPlain.
	ProgressAuto ProgressMode = "auto"
	// ProgressTTY draws one live line per service with a spinner.
	ProgressTTY ProgressMode = "tty"
	// ProgressPlain prints one line per change, no escape codes (CI, pipes).
	ProgressPlain ProgressMode = "plain"
	// ProgressJSON prints each event as a JSON line (NDJSON).
	ProgressJSON ProgressMode = "json"
	// ProgressQuiet prints nothing.
	ProgressQuiet ProgressMode = "quiet"
)

// spinnerFrames are the frames of the live lines, taken from the spinner
// package's character sets so single spinners and live lines look alike.
func spinnerFrames() []string { return spinner.CharSets[14] }

// Progress renders an operation's events on stderr. It implements
// stackops.EventSink and is safe for concurrent use.
type Progress struct {
	mode ProgressMode
	w    io.Writer
	cs   *ColorScheme

	mu      sync.Mutex
	lines   []*progressLine
	byKey   map[string]*progressLine
	drawn   int
	frame   int
	ticker  *time.Ticker
	stop    chan struct{}
	paused  bool
	width   int
	lastOut map[string]string // plain mode: last line printed per key, to print changes only
}

type progressLine struct {
	key     string
	label   string
	phase   string
	message string
	final   bool
	failed  bool
}

// NewProgress returns a renderer for ios.ErrOut in the given mode.
func NewProgress(ios *IOStreams, mode ProgressMode) *Progress {
	if mode == "" || mode == ProgressAuto {
		if ios.Animate() {
			mode = ProgressTTY
		} else {
			mode = ProgressPlain
		}
	}
	p := &Progress{mode: mode, w: ios.ErrOut, cs: ios.ErrColorScheme(), byKey: map[string]*progressLine{}, lastOut: map[string]string{}, width: 100}
	if f, ok := ios.ErrOut.(*os.File); ok {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 20 {
			p.width = w
		}
	}
	return p
}

// Mode is the resolved mode.
func (p *Progress) Mode() ProgressMode { return p.mode }

// Start implements stackops.EventSink.
func (p *Progress) Start(op string) {
	if p.mode != ProgressTTY {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ticker == nil {
		p.ticker = time.NewTicker(100 * time.Millisecond)
		p.stop = make(chan struct{})
		go p.loop(p.ticker, p.stop)
	}
}

func (p *Progress) loop(t *time.Ticker, stop chan struct{}) {
	for {
		select {
		case <-t.C:
			p.mu.Lock()
			p.frame++
			p.redrawLocked()
			p.mu.Unlock()
		case <-stop:
			return
		}
	}
}

// Event implements stackops.EventSink.
func (p *Progress) Event(e stackops.Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	switch p.mode {
	case ProgressQuiet:
		return
	case ProgressJSON:
		b, _ := json.Marshal(e)
		p.mu.Lock()
		fmt.Fprintln(p.w, string(b))
		p.mu.Unlock()
		return
	}
	key := e.Op + "\x00" + e.Service
	label := e.Service
	if label == "" {
		label = e.Op
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	l, ok := p.byKey[key]
	if !ok {
		l = &progressLine{key: key, label: label}
		p.byKey[key] = l
		p.lines = append(p.lines, l)
	}
	l.phase, l.message, l.final, l.failed = e.Phase, e.Message, e.Final, e.Failed
	if p.mode == ProgressPlain {
		text := p.plainLine(e)
		if p.lastOut[key] != text {
			p.lastOut[key] = text
			fmt.Fprintln(p.w, text)
		}
		return
	}
	p.redrawLocked()
}

func (p *Progress) plainLine(e stackops.Event) string {
	var b strings.Builder
	b.WriteString(e.Op)
	if e.Service != "" {
		b.WriteString(": " + e.Service)
	}
	b.WriteString(": " + e.Phase)
	if e.Message != "" {
		b.WriteString(" — " + e.Message)
	}
	return b.String()
}

// Done implements stackops.EventSink. The live lines stay on screen.
func (p *Progress) Done(op string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mode == ProgressJSON {
		e := map[string]any{"op": op, "phase": "done", "time": time.Now()}
		if err != nil {
			e["phase"] = "failed"
			e["error"] = err.Error()
		}
		b, _ := json.Marshal(e)
		fmt.Fprintln(p.w, string(b))
		return
	}
	if p.mode != ProgressTTY {
		return
	}
	// Lines never finalised get the operation's outcome so no spinner is left behind.
	for _, l := range p.lines {
		if !l.final && strings.HasPrefix(l.key, op+"\x00") {
			l.final = true
			if err != nil {
				l.failed = true
			}
		}
	}
	p.redrawLocked()
	p.stopLocked()
	p.lines, p.byKey, p.drawn = nil, map[string]*progressLine{}, 0
}

func (p *Progress) stopLocked() {
	if p.ticker != nil {
		p.ticker.Stop()
		close(p.stop)
		p.ticker, p.stop = nil, nil
	}
}

// Pause stops redrawing (before a prompt or printing a report), leaving what
// is drawn in place. Resume starts a fresh block below.
func (p *Progress) Pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.paused = true
	p.drawn = 0
}

// Resume restarts redrawing after Pause.
func (p *Progress) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.paused = false
	var keep []*progressLine
	for _, l := range p.lines {
		if !l.final {
			keep = append(keep, l)
		}
	}
	p.lines = keep
}

// Close stops the renderer without an outcome.
func (p *Progress) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopLocked()
}

func (p *Progress) redrawLocked() {
	if p.mode != ProgressTTY || p.paused {
		return
	}
	var b strings.Builder
	if p.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", p.drawn)
	}
	labelW := 0
	for _, l := range p.lines {
		if n := VisibleWidth(l.label); n > labelW {
			labelW = n
		}
	}
	for _, l := range p.lines {
		frames := spinnerFrames()
		icon := p.cs.Cyan(frames[p.frame%len(frames)])
		if l.final {
			icon = p.cs.SuccessIcon()
			if l.failed {
				icon = p.cs.FailureIcon()
			}
		}
		text := fmt.Sprintf("%s %-*s  %s", icon, labelW, l.label, l.phase)
		if l.message != "" {
			text += p.cs.Gray(" — " + l.message)
		}
		text = truncateVisible(text, p.width-1)
		b.WriteString("\r\x1b[2K" + text + "\n")
	}
	p.drawn = len(p.lines)
	io.WriteString(p.w, b.String())
}

// truncateVisible cuts s to n visible runes, keeping escape codes intact.
func truncateVisible(s string, n int) string {
	if VisibleWidth(s) <= n {
		return s
	}
	var b strings.Builder
	count := 0
	for i := 0; i < len(s); {
		if loc := ansiRe().FindStringIndex(s[i:]); loc != nil && loc[0] == 0 {
			b.WriteString(s[i : i+loc[1]])
			i += loc[1]
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if count >= n-1 {
			b.WriteString("…")
			b.WriteString("\x1b[0m")
			break
		}
		b.WriteRune(r)
		count++
		i += size
	}
	return b.String()
}

// Spin shows a single spinner with msg on stderr while work runs, when stderr
// is a terminal; otherwise it prints nothing. It returns the stop function.
func Spin(ios *IOStreams, msg string) func() {
	f, ok := ios.ErrOut.(*os.File)
	if !ok || !ios.Animate() {
		return func() {}
	}
	// The spinner colors through fatih/color's global switch, which only
	// knows about stdout and NO_COLOR; decide for stderr and --no-color here.
	color.NoColor = !ios.ErrColorEnabled()
	s := spinner.New(spinnerFrames(), 100*time.Millisecond, spinner.WithWriterFile(f))
	s.Suffix = " " + msg
	s.Start()
	return s.Stop
}
