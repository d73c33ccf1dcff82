package wizard_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stackpilot/stackpilot/internal/itest"
)

// cryptRun is run with the identities in cfg (XDG_CONFIG_HOME).
func cryptRun(t *testing.T, dir, cfg, stdin string, args ...string) result {
	t.Helper()
	var in []byte
	if stdin != "" {
		in = []byte(stdin)
	}
	r := itest.RunInput(t, dir, []string{"HOME=" + dir, "XDG_CONFIG_HOME=" + cfg}, in, append([]string{"-C", dir}, args...)...)
	return result{r.Stdout, r.Stderr, r.Code}
}

// The encrypted-value commands in flag mode, without a terminal: no
// prompt, exit 2 naming the flag when input is missing, the value never in
// argv, and no plain text in any output but get --reveal's.
func TestEnvEncryptedWithoutTerminal(t *testing.T) {
	const canary = "canary-flags-51a0"
	dir := envProject(t, "DB_HOST=localhost\nAPI_TOKEN="+canary+"-t\nAPI_URL=\"https://x:${API_TOKEN}@api\"\n")
	cfg := t.TempDir()
	var outputs []string
	must := func(r result, code int, want ...string) result {
		t.Helper()
		if r.code != code {
			t.Fatalf("exit %d, want %d\n%s%s", r.code, code, r.stdout, r.stderr)
		}
		for _, w := range want {
			if !strings.Contains(r.stdout+r.stderr, w) {
				t.Fatalf("output lacks %q:\n%s%s", w, r.stdout, r.stderr)
			}
		}
		if strings.Contains(r.stdout+r.stderr, "\x1b[") {
			t.Fatalf("escape codes without a terminal: %q", r.stderr)
		}
		outputs = append(outputs, r.stdout+r.stderr)
		return r
	}
	must(cryptRun(t, dir, cfg, canary, "env", "set", "--encrypt", "DB_PASSWORD", "--value-stdin"), 1, "no recipient", "env keygen")
	r := must(cryptRun(t, dir, cfg, "", "env", "keygen"), 0, "identity written to "+filepath.Join(cfg, "stackpilot", "identities", "identity.key"))
	must(cryptRun(t, dir, cfg, "", "env", "keygen"), 1, "already exists", "env recipients add "+strings.TrimSpace(r.stdout))
	must(cryptRun(t, dir, cfg, "", "env", "set", "--encrypt", "DB_PASSWORD"), 2, "--value-stdin")
	must(cryptRun(t, dir, cfg, "", "env", "set", "--encrypt", "DB_PASSWORD="+canary), 2, "never takes the value from the command line")
	must(cryptRun(t, dir, cfg, "", "env", "encrypt"), 2, "pass KEY")
	must(cryptRun(t, dir, cfg, canary+"\n", "env", "set", "--encrypt", "DB_PASSWORD", "--value-stdin"), 0, "added DB_PASSWORD")
	must(cryptRun(t, dir, cfg, "", "env", "encrypt", "API_TOKEN"), 0, "API_TOKEN encrypted")
	must(cryptRun(t, dir, cfg, "", "env", "list"), 0, "(encrypted)")
	must(cryptRun(t, dir, cfg, "", "env", "list", "--json"), 0, `"encrypted": true`)
	must(cryptRun(t, dir, cfg, "", "env", "get", "DB_PASSWORD"), 2, "--reveal")
	must(cryptRun(t, dir, cfg, "", "env", "get", "API_URL"), 2, "built from encrypted values", "--reveal")
	must(cryptRun(t, dir, cfg, "", "env", "recipients", "list"), 0, "(yours)", "2 encrypted value(s)")
	must(cryptRun(t, dir, cfg, "", "env", "rotate"), 0, "2 value(s) re-encrypted")
	must(cryptRun(t, dir, cfg, "", "-v", "env", "decrypt", "API_TOKEN", "--dry-run"), 0, "would be updated API_TOKEN")
	if got := readEnv(t, dir); strings.Contains(got, canary) {
		t.Fatalf("plain text in .env:\n%s", got)
	}
	for _, o := range outputs {
		if strings.Contains(o, canary) {
			t.Fatalf("an output holds the secret:\n%s", o)
		}
	}
	if r := cryptRun(t, dir, cfg, "", "env", "get", "DB_PASSWORD", "--reveal"); r.code != 0 || r.stdout != canary+"\n" {
		t.Fatalf("get --reveal: %d %q %s", r.code, r.stdout, r.stderr)
	}
	if r := cryptRun(t, dir, cfg, "", "env", "get", "API_URL", "--reveal"); r.code != 0 || r.stdout != "https://x:"+canary+"-t@api\n" {
		t.Fatalf("get --reveal of a value built from an encrypted one: %d %q %s", r.code, r.stdout, r.stderr)
	}
	// a loose identity is refused, naming the file
	ids, _ := filepath.Glob(filepath.Join(cfg, "stackpilot", "identities", "*.key"))
	for _, id := range ids {
		os.Chmod(id, 0o644)
	}
	if r := cryptRun(t, dir, cfg, "", "env", "get", "DB_PASSWORD", "--reveal"); r.code == 0 || !strings.Contains(r.stderr, "chmod 600") || !strings.Contains(r.stderr, "DB_PASSWORD") {
		t.Fatalf("loose identity: %d %s", r.code, r.stderr)
	}
}

