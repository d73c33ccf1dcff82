package wizard

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackpilot/stackpilot/steps"
)

const envWizardCompose = `services:
  api:
    image: stackpilot-busybox:latest
    environment:
      DB_HOST: ${DB_HOST}
      API_TOKEN: ${API_TOKEN:-none}
  db:
    image: stackpilot-busybox:latest
    environment:
      DB_HOST: ${DB_HOST}
`

const envWizardDotEnv = "# settings\nDB_HOST=localhost # primary\nLOG_LEVEL=info\n"

type envRun struct {
	dir                 string
	in, out, errOut     *bytes.Buffer
	f                   *Factory
	err                 error
	stdoutANSI, errANSI bool
}

func envProject(t *testing.T, dotenv string) string {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(envWizardCompose), 0o644)
	if dotenv != "" {
		os.WriteFile(filepath.Join(dir, ".env"), []byte(dotenv), 0o644)
	}
	return dir
}

// runEnvCmd runs stackpilot with args in dir, on in-memory streams that
// are terminals when tty, answering prompts from p (nil: none expected).
func runEnvCmd(t *testing.T, dir string, tty bool, p *steps.ScriptedPrompter, stdin string, args ...string) *envRun {
	t.Helper()
	ios, in, out, errOut := steps.Test()
	in.WriteString(stdin)
	ios.SetTTY(tty, tty, tty)
	ios.NoColor = true // assertions read plain text; color is tested by the pty test
	f := NewFactory(ios, "test", nil)
	f.WorkDir = dir
	f.Environ = []string{"PATH=/usr/bin:/bin"}
	if p != nil {
		f.Prompter = p.Prompter()
	}
	cmd := NewRootCmd(f)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return &envRun{dir: dir, in: in, out: out, errOut: errOut, f: f, err: err}
}

func (r *envRun) file(t *testing.T) string {
	t.Helper()
	b, _ := os.ReadFile(filepath.Join(r.dir, ".env"))
	return string(b)
}

func TestEnvSetWizardPromptsDiffsConfirms(t *testing.T) {
	dir := envProject(t, envWizardDotEnv)
	p := steps.NewScriptedPrompter(t).
		Select("Which key do you want to set?", "DB_HOST").
		Input("New value for DB_HOST", "db.internal").
		Confirm("Write this change?", true)
	r := runEnvCmd(t, dir, true, p, "", "env", "set")
	if r.err != nil {
		t.Fatalf("%v\n%s", r.err, r.errOut)
	}
	if got := r.file(t); got != "# settings\nDB_HOST=db.internal # primary\nLOG_LEVEL=info\n" {
		t.Errorf("file %q", got)
	}
	e := r.errOut.String()
	for _, want := range []string{
		"- 2  DB_HOST=localhost # primary",
		"+ 2  DB_HOST=db.internal # primary",
		"DB_HOST is used by services api, db",
		// a hint works from anywhere: it names the project directory
		"stackpilot -C " + dir + " deploy api db",
		// the equivalent is what to type here, in the project
		"Equivalent command: stackpilot env set DB_HOST=db.internal",
	} {
		if !strings.Contains(e, want) {
			t.Errorf("stderr lacks %q:\n%s", want, e)
		}
	}
	if r.out.Len() != 0 {
		t.Errorf("stdout carries progress: %q", r.out)
	}
}

func TestEnvSetWizardSecretIsHiddenAndNeverEchoed(t *testing.T) {
	const canary = "canary-wiz-5e1f"
	dir := envProject(t, envWizardDotEnv)
	p := steps.NewScriptedPrompter(t).
		Select("Which key do you want to set?", "+ Add a new key").
		Input("Name of the new key", "not a key").
		Input("Name of the new key", "API_TOKEN").
		Password("New value for API_TOKEN (hidden)", canary).
		Password("Type it again", canary+"typo").
		Password("New value for API_TOKEN (hidden)", canary).
		Password("Type it again", canary).
		Confirm("Write this change?", true)
	r := runEnvCmd(t, dir, true, p, "", "env", "set")
	if r.err != nil {
		t.Fatalf("%v\n%s", r.err, r.errOut)
	}
	if !strings.HasSuffix(r.file(t), "API_TOKEN="+canary+"\n") {
		t.Errorf("file %q", r.file(t))
	}
	all := r.out.String() + r.errOut.String()
	if strings.Contains(all, canary) {
		t.Errorf("the secret was shown:\n%s", all)
	}
	for _, want := range []string{"the two entries differ", "invalid .env key", "+ 4  API_TOKEN=********", "Equivalent command: stackpilot env set API_TOKEN --value-stdin", "API_TOKEN is used by service api"} {
		if !strings.Contains(all, want) {
			t.Errorf("output lacks %q:\n%s", want, all)
		}
	}
}

