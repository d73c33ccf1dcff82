package steps

import (
	"testing"
	"time"

	expect "github.com/Netflix/go-expect"
	"github.com/hinshun/vt10x"
)

// ptyPrompter runs survey prompts on a real pseudo-terminal, as a person sees them.
func ptyPrompter(t *testing.T) (*SurveyPrompter, *expect.Console) {
	t.Helper()
	c, err := expect.NewConsole(expect.WithDefaultTimeout(10*time.Second), expect.WithStdout(vt10x.New()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &SurveyPrompter{in: c.Tty(), out: c.Tty(), err: c.Tty()}, c
}

// answerAsync runs ask on the terminal while keys are typed into it.
func answerAsync[T any](t *testing.T, c *expect.Console, ask func() (T, error), keys func()) T {
	t.Helper()
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := ask()
		done <- result{v, err}
	}()
	keys()
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r.v
	case <-time.After(10 * time.Second):
		t.Fatal("the prompt did not return")
	}
	var zero T
	return zero
}

var menuOptions = []string{"Status", "Deploy", "Logs", "Roll back", "History", "Environment", "Backups", "Down"}

// The menu's cursor sits on the previous choice (History, index 4); typing
// a filter must put it on the first match, so "Deploy" Enter runs Deploy —
// not whatever sits at index 4 (or the last index) of the filtered list.
func TestSelectFilterPutsCursorOnFirstMatch(t *testing.T) {
	for _, tc := range []struct {
		def, typed, want string
	}{
		{"History", "Deploy", "Deploy"},
		{"History", "o", "Deploy"},  // Deploy, Logs, Roll back, History, Environment, Down
		{"Down", "ro", "Roll back"}, // case-insensitive: Roll back, Environment
		{"Status", "back", "Roll back"},
	} {
		p, c := ptyPrompter(t)
		got := answerAsync(t, c, func() (int, error) { return p.Select("What do you want to do?", menuOptions, tc.def) }, func() {
			if _, err := c.ExpectString("What do you want to do?"); err != nil {
				t.Fatal(err)
			}
			c.Send(tc.typed)
			time.Sleep(50 * time.Millisecond)
			c.Send("\r")
		})
		if menuOptions[got] != tc.want {
			t.Errorf("default %s, typed %q: chose %s, want %s", tc.def, tc.typed, menuOptions[got], tc.want)
		}
	}
}

// Arrows still move within the filtered list, and a filter edited back to
// nothing starts at the top again; Enter with no match keeps asking.
func TestSelectFilterArrowsAndBackspace(t *testing.T) {
	p, c := ptyPrompter(t)
	got := answerAsync(t, c, func() (int, error) { return p.Select("Pick", menuOptions, "Down") }, func() {
		c.ExpectString("Pick")
		c.Send("zzz\r") // no match: Enter is ignored
		time.Sleep(50 * time.Millisecond)
		c.Send("\x17") // Ctrl-W clears the filter: cursor to the top
		c.Send("o")    // Deploy, Logs, Roll back, History, Environment, Down
		c.Send("\x1b[B\x1b[B")
		time.Sleep(50 * time.Millisecond)
		c.Send("\r")
	})
	if menuOptions[got] != "Roll back" {
		t.Errorf("chose %s, want Roll back (third match of \"o\")", menuOptions[got])
	}
}

// In a multi-select, a filter puts the cursor on its first match, and Space
// there marks that option (not the one at the old index); the marked option
// stays under the cursor once the filter is cleared.
func TestMultiSelectFilterMarksFirstMatch(t *testing.T) {
	services := []string{"api", "cache", "db", "web", "worker"}
	p, c := ptyPrompter(t)
	got := answerAsync(t, c, func() ([]int, error) { return p.MultiSelect("Which services?", services, nil) }, func() {
		c.ExpectString("Which services?")
		c.Send("\x1b[B\x1b[B\x1b[B") // cursor on web
		c.Send("db")                 // filtered to db alone
		c.Send(" ")                  // mark db; the filter clears, cursor stays on db
		c.Send("\x1b[B ")            // next after db is web
		time.Sleep(50 * time.Millisecond)
		c.Send("\r")
	})
	var names []string
	for _, i := range got {
		names = append(names, services[i])
	}
	if len(names) != 2 || names[0] != "db" || names[1] != "web" {
		t.Errorf("marked %v, want [db web]", names)
	}
}