// The Environment menu offers to encrypt a secret-looking key: with no
// recipient yet it creates the person's identity first, shows the change
// (masked) and asks; a later change of the value keeps it encrypted, typed
// hidden. The value never reaches the screen.
func TestEnvMenuEncryptsInPTY(t *testing.T) {
	const canary = "canary-menu-c4e2"
	dir := envProject(t, "# db\nDB_HOST=localhost\nDB_PASSWORD=old-pw\n")
	cfg := t.TempDir()
	term := itest.StartTerminal(t, dir, []string{"HOME=" + dir, "XDG_CONFIG_HOME=" + cfg}, "-C", dir)
	send := func(keys ...string) {
		t.Helper()
		term.Send(keys...)
		time.Sleep(50 * time.Millisecond)
	}
	term.Expect("What do you want to do?")
	send("Environment", itest.KeyEnter)
	term.Expect("Pick a key to change, or an action")
	send("DB_PASSWORD", itest.KeyEnter)
	term.Expect("Encrypt DB_PASSWORD")
	send("Encrypt", itest.KeyEnter)
	term.Expect("has no recipient yet. Create your identity at " + filepath.Join(cfg, "stackpilot", "identities", "identity.key"))
	send("y", itest.KeyEnter)
	term.Expect("identity written to")
	term.Expect("Encrypt DB_PASSWORD in")
	send("y", itest.KeyEnter)
	term.Expect("DB_PASSWORD encrypted")
	term.Expect("stackpilot -C " + dir + " env encrypt DB_PASSWORD")
	term.Expect("What do you want to do?")
	send("Environment", itest.KeyEnter)
	term.Expect("Pick a key to change, or an action")
	send("DB_PASSWORD", itest.KeyEnter)
	term.Expect("Change the value (stays encrypted)")
	send(itest.KeyEnter)
	term.Expect("New value for DB_PASSWORD (hidden)")
	send(canary, itest.KeyEnter)
	term.Expect("Type it again to confirm")
	send(canary, itest.KeyEnter)
	term.Expect("Write this change?")
	send("y", itest.KeyEnter)
	term.Expect("env set --encrypt DB_PASSWORD --value-stdin")
	term.Expect("Redeploy api, db now")
	send("n", itest.KeyEnter)
	term.Expect("What do you want to do?")
	send("Quit", itest.KeyEnter)
	if code := term.Wait(20 * time.Second); code != 0 {
		t.Fatalf("stackpilot exited with %d\nscreen:\n%s", code, term.Screen())
	}
	got := readEnv(t, dir)
	if strings.Contains(got, canary) || strings.Contains(got, "old-pw") || !strings.Contains(got, "DB_PASSWORD='ENC[age:") || !strings.Contains(got, "# stackpilot-recipient: age1") {
		t.Fatalf(".env after the flow:\n%s", got)
	}
	if strings.Contains(term.Raw(), canary) || strings.Contains(term.Raw(), "old-pw") {
		t.Fatalf("a value reached the terminal:\n%s", term.Screen())
	}
	if r := cryptRun(t, dir, cfg, "", "env", "get", "DB_PASSWORD", "--reveal"); r.stdout != canary+"\n" {
		t.Fatalf("get --reveal: %q %s", r.stdout, r.stderr)
	}
}
