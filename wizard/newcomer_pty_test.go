package wizard_test

import (
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stackpilot/stackpilot/internal/itest"
)

// portService is a service published on ${API_PORT}: a value that is not
// a port makes Compose refuse the whole project.
const portService = `
services:
  api:
    image: stackpilot-busybox:latest
    {{idle}}
    {{healthy}}
    ports: ["127.0.0.1:${API_PORT:-8081}:8080"]
`

func portProject(t *testing.T) (*itest.Project, string) {
	t.Helper()
	return portProjectOf(t, portService)
}

// portProjectOf is a project of compose (a service api published on
// ${API_PORT}), deployed, with API_PORT a free port on line 2 of .env.
func portProjectOf(t *testing.T, compose string) (*itest.Project, string) {
	t.Helper()
	port := strconv.Itoa(itest.FreePort(t))
	p := itest.NewProject(t, compose, map[string]string{".env": "# the published port\nAPI_PORT=" + port})
	if res := p.Run("deploy"); res.Code != 0 {
		t.Fatalf("first deploy: exit %d\n%s", res.Code, res.Combined())
	}
	return p, port
}

func publishedPort(t *testing.T, p *itest.Project) string {
	t.Helper()
	out, err := exec.Command("docker", "port", p.ContainerID("api"), "8080/tcp").Output()
	if err != nil {
		t.Fatalf("docker port: %v", err)
	}
	_, port, _ := strings.Cut(strings.TrimSpace(strings.Split(string(out), "\n")[0]), "127.0.0.1:")
	return port
}

// A .env value that breaks the compose file is named by its line on every
// screen — status, deploy, doctor (which marks .env failed), the menu's
// header — and the menu offers the way back: the deploy cannot start and
// says so, and "Undo the last .env change" puts the value back and
// redeploys on the project as it is now.
func TestIntegrationEnvValueBreakingComposeIsNamedAndUndone(t *testing.T) {
	itest.Require(t)
	t.Parallel()
	p, port := portProject(t)

	set := p.Run("env", "set", "API_PORT=abc")
	if set.Code != 0 || !strings.Contains(set.Stderr, "API_PORT=abc is not a port") || !strings.Contains(set.Stderr, `services.api.ports[0]`) {
		t.Fatalf("env set of a non-port: exit %d, want 0 with a warning\n%s", set.Code, set.Stderr)
	}
	const line = ".env line 2: API_PORT=abc is not a port"
	for _, args := range [][]string{{"status"}, {"deploy"}} {
		res := p.Run(args...)
		if res.Code != 1 || !strings.Contains(res.Stderr, line) || !strings.Contains(res.Stderr, "-C "+p.Dir+" env undo") {
			t.Errorf("%v: exit %d, want 1 naming the line and the undo\n%s", args, res.Code, res.Stderr)
		}
	}
	doc := p.Run("doctor")
	if doc.Code != 1 || !strings.Contains(doc.Stdout, "✗ .env file") || !strings.Contains(doc.Stdout, line) || strings.Contains(doc.Stdout, "at the place named above") {
		t.Errorf("doctor: exit %d\n%s", doc.Code, doc.Stdout)
	}

	term := itest.StartTerminal(t, p.Dir, nil)
	term.Expect("What do you want to do?")
	term.Expect("Quit")
	screen := term.Screen()
	if !strings.Contains(screen, line) || !strings.Contains(screen, "Undo the last .env change (set API_PORT") || !strings.Contains(screen, "Change API_PORT in .env") {
		t.Fatalf("the menu does not name the line and offer the undo:\n%s", screen)
	}
	term.Send("Deploy", itest.KeyEnter)
	term.Expect("The deploy cannot start. What now?")
	term.Expect("Back to the menu")
	if s := term.Screen(); !strings.Contains(s, "Undo the last .env change (set API_PORT") || !strings.Contains(s, "and deploy again") {
		t.Errorf("the deploy that cannot start does not offer the undo:\n%s", s)
	}
	term.Send(itest.KeyDown, itest.KeyEnter)
	term.Expect("What do you want to do?")
	term.Expect("Quit")
	term.Send("Undo the last", itest.KeyEnter)
	term.Expect("Restore this version?")
	answerConfirm(term, "y", itest.KeyEnter)
	term.Expect("Redeploy api now")
	answerConfirm(term, itest.KeyEnter)
	term.Expect("Deploy now?")
	answerConfirm(term, itest.KeyEnter)
	expectWithin(t, term, "Deployed", 2*time.Minute)
	quitWithPortBack(t, term, p, port)
}

