// Package lazyre compiles regular expressions on first use.
package lazyre

import (
	"regexp"
	"sync"
)

// New returns a function that compiles pattern the first time it is called,
// not at start-up: every stackpilot command (and --version) pays for package
// initialisation, and most commands never use most patterns.
func New(pattern string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(pattern) })
}
