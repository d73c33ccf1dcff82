package wizard_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stackpilot/stackpilot/internal/itest"
)

const hintService = `
services:
  app:
    image: stackpilot-busybox:latest
    {{idle}}
    {{healthy}}
    environment:
      GREETING: ${GREETING:-none}
    volumes: ["data:/srv"]
volumes:
  data:
`

// hintAfter is the command a hint prints: the text after label on the line
// that has it, up to until ("" for the line's end).
func hintAfter(t *testing.T, out, label, until string) string {
	t.Helper()
	i := strings.Index(out, label)
	if i < 0 {
		t.Fatalf("no %q in:\n%s", label, out)
	}
	line, _, _ := strings.Cut(out[i+len(label):], "\n")
	if until != "" {
		line, _, _ = strings.Cut(line, until)
	}
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, "stackpilot ") {
		t.Fatalf("the hint after %q is not a stackpilot command: %q", label, line)
	}
	return line
}

// pasteHint runs a hint the way a person pastes it into a shell in another
// directory (stackpilot being the binary under test), without a terminal.
func pasteHint(t *testing.T, hint, dir string) itest.Result {
	t.Helper()
	cmd := exec.Command("sh", "-c", "'"+itest.Binary(t)+"'"+strings.TrimPrefix(hint, "stackpilot"))
	cmd.Dir = dir
	cmd.Env = itest.BaseEnv()
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return itest.Result{Stdout: out.String(), Stderr: errOut.String(), Code: code}
}