// A key whose value is built from a secret (DATABASE_URL=…${DB_PASSWORD}…)
// or holds a URL's credentials is masked by env list whatever it is called;
// changing it in a terminal asks for the new value hidden, never offers the
// old one (Compose's reading, the password interpolated) as the default, and
// never echoes the new one in the equivalent command.
func TestEnvSetWizardDerivedSecretIsHidden(t *testing.T) {
	const pw, redisPW, newPW = "canary-pw-71c2", "canary-redis-0b9e", "canary-new-5d3a"
	dir := envProject(t, "DB_PASSWORD="+pw+"\nDATABASE_URL=postgres://app:${DB_PASSWORD}@db/app\nREDIS_URL=redis://:"+redisPW+"@redis:6379/0\n")
	for _, k := range []string{"DATABASE_URL", "REDIS_URL"} {
		value := "postgres://app:" + newPW + "@db2/app"
		p := steps.NewScriptedPrompter(t).
			Password("New value for "+k+" (hidden)", value).
			Password("Type it again", value).
			Confirm("Write this change?", true)
		r := runEnvCmd(t, dir, true, p, "", "env", "set", k)
		if r.err != nil {
			t.Fatalf("%s: %v\n%s", k, r.err, r.errOut)
		}
		if !strings.Contains(r.file(t), k+"="+value+"\n") {
			t.Errorf("%s: file %q", k, r.file(t))
		}
		all := r.out.String() + r.errOut.String()
		for _, c := range []string{pw, redisPW, newPW} {
			if strings.Contains(all, c) {
				t.Errorf("%s: the secret %s was shown:\n%s", k, c, all)
			}
		}
		if !strings.Contains(all, "Equivalent command: stackpilot env set "+k+" --value-stdin") {
			t.Errorf("%s: equivalent command:\n%s", k, all)
		}
	}
}

func TestEnvWizardDeclineAndCtrlCChangeNothing(t *testing.T) {
	dir := envProject(t, envWizardDotEnv)
	p := steps.NewScriptedPrompter(t).
		Input("New value for LOG_LEVEL", "debug").
		Confirm("Write this change?", false)
	r := runEnvCmd(t, dir, true, p, "", "env", "set", "LOG_LEVEL")
	if r.err != nil || r.file(t) != envWizardDotEnv || !strings.Contains(r.errOut.String(), "nothing was changed") {
		t.Errorf("declined: %v %q\n%s", r.err, r.file(t), r.errOut)
	}
	p = steps.NewScriptedPrompter(t).Interrupt("password", "New value for API_TOKEN")
	r = runEnvCmd(t, dir, true, p, "", "env", "set", "API_TOKEN")
	if ExitCode(r.err) != ExitCancelled || r.file(t) != envWizardDotEnv {
		t.Errorf("Ctrl-C: exit %d, file %q", ExitCode(r.err), r.file(t))
	}
}

// TestEnvWithoutTerminal: no prompt, no escape codes, exit 2 naming the
// flag when an input is missing.
func TestEnvWithoutTerminal(t *testing.T) {
	dir := envProject(t, envWizardDotEnv)
	cases := []struct {
		args []string
		flag string
	}{
		{[]string{"env", "set"}, "KEY=VALUE"},
		{[]string{"env", "set", "DB_HOST"}, "DB_HOST=VALUE or --value-stdin"},
		{[]string{"env", "get"}, "pass KEY"},
		{[]string{"env", "unset"}, "pass KEY"},
		{[]string{"env"}, "pass a subcommand"},
		{[]string{"env", "set", "bad-key=1"}, "invalid .env key"},
		{[]string{"env", "set", "A", "B", "--value-stdin"}, "exactly one KEY"},
	}
	for _, c := range cases {
		r := runEnvCmd(t, dir, false, nil, "", c.args...)
		if ExitCode(r.err) != ExitUsage || !strings.Contains(Message(r.err), c.flag) {
			t.Errorf("%v: exit %d, %q; want exit 2 naming %q", c.args, ExitCode(r.err), Message(r.err), c.flag)
		}
	}
	// data flows without prompts or color
	r := runEnvCmd(t, dir, false, nil, "s3cret value\n", "env", "set", "DB_PASSWORD", "--value-stdin")
	if r.err != nil || !strings.Contains(r.file(t), "DB_PASSWORD='s3cret value'\n") {
		t.Fatalf("--value-stdin: %v %q", r.err, r.file(t))
	}
	for _, args := range [][]string{{"env", "list"}, {"env", "get", "DB_HOST"}, {"env", "set", "X=1"}, {"env", "check"}, {"env", "unset", "X"}, {"env", "undo", "--dry-run"}} {
		r := runEnvCmd(t, dir, false, nil, "", args...)
		if r.err != nil {
			t.Errorf("%v: %v", args, r.err)
		}
		if strings.Contains(r.out.String()+r.errOut.String(), "\x1b[") {
			t.Errorf("%v: escape codes without a terminal:\n%q", args, r.out.String()+r.errOut.String())
		}
	}
	r = runEnvCmd(t, dir, false, nil, "", "env", "get", "DB_HOST")
	if r.out.String() != "localhost\n" {
		t.Errorf("get: %q", r.out)
	}
	r = runEnvCmd(t, dir, false, nil, "", "env", "get", "NOPE")
	if ExitCode(r.err) != ExitFailure || !strings.Contains(Message(r.err), "NOPE is not set") {
		t.Errorf("get of a missing key: %d %v", ExitCode(r.err), r.err)
	}
}

