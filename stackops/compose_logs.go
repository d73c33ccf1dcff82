package stackops

import (
	"io"
	"strings"
	"sync"

	"github.com/sirupsen/logrus"
)

// compose-go reports what it notices but does not fail on (a variable that
// is not set, an obsolete `version:` key) through logrus' standard logger,
// and offers no way to pass it another one. Load collects those lines into
// Stack.Warnings through a hook on that logger; whether the logger also
// prints them is the process's choice, made once at start-up with
// CollectComposeWarnings — never by Load, which changes no global state.

// composeWarnings hands each line compose-go logs to the Loads running at
// that moment.
var composeWarnings = &warningHook{active: map[*warningSink]bool{}}

// CollectComposeWarnings makes Load collect compose-go's warnings into
// Stack.Warnings instead of letting logrus print them on stderr: it adds a
// hook to logrus' standard logger and discards the logger's own output. It
// changes that logger for the whole process (compose-go only logs through
// it), so a program calls it once at start-up — stackpilot's main does —
// and a library user who wants logrus' output left alone does not. Calling
// it again does nothing.
func CollectComposeWarnings() {
	composeWarnings.once.Do(func() {
		logrus.SetOutput(io.Discard)
		logrus.AddHook(composeWarnings)
	})
}

type warningHook struct {
	once   sync.Once
	mu     sync.Mutex
	active map[*warningSink]bool
}

// warningSink collects the warnings of one Load.
type warningSink struct {
	mu    sync.Mutex
	lines []string
}

// Levels implements logrus.Hook: warnings and worse.
func (h *warningHook) Levels() []logrus.Level {
	return []logrus.Level{logrus.PanicLevel, logrus.FatalLevel, logrus.ErrorLevel, logrus.WarnLevel}
}

// Fire implements logrus.Hook. Loads that overlap in time (a program
// loading two stacks at once) each see the other's lines too: compose-go
// does not say which load a line is about.
func (h *warningHook) Fire(e *logrus.Entry) error {
	msg := strings.TrimSpace(e.Message)
	if msg == "" {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.active {
		s.mu.Lock()
		s.lines = append(s.lines, msg)
		s.mu.Unlock()
	}
	return nil
}

// collect starts collecting; stop ends it and returns the lines.
func (h *warningHook) collect() (stop func() []string) {
	s := &warningSink{}
	h.mu.Lock()
	h.active[s] = true
	h.mu.Unlock()
	return func() []string {
		h.mu.Lock()
		delete(h.active, s)
		h.mu.Unlock()
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.lines
	}
}

// composeWarnf reports a warning the way compose-go does (stackpilot's
// replay of Compose's discovery warns where Compose would).
func composeWarnf(format string, args ...any) { logrus.Warnf(format, args...) }
