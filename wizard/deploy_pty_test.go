package wizard_test

import (
	"strings"

	expect "github.com/Netflix/go-expect"
	"testing"
	"time"

	"github.com/stackpilot/stackpilot/internal/itest"
)

// A person deploys from the menu: Deploy → all services → rebuild → no pull
// → the plan and the equivalent command → confirm → a live line per service.
// The new image crashes: the report shows why, and "Roll back" really
// brings back the previous image. Then Quit.
func TestIntegrationDeployWizardFailureAndRollback(t *testing.T) {
	itest.Require(t)
	t.Parallel() // its own project; most of the time is spent waiting on Compose
	p := itest.NewProject(t, builtStack, nil)
	cleanupImages(t, p)
	p.WriteFile("Dockerfile", appDockerfile(p, "1", `["serve=:8080"]`))
	if res := p.Run("deploy"); res.Code != 0 {
		t.Fatalf("first deploy: exit %d\n%s", res.Code, res.Combined())
	}
	good := containerImage(t, p, "app")
	p.WriteFile("Dockerfile", appDockerfile(p, "2", `["print=v2 cannot start", "exit=1"]`))

	term := itest.StartTerminal(t, p.Dir, nil)
	term.Expect("What do you want to do?")
	term.Send("Deploy — build", itest.KeyEnter)
	term.Expect("Which services do you want to deploy?")
	term.Expect("All services (2)")
	term.Send(itest.KeyEnter)
	term.Expect("Rebuild the images")
	answerConfirm(term, itest.KeyEnter) // yes (the default)
	term.Expect("Pull newer images")
	answerConfirm(term, itest.KeyEnter) // no (the default)
	term.Expect("Deploy now?")
	screen := term.Screen()
	for _, want := range []string{"Deploy plan for " + p.Name, "app", "build", "worker", "leave — up to date", "runs:", "Equivalent command: stackpilot deploy --yes"} {
		if !strings.Contains(screen, want) {
			t.Errorf("the plan summary lacks %q:\n%s", want, screen)
		}
	}
	answerConfirm(term, itest.KeyEnter)
	expectWithin(t, term, "The deploy failed. What now?", 3*time.Minute) // a build on a busy machine can be slow
	term.Expect("Back to the menu")
	screen = term.Screen()
	for _, want := range []string{"✓ worker", "✗ app", "exited with status 1", "exit code 1", "v2 cannot start", "Roll back app"} {
		if !strings.Contains(screen, want) {
			t.Errorf("the failure screen lacks %q:\n%s", want, screen)
		}
	}
	term.Send(itest.KeyDown, itest.KeyEnter) // Roll back app to the images before this deploy
	expectWithin(t, term, "Rolled back", 3*time.Minute)
	term.Expect("stackpilot rollback app --yes")
	term.Expect("What do you want to do?")
	if got := containerImage(t, p, "app"); got != good {
		t.Fatalf("after Roll back app runs %s, want %s", got, good)
	}
	if s := stateOf(t, p, "app"); s != "running" {
		t.Fatalf("app is %s after the rollback", s)
	}
	term.Send("Quit", itest.KeyEnter)
	if code := term.Wait(20 * time.Second); code != 0 {
		t.Fatalf("Quit: exit %d\n%s", code, term.Screen())
	}
	recs := historyOf(t, p)
	if len(recs) != 3 || recs[0].Op != "rollback" || recs[1].Result != "failed" {
		t.Fatalf("history %+v", recs)
	}
}

// answerConfirm answers a survey Confirm prompt. Before reading a key it asks
// the terminal twice where the cursor is (ESC [ 6 n); the test terminal
// answers by itself, as a real one does. Typing before both questions were
// asked would mix the keys into the answers, so wait for them first.
func answerConfirm(term *itest.Terminal, keys ...string) {
	for i := 0; i < 2; i++ {
		term.Expect("\x1b[6n")
	}
	term.Send(keys...)
}

func expectWithin(t *testing.T, term *itest.Terminal, s string, d time.Duration) {
	t.Helper()
	if _, err := term.Console.Expect(expect.String(s), expect.WithTimeout(d)); err != nil {
		t.Fatalf("waiting %s for %q: %v\n--- screen ---\n%s\n--- raw tail ---\n%q", d, s, err, term.Screen(), tailOf(term.Raw(), 1500))
	}
}

func tailOf(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
