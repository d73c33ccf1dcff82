package stackops

import (
	"context"
	"fmt"
	"strings"
	"sync"
)

// fakeRunner records argv and answers from a table keyed by the joined argv.
type fakeRunner struct {
	mu      sync.Mutex
	calls   [][]string
	answers map[string]fakeAnswer
}

type fakeAnswer struct {
	stdout string
	stderr string
	code   int
}

func (f *fakeRunner) Run(_ context.Context, c Cmd) error {
	f.mu.Lock()
	f.calls = append(f.calls, c.Args)
	a, ok := f.answers[strings.Join(c.Args, " ")]
	f.mu.Unlock()
	if !ok {
		return fmt.Errorf("%s: not found in PATH", c.Args[0])
	}
	if c.Stdout != nil {
		fmt.Fprint(c.Stdout, a.stdout)
	}
	if c.Stderr != nil {
		fmt.Fprint(c.Stderr, a.stderr)
	}
	if a.code != 0 {
		return &ExitError{Cmd: c.Args[0], Code: a.code}
	}
	return nil
}
