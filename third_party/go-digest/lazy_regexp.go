package digest

import (
	"regexp"
	"sync"
)

// lazyRegexp compiles its pattern on first use. stackpilot patch: the
// upstream package compiles its digest regexps in init (~0.7 ms),
// which every program importing it pays at start-up even when it parses no
// digest.
type lazyRegexp struct {
	pat  string
	once sync.Once
	re   *regexp.Regexp
}

func lazyCompile(pat string) *lazyRegexp { return &lazyRegexp{pat: pat} }

// Regexp returns the compiled expression.
func (l *lazyRegexp) Regexp() *regexp.Regexp {
	l.once.Do(func() { l.re = regexp.MustCompile(l.pat) })
	return l.re
}

// MatchString is regexp.Regexp.MatchString.
func (l *lazyRegexp) MatchString(s string) bool { return l.Regexp().MatchString(s) }

// String returns the source text.
func (l *lazyRegexp) String() string { return l.pat }