func TestEnvMenuFlow(t *testing.T) {
	dir := envProject(t, envWizardDotEnv)
	p := steps.NewScriptedPrompter(t).
		Select("What do you want to do?", "Environment").
		Select("Pick a key to change, or an action", "LOG_LEVEL").
		Select("LOG_LEVEL:", "Remove LOG_LEVEL").
		Confirm("Remove LOG_LEVEL?", true).
		Select("What do you want to do?", "Environment").
		Select("Pick a key to change, or an action", "Undo the last change (unset LOG_LEVEL").
		Confirm("Restore this version?", true).
		Select("What do you want to do?", "Environment").
		Select("Pick a key to change, or an action", "Check .env").
		Select("What do you want to do?", "Quit")
	r := runEnvCmd(t, dir, true, p, "")
	if r.err != nil {
		t.Fatalf("%v\n%s", r.err, r.errOut)
	}
	if r.file(t) != envWizardDotEnv {
		t.Errorf("remove then undo: %q", r.file(t))
	}
	e := r.errOut.String()
	for _, want := range []string{"- 3  LOG_LEVEL=info", "Equivalent command: stackpilot env unset LOG_LEVEL", "restored", "Equivalent command: stackpilot env undo", "Equivalent command: stackpilot env check"} {
		if !strings.Contains(e, want) {
			t.Errorf("stderr lacks %q:\n%s", want, e)
		}
	}
	if strings.Contains(e, "Equivalent command: stackpilot\n") {
		t.Errorf("the menu printed an empty equivalent:\n%s", e)
	}
	if !strings.Contains(r.out.String(), "Checking") {
		t.Errorf("check output: %s", r.out)
	}
}

func TestEnvListJSONAndReveal(t *testing.T) {
	dir := envProject(t, "DB_PASSWORD=hunter2\nA=1\n")
	r := runEnvCmd(t, dir, false, nil, "", "env", "list", "--json")
	if r.err != nil || strings.Contains(r.out.String(), "hunter2") || !strings.Contains(r.out.String(), `"masked": true`) {
		t.Errorf("list --json: %v\n%s", r.err, r.out)
	}
	r = runEnvCmd(t, dir, false, nil, "", "env", "list", "--reveal")
	if !strings.Contains(r.out.String(), "hunter2") {
		t.Errorf("list --reveal: %s", r.out)
	}
	r = runEnvCmd(t, dir, false, nil, "", "env", "check", "--json")
	if ExitCode(r.err) != ExitFailure || !strings.Contains(r.out.String(), `"key": "DB_HOST"`) {
		t.Errorf("check --json with DB_HOST missing: %d\n%s", ExitCode(r.err), r.out)
	}
}

// From the menu, a change to a key services use offers their redeploy;
// declining leaves the command to run later and changes nothing else.
func TestEnvMenuOffersRedeployDeclined(t *testing.T) {
	dir := envProject(t, envWizardDotEnv)
	p := steps.NewScriptedPrompter(t).
		Select("What do you want to do?", "Environment").
		Select("Pick a key to change, or an action", "DB_HOST").
		Select("DB_HOST:", "Change the value").
		Input("New value for DB_HOST", "db.internal").
		Confirm("Write this change?", true).
		Confirm("Redeploy api, db now", false).
		Select("What do you want to do?", "Quit")
	r := runEnvCmd(t, dir, true, p, "")
	if r.err != nil {
		t.Fatalf("%v\n%s", r.err, r.errOut)
	}
	if !strings.Contains(r.file(t), "DB_HOST=db.internal # primary") {
		t.Errorf("file %q", r.file(t))
	}
	if e := r.errOut.String(); !strings.Contains(e, "until redeployed: stackpilot -C "+dir+" deploy api db") {
		t.Errorf("declining does not name the command:\n%s", e)
	}
}
