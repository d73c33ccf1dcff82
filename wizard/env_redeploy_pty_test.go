package wizard_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stackpilot/stackpilot/internal/itest"
)

// A person changes a value from the Environment menu; the menu names the
// service that uses it, offers to redeploy it, and after "yes" the running
// container has the new value — the deploy flow with its plan and confirm.
func TestIntegrationEnvMenuRedeploysTheUsers(t *testing.T) {
	itest.Require(t)
	t.Parallel() // its own project
	p := itest.NewProject(t, `
services:
  app:
    image: stackpilot-busybox:latest
    {{idle}}
    environment:
      GREETING: ${GREETING}
    {{healthy}}
  other:
    image: stackpilot-busybox:latest
    {{idle}}
`, map[string]string{".env": "GREETING=hello"})
	if res := p.Run("deploy"); res.Code != 0 {
		t.Fatalf("first deploy: exit %d\n%s", res.Code, res.Combined())
	}
	otherBefore := p.ContainerID("other")

	term := itest.StartTerminal(t, p.Dir, nil)
	term.Expect("What do you want to do?")
	term.Send("Environment", itest.KeyEnter)
	term.Expect("Pick a key to change")
	term.Send("GREETING", itest.KeyEnter)
	term.Expect("Change the value")
	term.Send(itest.KeyEnter)
	term.Expect("New value for GREETING")
	answerCursorQuery(term)
	term.Send("\x15") // Ctrl-U: clear the default
	term.SendLine("bonjour")
	term.Expect("Write this change?")
	answerConfirm(term, itest.KeyEnter)
	term.Expect("GREETING is used by service app")
	term.Expect("Redeploy app now")
	answerConfirm(term, itest.KeyEnter)
	term.Expect("Deploy now?")
	screen := term.Screen()
	for _, want := range []string{"recreate", "stackpilot deploy app --no-build --yes"} {
		if !strings.Contains(screen, want) {
			t.Errorf("the plan lacks %q:\n%s", want, screen)
		}
	}
	answerConfirm(term, itest.KeyEnter)
	expectWithin(t, term, "Deployed", 2*time.Minute)
	term.Expect("What do you want to do?")
	term.Send("Quit", itest.KeyEnter)
	if code := term.Wait(20 * time.Second); code != 0 {
		t.Fatalf("Quit: exit %d\n%s", code, term.Screen())
	}

	env := itest.Inspect(t, p.ContainerID("app"))["Config"].(map[string]any)["Env"].([]any)
	found := false
	for _, e := range env {
		if e == "GREETING=bonjour" {
			found = true
		}
	}
	if !found {
		t.Errorf("the redeployed app has env %v, want GREETING=bonjour", env)
	}
	if p.ContainerID("other") != otherBefore {
		t.Error("a service that does not use the key was recreated")
	}
}
