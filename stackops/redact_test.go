package stackops

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stackpilot/stackpilot/internal/itest"
)

// The stack's redactor knows the values of secret-looking variables of .env
// and the environment, and URL credentials in any value; it hides them in
// text, argv and streamed output, plus the value after a secret-looking flag.
func TestRedactor(t *testing.T) {
	dir := itest.WriteFiles(t, map[string]string{
		"compose.yaml": "services:\n  a:\n    image: x\nx-stackpilot:\n  env:\n    not_secret: [PUBLIC_TOKEN]\n",
		".env":         "DB_PASSWORD=hunter2-pw\nREDIS_URL=redis://:url-pass-9@r:6379\nPUBLIC_TOKEN=shown-token\nAUTH_ENABLED=true\nSHORT_TOKEN=abc\nLOG_LEVEL=debug-secretish\n",
	})
	st, err := Load(context.Background(), LoadOptions{ProjectDir: dir, Environ: []string{"GITHUB_TOKEN=ghp_from_shell", "PWD=/home/me/project"}})
	if err != nil {
		t.Fatal(err)
	}
	r := st.Redactor()
	for in, want := range map[string]string{
		"connect with hunter2-pw now":              "connect with ******** now",
		"redis pass url-pass-9 and ghp_from_shell": "redis pass ******** and ********",
		"shown-token stays; abc too; true too":     "shown-token stays; abc too; true too",
		"in /home/me/project with debug-secretish": "in /home/me/project with debug-secretish",
		"postgres://u:other@h/db":                  "postgres://********@h/db",
		"curl -H 'Authorization: Bearer xyz123'":   "curl -H 'Authorization: Bearer ********'",
	} {
		if got := r.Text(in); got != want {
			t.Errorf("Text(%q) = %q, want %q", in, got, want)
		}
	}
	args := r.Args([]string{"./notify.sh", "--token", "xoxb-literal", "--password=lit2", "--api-key", "k3y", "-v", "--channel", "ops", "hunter2-pw", "--no-token", "--", "x"})
	if got := strings.Join(args, " "); got != "./notify.sh --token ******** --password=******** --api-key ******** -v --channel ops ******** --no-token -- x" {
		t.Errorf("Args: %s", got)
	}
	if got := r.Command([]string{"psql", "postgres://app:hunter2-pw@db/app"}); got != "psql 'postgres://********@db/app'" {
		t.Errorf("Command: %s", got)
	}
	var out bytes.Buffer
	w := r.Writer(&out)
	for _, chunk := range []string{"line one hunt", "er2-pw here\nprogress 1\rprogress 2\rgh", "p_from_shell at the end"} {
		_, _ = w.Write([]byte(chunk))
	}
	w.Flush()
	if out.String() != "line one ******** here\nprogress 1\rprogress 2\r******** at the end" {
		t.Errorf("Writer: %q", out.String())
	}
}

// A hook asks for .env values with `env:`; they reach its environment, not
// its argv; a value set nowhere fails before it runs.
func TestHookEnv(t *testing.T) {
	st := loadDeployStack(t, "services:\n  a:\n    image: x\nx-stackpilot:\n  deploy:\n    post_deploy:\n      - command: [./notify.sh, --channel, ops]\n        env: [SLACK_TOKEN]\n      - [./smoke.sh]\n")
	st.Project.Environment["SLACK_TOKEN"] = "xoxb-from-env"
	r := &recordingRunner{}
	st.Runner = r
	cfg, err := st.DeployConfig()
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.PostDeploy) != 2 || strings.Join(cfg.PostDeploy[0].Env, ",") != "SLACK_TOKEN" {
		t.Fatalf("hooks %+v", cfg.PostDeploy)
	}
	runs, err := st.runHooks(context.Background(), "post-deploy", cfg.PostDeploy, []string{"STACKPILOT_OPERATION=deploy"}, nil, &recordingSink{}, "deploy")
	if err != nil || len(runs) != 2 {
		t.Fatalf("%v %+v", err, runs)
	}
	if env := strings.Join(r.cmds[0].Env, " "); env != "STACKPILOT_OPERATION=deploy SLACK_TOKEN=xoxb-from-env" || strings.Contains(strings.Join(r.cmds[0].Args, " "), "xoxb") {
		t.Errorf("first hook: args %q env %q", r.cmds[0].Args, env)
	}
	if env := strings.Join(r.cmds[1].Env, " "); env != "STACKPILOT_OPERATION=deploy" {
		t.Errorf("second hook env %q", env)
	}
	delete(st.Project.Environment, "SLACK_TOKEN")
	r.cmds = nil
	_, err = st.runHooks(context.Background(), "post-deploy", cfg.PostDeploy, nil, nil, &recordingSink{}, "deploy")
	if !errors.Is(err, ErrHookFailed) || !strings.Contains(err.Error(), "SLACK_TOKEN") || !strings.Contains(err.Error(), "set it with: stackpilot -C "+st.Dir+" ") || !strings.Contains(err.Error(), " env set SLACK_TOKEN --value-stdin") || len(r.cmds) != 0 {
		t.Errorf("missing env value: %v (ran %d)", err, len(r.cmds))
	}
	for _, bad := range []string{
		"post_deploy: {command: [x], env: [\"1BAD\"]}",
		"post_deploy: [{command: [x], envs: [A]}]",
		"post_deploy: {env: [A]}",
	} {
		dir := itest.WriteFiles(t, map[string]string{"compose.yaml": "services:\n  a:\n    image: x\nx-stackpilot:\n  deploy:\n    " + bad + "\n"})
		st, err := Load(context.Background(), LoadOptions{ProjectDir: dir, Environ: []string{}})
		if err == nil {
			_, err = st.DeployConfig()
		}
		if !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: want an invalid-config error, got %v", bad, err)
		}
	}
}
