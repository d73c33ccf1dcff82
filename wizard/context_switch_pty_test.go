package wizard_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stackpilot/stackpilot/internal/itest"
)

// The menu switches docker context for the rest of the session: it lists
// the contexts of the docker CLI's store, the header then says where the
// menu acts, the jobs act there (a context whose engine is not there fails
// naming its socket), and the equivalent commands carry --context; switching
// back to default finds the stack running again.
func TestIntegrationMenuSwitchesDockerContext(t *testing.T) {
	itest.Require(t)
	t.Parallel()
	p := itest.NewProject(t, "services:\n  api:\n    image: stackpilot-fixture:latest\n    command: [\"wait\"]\n", nil)
	p.Compose("up", "-d")
	cfg := remoteDockerConfig(t)
	nowhere := filepath.Join(t.TempDir(), "nothing.sock")
	dockerWith(t, []string{"DOCKER_CONFIG=" + cfg}, "context", "create", "elsewhere", "--docker", "host=unix://"+nowhere)
	if _, err := os.Stat(filepath.Join(cfg, "contexts")); err != nil {
		t.Fatal(err)
	}

	term := itest.StartTerminal(t, p.Dir, []string{"DOCKER_CONFIG=" + cfg, "NO_COLOR=1"})
	term.Expect("What do you want to do?")
	if term.ScreenContains(" · on ") {
		t.Errorf("the default socket needs no saying in the header:\n%s", term.Screen())
	}
	term.Expect("Quit")
	term.Send("Docker context", itest.KeyEnter)
	term.Expect("Which docker context should stackpilot act on?")
	term.Expect("Back")
	term.Send("elsewhere", itest.KeyEnter)
	term.Expect("acting on docker context elsewhere (unix://" + nowhere + ") for the rest of this session")
	term.Expect("Equivalent command: stackpilot --context elsewhere")
	term.Expect("on elsewhere (unix://" + nowhere + ")")
	term.Expect("Quit")

	// Status now asks the context's engine, which is not there.
	term.Send("Status", itest.KeyEnter)
	term.Expect(nowhere)
	term.Expect("Equivalent command: stackpilot --context elsewhere status")
	term.Expect("Quit")

	// Back to default: the stack is there, running.
	term.Send("Docker context", itest.KeyEnter)
	term.Expect("Back")
	term.Send("default", itest.KeyEnter)
	term.Expect("Equivalent command: stackpilot --context default")
	term.Expect("Quit")
	term.Send("Status", itest.KeyEnter)
	term.Expect("running")
	term.Expect("Equivalent command: stackpilot --context default status")
	term.Expect("Quit")
	time.Sleep(300 * time.Millisecond)
	term.Send("Quit", itest.KeyEnter)
	if code := term.Wait(10 * time.Second); code != 0 {
		t.Fatalf("Quit: exit %d\n%s", code, term.Screen())
	}
	if !strings.Contains(term.Raw(), "on elsewhere") {
		t.Errorf("the header never named the context")
	}
}