// quitWithPortBack leaves the menu after an undo and checks that .env and
// the running api are back on port.
func quitWithPortBack(t *testing.T, term *itest.Terminal, p *itest.Project, port string) {
	t.Helper()
	term.Expect("What do you want to do?")
	term.Expect("Quit")
	if s := term.Screen(); !strings.Contains(s, "project "+p.Name) {
		t.Errorf("after the undo the header does not show the project:\n%s", s)
	}
	term.Send("Quit", itest.KeyEnter)
	if code := term.Wait(20 * time.Second); code != 0 {
		t.Fatalf("Quit: exit %d\n%s", code, term.Screen())
	}
	if b, _ := os.ReadFile(filepath.Join(p.Dir, ".env")); !strings.Contains(string(b), "API_PORT="+port+"\n") {
		t.Errorf(".env after the undo:\n%s", b)
	}
	if got := publishedPort(t, p); got != port {
		t.Errorf("api publishes %s after the undo, want %s", got, port)
	}
}

// changeInEnvMenu changes key to value from the main menu's Environment
// job, up to "Write this change?".
func changeInEnvMenu(term *itest.Terminal, key, value string) {
	term.Expect("What do you want to do?")
	term.Send("Environment", itest.KeyEnter)
	term.Expect("Pick a key to change")
	term.Send(key, itest.KeyEnter)
	term.Expect("Change the value")
	term.Send(itest.KeyEnter)
	term.Expect("New value for " + key)
	answerCursorQuery(term)
	term.Send("\x15") // Ctrl-U: clear the default
	term.SendLine(value)
	term.Expect("Write this change?")
}

// redeployAfterEnvEdit starts the menu on p, changes key to value in the
// Environment job, writes it and accepts the redeploy it offers, up to
// "Deploy now?" answered yes.
func redeployAfterEnvEdit(t *testing.T, p *itest.Project, key, value string) *itest.Terminal {
	t.Helper()
	term := itest.StartTerminal(t, p.Dir, nil)
	changeInEnvMenu(term, key, value)
	answerConfirm(term, itest.KeyEnter)
	term.Expect("Redeploy api now")
	answerConfirm(term, itest.KeyEnter)
	term.Expect("Deploy now?")
	answerConfirm(term, itest.KeyEnter)
	return term
}

