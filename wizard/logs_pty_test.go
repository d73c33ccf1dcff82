package wizard_test

import (
	"strings"
	"testing"
	"time"

	expect "github.com/Netflix/go-expect"

	"github.com/stackpilot/stackpilot/internal/itest"
)

// A person opens Logs from the menu: follows (lines appear, Ctrl-C comes
// back to the menu), asks for the last line, searches, and reads the
// summary; each flow ends with the equivalent command.
func TestIntegrationLogsMenu(t *testing.T) {
	t.Parallel()
	itest.Require(t)
	p := itest.NewProject(t, `
services:
  api:
    image: stackpilot-fixture:latest
    command: ["print=first line", "log=error:bracket:second line", "wait"]
  db:
    image: stackpilot-fixture:latest
    command: ["print=db ready", "wait"]
`, nil)
	p.Compose("up", "-d")
	itest.Eventually(t, 30*time.Second, "the lines logged", func() bool {
		return strings.Contains(p.Run("logs").Stdout, "second line")
	})

	term := itest.StartTerminal(t, p.Dir, nil)
	openLogs := func(action string) {
		t.Helper()
		term.Expect("What do you want to do?")
		term.Send("Logs", itest.KeyEnter)
		term.Expect("Which services do you want to see the logs of?")
		term.Send(itest.KeyEnter) // all services
		term.Expect("What do you want to see?")
		term.Send(action, itest.KeyEnter)
	}

	// Follow: the lines of both services, colored per service; Ctrl-C returns to the menu.
	openLogs("Follow")
	term.Expect("Ctrl-C to stop")
	if _, err := term.Console.Expect(expect.All(expect.String("db ready"), expect.String("second line"))); err != nil {
		t.Fatalf("both services' lines: %v\n%s", err, term.Screen())
	}
	if raw := term.Raw(); !strings.Contains(raw, "\x1b[36mapi |") || !strings.Contains(raw, "\x1b[33mdb  |") {
		t.Errorf("service prefixes not colored per service:\n%q", raw[max(0, len(raw)-600):])
	}
	term.Send(itest.KeyCtrlC)
	term.Expect("stackpilot logs -f --tail 10")
	term.Expect("back to the menu")

	// Last lines: asks how many.
	openLogs("Last")
	term.Expect("How many lines per container?")
	term.SendLine("1")
	term.Expect("second line")
	term.Expect("stackpilot logs --tail 1")
	if screen := term.Screen(); strings.Contains(screen, "first line") && strings.Count(screen, "first line") > 1 {
		t.Errorf("--tail 1 printed more than the last line:\n%s", screen)
	}

	// Search: asks for the pattern; a bad pattern is asked again.
	openLogs("Search")
	term.Expect("Search for")
	term.SendLine("(")
	term.Expect("not a valid pattern")
	term.Expect("Search for")
	term.SendLine("^DB")
	term.Expect("\x1b[31mdb\x1b[0m ready") // the match marked, whatever its case
	term.Expect("stackpilot logs --grep '^DB' -i")

	// A search that finds nothing says so.
	openLogs("Search")
	term.Expect("Search for")
	term.SendLine("no such words")
	term.Expect("no line of api, db matched --grep 'no such words' -i")

	// Summary.
	openLogs("Summary")
	term.Expect("RESTARTS")
	term.Expect("api — 1 error line(s)")
	term.Expect("[ERROR] second line")
	term.Expect("stackpilot logs --summary")

	term.Expect("What do you want to do?")
	term.Send("Quit", itest.KeyEnter)
	if code := term.Wait(15 * time.Second); code != 0 {
		t.Fatalf("Quit: exit %d\n%s", code, term.Screen())
	}
}