// shellWords splits a command as sh would, for the quoting stackpilot's
// hints use: plain words, single-quoted words, and backslash escapes.
func shellWords(s string) []string {
	var words []string
	var cur strings.Builder
	inWord, quoted := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quoted && c == '\'':
			quoted = false
		case quoted:
			cur.WriteByte(c)
		case c == '\'':
			quoted, inWord = true, true
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		case c == ' ':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

func greetingOf(t *testing.T, p *itest.Project) string {
	t.Helper()
	for _, e := range itest.Inspect(t, p.ContainerID("app"))["Config"].(map[string]any)["Env"].([]any) {
		if v, ok := strings.CutPrefix(e.(string), "GREETING="); ok {
			return v
		}
	}
	return ""
}

// Every follow-up hint the commands print works copy-pasted into a shell in
// another directory: for a project found by searching upward from a
// subdirectory, and for one given with -f (a file of another name), -p and
// --env-file, all relative to where the command ran.
func TestIntegrationHintsWorkFromAnotherDirectory(t *testing.T) {
	itest.Require(t)
	t.Parallel()
	elsewhere := t.TempDir()
	p := itest.NewProject(t, hintService, map[string]string{".env": "GREETING=hello"})
	sub := filepath.Join(p.Dir, "sub", "dir")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) itest.Result { return itest.Run(t, sub, nil, args...) }
	paste := func(what, hint string) itest.Result {
		t.Helper()
		res := pasteHint(t, hint, elsewhere)
		if res.Code != 0 {
			t.Fatalf("%s — %q from another directory: exit %d\n%s", what, hint, res.Code, res.Combined())
		}
		return res
	}

	// logs and status before anything runs: "start the stack: … deploy",
	// "bring it up with: … deploy" (the second deploy changes nothing)
	logsRes, res := run("logs"), run("status")
	paste("logs' hint", hintAfter(t, logsRes.Stderr, "start the stack: ", ""))
	paste("status's hint", hintAfter(t, res.Stderr, "bring it up with: ", ""))
	if greetingOf(t, p) != "hello" {
		t.Fatal("the hinted deploy did not run the app")
	}
	// start after a down: "deploy first: … deploy app"
	if r := run("down"); r.Code != 0 {
		t.Fatalf("down: %s", r.Combined())
	}
	res = run("start", "app")
	paste("start's hint", hintAfter(t, res.Stderr, "deploy first: ", ""))

	// backups: "create one with", "check it with", "undo with"
	res = run("backup", "list")
	paste("list's hint", hintAfter(t, res.Stderr, "create one with: ", ""))
	res = run("backup", "create")
	paste("create's hint", hintAfter(t, res.Stderr, "check it with: ", ""))
	res = run("backup", "restore", "--latest", "--yes")
	if res.Code != 0 {
		t.Fatalf("restore: %s", res.Combined())
	}
	undo := hintAfter(t, res.Stderr, "undo with: ", " (the safety backup")
	// Without --yes the hinted restore asks, as it should: paste it into a terminal.
	words := shellWords(undo)
	term := itest.StartTerminal(t, elsewhere, nil, words[1:]...)
	term.Expect(`to confirm`)
	answerCursorQuery(term)
	term.SendLine(p.Name)
	if code := term.Wait(3 * time.Minute); code != 0 {
		t.Fatalf("%q in a terminal elsewhere: exit %d\n%s", undo, code, term.Screen())
	}

	// env: "… env undo restores the previous version", "until redeployed: … deploy app"
	res = run("env", "set", "GREETING=bonjour")
	paste("env set's redeploy hint", hintAfter(t, res.Stderr, "until redeployed: ", ""))
	if g := greetingOf(t, p); g != "bonjour" {
		t.Errorf("after the hinted redeploy GREETING=%q", g)
	}
	paste("env set's undo hint", hintAfter(t, res.Stderr, " · ", " restores the previous version"))
	if b, _ := os.ReadFile(filepath.Join(p.Dir, ".env")); !strings.Contains(string(b), "GREETING=hello") {
		t.Errorf("the hinted undo did not restore .env:\n%s", b)
	}

	// -f with another name, -p, --env-file, relative to where the command ran:
	// stack.yml says something else than compose.yaml beside it, prod.env
	// than .env, so a hint that lost one of them shows.
	q := itest.NewProject(t, hintService, nil)
	compose, _ := os.ReadFile(filepath.Join(q.Dir, "compose.yaml"))
	q.WriteFile("stack.yml", strings.Replace(string(compose), "${GREETING:-none}", "stack-${GREETING:-none}", 1))
	q.WriteFile("prod.env", "GREETING=prod\n")
	globals := []string{"-f", "stack.yml", "-p", q.Name, "--env-file", "prod.env"}
	runQ := func(args ...string) itest.Result { return itest.Run(t, q.Dir, nil, append(globals, args...)...) }
	if r := runQ("deploy"); r.Code != 0 {
		t.Fatalf("deploy with -f/-p/--env-file: %s", r.Combined())
	}
	res = runQ("env", "set", "GREETING=staging")
	hint := hintAfter(t, res.Stderr, "until redeployed: ", "")
	for _, want := range []string{"-C " + q.Dir, "-f " + filepath.Join(q.Dir, "stack.yml"), "-p " + q.Name, "--env-file " + filepath.Join(q.Dir, "prod.env")} {
		if !strings.Contains(hint, want) {
			t.Errorf("hint %q lacks %q", hint, want)
		}
	}
	paste("env set's redeploy hint with -f/-p/--env-file", hint)
	if g := greetingOf(t, q); g != "stack-staging" {
		t.Errorf("after the hinted redeploy GREETING=%q, want stack.yml's text with prod.env's value", g)
	}
	res = runQ("backup", "create")
	paste("create's hint with -f/-p/--env-file", hintAfter(t, res.Stderr, "check it with: ", ""))

	// From a subdirectory with its own .env, which Compose reads first (its
	// values win over the project directory's): the hint names both env
	// files, so pasted elsewhere it deploys the value the subdirectory gave.
	// (Compose v1 reads one env file: stackpilot refuses to deploy such a
	// project with it, saying so.)
	if itest.Variant() != "v2" {
		return
	}
	o := itest.NewProject(t, hintService, map[string]string{".env": "GREETING=root\n"})
	o.WriteFile("own/.env", "GREETING=own\n")
	res = itest.Run(t, filepath.Join(o.Dir, "own"), nil, "status")
	paste("status's hint from a subdirectory with its own .env", hintAfter(t, res.Stderr, "bring it up with: ", ""))
	if g := greetingOf(t, o); g != "own" {
		t.Errorf("after the hinted deploy GREETING=%q, want the subdirectory's own", g)
	}
}