// A deploy that fails right after an .env edit from the menu (the new port
// is taken) offers undoing that edit and deploying again first; doing so
// deploys the project as re-read after the undo: api is back on its port.
func TestIntegrationDeployFailingAfterEnvEditOffersTheUndoFirst(t *testing.T) {
	itest.Require(t)
	t.Parallel()
	p, port := portProject(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	taken := strconv.Itoa(busy.Addr().(*net.TCPAddr).Port)

	term := redeployAfterEnvEdit(t, p, "API_PORT", taken)
	expectWithin(t, term, "The deploy failed. What now?", 2*time.Minute)
	term.Expect("Back to the menu")
	if s := term.Screen(); !strings.Contains(s, "> Undo the .env change just made (API_PORT) and deploy again") {
		t.Fatalf("the undo is not the first choice:\n%s", s)
	}
	term.Send(itest.KeyEnter)
	term.Expect("Deploy now?")
	answerConfirm(term, itest.KeyEnter)
	expectWithin(t, term, "Deployed", 2*time.Minute)
	quitWithPortBack(t, term, p, port)
}

// slowPortService is portService whose containers turn healthy only after
// about 6 s, so a deploy spends that long in its health gate.
const slowPortService = `
services:
  api:
    image: stackpilot-busybox:latest
    command: ["sh", "-c", "trap 'exit 0' TERM; i=0; while :; do sleep 0.2; i=$$((i+1)); [ $$i = 30 ] && touch /ok; done"]
    healthcheck: {test: ["CMD", "test", "-f", "/ok"], interval: 1s, retries: 60}
    ports: ["127.0.0.1:${API_PORT:-8081}:8080"]
`

// A deploy that follows an .env edit in the menu and is cancelled (Ctrl-C
// while it waits for health) offers, besides Deploy again, undoing that edit
// and deploying again — a rollback goes back to images, never to .env
// values. Doing so puts api back on its port.
func TestIntegrationDeployCancelledAfterEnvEditOffersTheUndo(t *testing.T) {
	itest.Require(t)
	t.Parallel()
	p, port := portProjectOf(t, slowPortService)
	term := redeployAfterEnvEdit(t, p, "API_PORT", strconv.Itoa(itest.FreePort(t)))
	expectWithin(t, term, "waiting", 2*time.Minute)
	time.Sleep(300 * time.Millisecond)
	term.Send(itest.KeyCtrlC)
	expectWithin(t, term, "The deploy was cancelled. What now?", 2*time.Minute)
	term.Expect("Back to the menu")
	screen := term.Screen()
	for _, want := range []string{"Deploy again — finish what was cancelled", "Undo the .env change just made (API_PORT) and deploy again"} {
		if !strings.Contains(screen, want) {
			t.Fatalf("the cancel screen lacks %q:\n%s", want, screen)
		}
	}
	term.Send("Undo", itest.KeyEnter)
	term.Expect("Deploy now?")
	answerConfirm(term, itest.KeyEnter)
	expectWithin(t, term, "Deployed", 2*time.Minute)
	quitWithPortBack(t, term, p, port)
}

// Started outside any project, the menu offers to open one (the recent
// ones and those found below), to create one from the bundled starter, or
// Doctor — not the jobs that need a stack. Opening a recent project runs
// the menu on it, with -C in its equivalents; the starter deploys and
// serves its page.
func TestIntegrationMenuOutsideAProject(t *testing.T) {
	itest.Require(t)
	t.Parallel()
	cache := []string{"STACKPILOT_CACHE_DIR=" + t.TempDir()}
	known := itest.NewProject(t, "services:\n  api:\n    image: stackpilot-busybox:latest\n    {{idle}}\n", nil)
	term := itest.StartTerminal(t, known.Dir, cache)
	term.Expect(known.Name + "\x1b[0m · 1 services")
	term.Expect("Quit")
	term.Send("Quit", itest.KeyEnter)
	term.Wait(20 * time.Second)

	here := t.TempDir()
	if err := os.MkdirAll(filepath.Join(here, "apps", "shop"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(here, "apps", "shop", "compose.yaml"), []byte("services:\n  web: {image: x}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	term = itest.StartTerminal(t, here, cache)
	term.Expect("What do you want to do?")
	term.Expect("Quit")
	menu := term.Screen()
	for _, want := range []string{"no compose project in " + here, "Open a project", "Create a project from the example", "Doctor"} {
		if !strings.Contains(menu, want) {
			t.Errorf("the menu outside a project lacks %q:\n%s", want, menu)
		}
	}
	for _, not := range []string{"Deploy", "Status", "Backups"} {
		if strings.Contains(menu, not) {
			t.Errorf("the menu outside a project offers %q:\n%s", not, menu)
		}
	}
	term.Send("Open", itest.KeyEnter)
	term.Expect("Which project?")
	term.Expect("Back")
	if s := term.Screen(); !strings.Contains(s, known.Name+" — "+known.Dir) || !strings.Contains(s, "./apps/shop/compose.yaml") {
		t.Fatalf("the picker lacks the recent project or the one below:\n%s", s)
	}
	term.Send(known.Name, itest.KeyEnter)
	term.Expect("the menu now runs on " + known.Dir)
	term.Expect(known.Name + "\x1b[0m · 1 services")
	term.Expect("Quit")
	term.Send("Status", itest.KeyEnter)
	term.Expect("stackpilot -C " + known.Dir + " status")
	if s := term.Screen(); !strings.Contains(s, "Equivalent command: stackpilot -C "+known.Dir+" status") {
		t.Errorf("the equivalent does not name the opened project:\n%s", s)
	}

	// Create a project from the starter, with the busybox image of this machine.
	name := itest.UniqueName("starter")
	t.Cleanup(func() {
		// the starter's containers, network and volume, by the project's name
		_ = exec.Command("sh", "-c", "docker rm -f -v $(docker ps -aq --filter label=com.docker.compose.project="+name+"); "+
			"docker network rm "+name+"_default; docker volume rm "+name+"_site").Run()
	})
	term.Expect("What do you want to do?")
	term.Expect("Quit")
	term.Send("Open another project", itest.KeyEnter)
	term.Expect("Which project?")
	term.Expect("Back")
	term.Send("Back", itest.KeyEnter)
	term.Expect("What do you want to do?")
	term.Expect("Quit")
	term.Send("Quit", itest.KeyEnter)
	term.Wait(20 * time.Second)

	term = itest.StartTerminal(t, here, cache)
	term.Expect("What do you want to do?")
	term.Expect("Quit")
	term.Send("Create", itest.KeyEnter)
	term.Expect("Directory for the new project")
	answerCursorQuery(term)
	term.Send("\x15")
	term.SendLine(name)
	term.Expect("Which image should the web service run?")
	term.Expect("Another image")
	term.Send("stackpilot-busybox:latest", itest.KeyEnter)
	dir := filepath.Join(here, name)
	term.Expect("created " + dir)
	term.Expect(name + "\x1b[0m · 1 services")
	term.Expect("Quit")
	term.Send("Deploy", itest.KeyEnter)
	term.Expect("Which services do you want to deploy?")
	term.Send(itest.KeyEnter)
	term.Expect("Pull newer images")
	answerConfirm(term, itest.KeyEnter)
	term.Expect("Deploy now?")
	if s := term.Screen(); !strings.Contains(s, "stackpilot -C "+dir+" deploy --yes") {
		t.Errorf("the equivalent does not name the new project's directory:\n%s", s)
	}
	answerConfirm(term, itest.KeyEnter)
	expectWithin(t, term, "Deployed", 2*time.Minute)
	term.Expect("Quit")
	term.Send("Quit", itest.KeyEnter)
	if code := term.Wait(20 * time.Second); code != 0 {
		t.Fatalf("Quit: exit %d\n%s", code, term.Screen())
	}
	for _, f := range []string{"compose.yaml", ".env", ".env.example"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("the starter lacks %s: %v", f, err)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, ".env")); err == nil && fi.Mode().Perm() != 0o600 {
		t.Errorf(".env mode %v, want 0600", fi.Mode().Perm())
	}
	var port string
	b, _ := os.ReadFile(filepath.Join(dir, ".env"))
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "WEB_PORT="); ok {
			port = v
		}
	}
	resp, err := http.Get("http://127.0.0.1:" + port + "/")
	if err != nil {
		t.Fatalf("the starter's page: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("the starter's page: %s", resp.Status)
	}
	// Both projects are remembered, the newest first.
	var recent []struct{ Dir string }
	rb, _ := os.ReadFile(filepath.Join(strings.TrimPrefix(cache[0], "STACKPILOT_CACHE_DIR="), "recent-projects.json"))
	if err := json.Unmarshal(rb, &recent); err != nil || len(recent) < 2 || recent[0].Dir != dir {
		t.Errorf("recent projects: %v %s", err, rb)
	}
}
