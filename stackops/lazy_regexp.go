package stackops

import (
	"regexp"
	"sync"
)

// lazyRegexp compiles pattern the first time it is used, not at start-up:
// every stackpilot command (and --version) pays for package initialisation,
// and most commands never use most patterns.
func lazyRegexp(pattern string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(pattern) })
}
