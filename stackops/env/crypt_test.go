package env

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/stackops/envcrypt"
	"github.com/stackpilot/stackpilot/stackops/envfile"
)

// cryptProject is a project whose identities live in a directory of the
// test (XDG_CONFIG_HOME), never the user's.
func cryptProject(t *testing.T, dotenv string) (*stackops.Stack, string, string) {
	t.Helper()
	dir := t.TempDir()
	cfg := t.TempDir()
	os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(helperCompose), 0o644)
	if dotenv != "" {
		os.WriteFile(filepath.Join(dir, ".env"), []byte(dotenv), 0o600)
	}
	st := loadEnvProject(t, dir, "XDG_CONFIG_HOME="+cfg, "HOME="+cfg)
	return st, dir, filepath.Join(cfg, "stackpilot", "identities")
}

func TestEncryptedRoundTrip(t *testing.T) {
	ctx := context.Background()
	const canary = "canary-9f3e $HOME \"q\" # x"
	src := "# settings\nDB_HOST=db\nAPI_TOKEN=plain-token-1234\nDB_URL=pg://${DB_HOST}/x\n"
	st, dir, ids := cryptProject(t, src)
	path := filepath.Join(dir, ".env")

	if _, err := SetEncrypted(ctx, st, SetOptions{Values: []Assignment{{"DB_PASSWORD", canary}}}); !errors.Is(err, envcrypt.ErrNoRecipients) || !strings.Contains(err.Error(), "env keygen") {
		t.Fatalf("encrypt without a recipient: %v", err)
	}
	if readFile(t, path) != src {
		t.Fatal(".env changed by a refused edit")
	}
	kg, err := Keygen(ctx, st, KeygenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if kg.Identity != filepath.Join(ids, "identity.key") || !strings.HasPrefix(kg.Recipient, "age1") {
		t.Fatalf("keygen: %+v", kg)
	}
	if _, err := Keygen(ctx, st, KeygenOptions{}); !errors.Is(err, envcrypt.ErrIdentityExists) || !strings.Contains(err.Error(), kg.Recipient) {
		t.Fatalf("second keygen: %v", err)
	}
	if !strings.HasPrefix(readFile(t, path), envcrypt.RecipientTag+" "+kg.Recipient+"\n# settings\n") {
		t.Fatalf("recipient not recorded at the top:\n%s", readFile(t, path))
	}
	res, err := SetEncrypted(ctx, st, SetOptions{Values: []Assignment{{"DB_PASSWORD", canary}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range res.Diff {
		if strings.Contains(l.Text, "canary") || strings.Contains(l.Text, "ENC[") {
			t.Fatalf("the diff shows a value: %q", l.Text)
		}
	}
	if _, err := Encrypt(ctx, st, CryptOptions{Keys: []string{"API_TOKEN"}}); err != nil {
		t.Fatal(err)
	}
	if r, err := Encrypt(ctx, st, CryptOptions{Keys: []string{"DB_URL"}}); err != nil || len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "DB_HOST") {
		t.Fatalf("encrypt of a value built from another: %v %v", r, err)
	}
	if g, err := Get(ctx, st, GetOptions{Key: "DB_URL", Reveal: true}); err != nil || g.Value != "pg://db/x" {
		t.Fatalf("DB_URL: %+v %v", g, err)
	}
	// a value built from an encrypted one is masked too, whatever its key
	withLink := readFile(t, path)
	os.WriteFile(path, []byte(withLink+"LINK=u:${DB_URL}\n"), 0o600)
	if l, _ := List(ctx, st, ListOptions{}); !l.Entries[len(l.Entries)-1].Masked {
		t.Fatalf("a value built from an encrypted one: %+v", l.Entries[len(l.Entries)-1])
	}
	if g, _ := Get(ctx, st, GetOptions{Key: "LINK"}); !g.Secret || !g.FromEncrypted || strings.Contains(g.Value, "pg://") {
		t.Fatalf("get of a value built from an encrypted one: %+v", g)
	}
	if g, err := Get(ctx, st, GetOptions{Key: "LINK", Reveal: true}); err != nil || g.Value != "u:pg://db/x" {
		t.Fatalf("get --reveal of a value built from an encrypted one: %+v %v", g, err)
	}
	os.WriteFile(path, []byte(withLink), 0o600)
	onDisk := readFile(t, path)
	if strings.Contains(onDisk, "canary") || strings.Contains(onDisk, "plain-token") {
		t.Fatalf("plain text on disk:\n%s", onDisk)
	}
	if !strings.Contains(onDisk, "\nDB_HOST=db\n") {
		t.Fatalf("other lines changed:\n%s", onDisk)
	}
	// list marks, get needs --reveal
	l, err := List(ctx, st, ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range l.Entries {
		if want := e.Key != "DB_HOST"; e.Encrypted != want || (want && (e.Value != "" || !e.Masked)) {
			t.Fatalf("list entry %+v", e)
		}
	}
	g, err := Get(ctx, st, GetOptions{Key: "DB_PASSWORD"})
	if err != nil || !g.Encrypted || strings.Contains(g.Value, "canary") {
		t.Fatalf("get without reveal: %+v %v", g, err)
	}
	g, err = Get(ctx, st, GetOptions{Key: "DB_PASSWORD", Reveal: true})
	if err != nil || g.Value != canary {
		t.Fatalf("get --reveal: %+v %v", g, err)
	}
	l, _ = List(ctx, st, ListOptions{Reveal: true})
	for _, e := range l.Entries {
		if e.Key == "DB_PASSWORD" && e.Value != canary {
			t.Fatalf("list --reveal: %+v", e)
		}
	}
	// decrypt, and undo back to the encrypted file
	before := readFile(t, path)
	if _, err := Decrypt(ctx, st, CryptOptions{Keys: []string{"API_TOKEN"}}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(readFile(t, path), "API_TOKEN='plain-token-1234'\n") {
		t.Fatalf("decrypt:\n%s", readFile(t, path))
	}
	if _, err := Decrypt(ctx, st, CryptOptions{Keys: []string{"API_TOKEN"}}); !errors.Is(err, ErrNotEncrypted) {
		t.Fatalf("decrypt of a plain value: %v", err)
	}
	if _, err := Undo(ctx, st, UndoOptions{}); err != nil || readFile(t, path) != before {
		t.Fatalf("undo: %v", err)
	}
	// recipients: a teammate added, removed
	mate, _ := age.GenerateX25519Identity()
	if r, err := RecipientsAdd(ctx, st, RecipientsOptions{Keys: []string{mate.Recipient().String()}}); err != nil || len(r.Warnings) == 0 {
		t.Fatalf("add: %v %v", r, err)
	}
	rl, err := Recipients(ctx, st)
	if err != nil || len(rl.Recipients) != 2 || len(rl.Mine) != 1 || len(rl.Encrypted) != 3 {
		t.Fatalf("recipients: %+v %v", rl, err)
	}
	if _, err := Encrypt(ctx, st, CryptOptions{Keys: []string{"DB_PASSWORD"}}); err != nil {
		t.Fatal(err)
	}
	d, _ := envfile.Parse([]byte(readFile(t, path)), nil)
	v, _, _ := d.Value("DB_PASSWORD", nil)
	if p, err := envcrypt.Decrypt(v, []age.Identity{mate}); err != nil || p != canary {
		t.Fatalf("the teammate cannot decrypt after encrypt: %v", err)
	}
	if _, err := RecipientsRemove(ctx, st, RecipientsOptions{Keys: []string{mate.Recipient().String()}}); err != nil {
		t.Fatal(err)
	}
}

// A missing or wrong identity, a tampered value and a loose identity file
// each give an error naming the key and where identities are looked for,
// never the value; nothing is written.
func TestDecryptErrorsNameKeyAndWhere(t *testing.T) {
	ctx := context.Background()
	st, dir, ids := cryptProject(t, "")
	path := filepath.Join(dir, ".env")
	if _, err := Keygen(ctx, st, KeygenOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := SetEncrypted(ctx, st, SetOptions{Values: []Assignment{{"SECRET_A", "canary-a-1"}, {"B", "canary-b-2"}}}); err != nil {
		t.Fatal(err)
	}
	good := readFile(t, path)
	check := func(name string, err error, want error, where bool) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Fatalf("%s: %v, want %v", name, err, want)
		}
		msg := err.Error()
		if strings.Contains(msg, "canary") || !strings.Contains(msg, "SECRET_A") || (where && !strings.Contains(msg, ids)) {
			t.Fatalf("%s: %s", name, msg)
		}
		if got := readFile(t, path); got != good && name != "tampered" {
			t.Fatalf("%s: .env was written", name)
		}
	}
	idFile := filepath.Join(ids, "identity.key")
	// a loose identity file
	os.Chmod(idFile, 0o644)
	_, err := Decrypt(ctx, st, CryptOptions{Keys: []string{"SECRET_A"}})
	check("loose", err, envcrypt.ErrIdentityExposed, true)
	os.Chmod(idFile, 0o600)
	// no identity
	os.Rename(idFile, idFile+".away")
	_, err = Get(ctx, st, GetOptions{Key: "SECRET_A", Reveal: true})
	check("missing", err, envcrypt.ErrNoIdentity, true)
	// a wrong identity
	if _, err := envcrypt.Generate(filepath.Join(ids, "other.key"), time.Now()); err != nil {
		t.Fatal(err)
	}
	_, err = Rotate(ctx, st, RotateOptions{})
	check("wrong", err, envcrypt.ErrWrongIdentity, true)
	os.Remove(filepath.Join(ids, "other.key"))
	os.Rename(idFile+".away", idFile)
	// a tampered value
	d, _ := envfile.Parse([]byte(good), nil)
	v, _, _ := d.Value("SECRET_A", nil)
	bad := []byte(v)
	bad[len(bad)-8] = map[bool]byte{true: 'B', false: 'A'}[bad[len(bad)-8] == 'A']
	d.Set("SECRET_A", string(bad))
	os.WriteFile(path, d.Bytes(), 0o600)
	good = readFile(t, path)
	_, err = Decrypt(ctx, st, CryptOptions{Keys: []string{"SECRET_A"}})
	check("tampered", err, envcrypt.ErrTampered, false)
	if readFile(t, path) != good {
		t.Fatal("tampered: .env was written")
	}
}

// rotateHelper is TestEnvHelperProcess's "rotate" mode: one rotation,
// killed where the test says.
func rotateHelper(ctx context.Context, st *stackops.Stack) {
	if at := os.Getenv("STACKPILOT_KILL_AT"); at != "" {
		testSeams.writeStep = func(s string) {
			if s == at {
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
			}
		}
	}
	fmt.Println("ready")
	if _, err := Rotate(ctx, st, RotateOptions{}); err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(3)
	}
	os.Exit(0)
}

// TestRotateSurvivesSIGKILL rotates the key of a .env with 20 encrypted
// values in a separate process, killed at every step of the write and at
// ≥100 random moments: after each, every value decrypts with the key
// .env was encrypted to before the rotation or with the new one, whose
// identity file is complete; and the next rotation works.
func TestRotateSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts hundreds of processes")
	}
	ctx := context.Background()
	st, dir, ids := cryptProject(t, "")
	if _, err := Keygen(ctx, st, KeygenOptions{}); err != nil {
		t.Fatal(err)
	}
	plain := map[string]string{}
	var values []Assignment
	for i := 0; i < 20; i++ {
		k, v := fmt.Sprintf("SECRET_%02d", i), fmt.Sprintf("value-%02d-%d", i, rand.Int())
		plain[k] = v
		values = append(values, Assignment{k, v})
	}
	if _, err := SetEncrypted(ctx, st, SetOptions{Values: values}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, ".env")
	cfg := filepath.Dir(filepath.Dir(ids))
	// loadIDs reads every identity file in the directory (each must parse:
	// a torn one would fail) by recipient.
	loadIDs := func() map[string]*age.X25519Identity {
		all, err := envcrypt.Where{Dir: ids}.Load()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]*age.X25519Identity{}
		for _, id := range all {
			out[id.Keys[0].Recipient().String()] = id.Keys[0]
		}
		return out
	}
	current := func() string {
		d, err := envfile.Parse([]byte(readFile(t, path)), nil)
		if err != nil {
			t.Fatal(err)
		}
		rs, _ := envcrypt.Recipients(d)
		if len(rs) != 1 {
			t.Fatalf("%d recipients", len(rs))
		}
		return rs[0].Key
	}
	old := current()
	stats := map[string]int{}
	check := func(round string) {
		t.Helper()
		known := loadIDs()
		d, err := envfile.Parse([]byte(readFile(t, path)), nil)
		if err != nil {
			t.Fatalf("%s: %v", round, err)
		}
		now := current()
		key, ok := known[now]
		if !ok {
			t.Fatalf("%s: .env is encrypted to %s, whose identity is not on disk", round, now)
		}
		if now != old && len(known) < 2 {
			t.Fatalf("%s: rotated without the old identity", round)
		}
		for k, want := range plain {
			v, _, _ := d.Value(k, nil)
			got, err := envcrypt.Decrypt(v, []age.Identity{key})
			if err != nil || got != want {
				t.Fatalf("%s: %s does not decrypt with the key .env names: %v", round, k, err)
			}
		}
		if now == old {
			stats["old"]++
		} else {
			stats["new"]++
		}
		old = now
	}
	points := 0
	// span is how long a rotation takes, from "ready" to its exit, measured
	// on an uncut one: the random kills fall over 1.3 times it.
	var span time.Duration
	run := func(extra ...string) {
		t.Helper()
		var stderr bytes.Buffer
		cmd := helperCmd(dir, "rotate", append(extra, "XDG_CONFIG_HOME="+cfg, "HOME="+cfg)...)
		cmd.Stderr = &stderr
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, _ := bufio.NewReader(out).ReadString('\n')
		ready := time.Now()
		if len(extra) == 0 && span > 0 && strings.HasPrefix(line, "ready") {
			time.Sleep(time.Duration(rand.Int63n(int64(span) * 13 / 10)))
			cmd.Process.Signal(syscall.SIGKILL)
		}
		err := cmd.Wait()
		if span == 0 && len(extra) == 0 {
			span = time.Since(ready)
		}
		if ee, ok := err.(*exec.ExitError); ok {
			if ws := ee.Sys().(syscall.WaitStatus); !ws.Signaled() {
				t.Fatalf("helper failed: %v: %s", err, stderr.String())
			}
			stats["killed"]++
		}
		points++
		check(fmt.Sprintf("point %d", points))
	}
	for _, step := range []string{"identity-written", "version-saved", "temp-created", "temp-written", "temp-synced", "renamed", "dir-synced"} {
		run("STACKPILOT_KILL_AT=" + step)
	}
	run() // uncut: measures span
	for points < 110 {
		run()
	}
	t.Logf("%d points: %v", points, stats)
	if stats["old"] == 0 || stats["new"] == 0 || stats["killed"] < 50 {
		t.Fatalf("the kills did not land both before and after the rename: %v", stats)
	}
	if _, err := Rotate(ctx, loadEnvProject(t, dir, "XDG_CONFIG_HOME="+cfg, "HOME="+cfg), RotateOptions{}); err != nil {
		t.Fatalf("rotate after the kills: %v", err)
	}
	check("final")
}
