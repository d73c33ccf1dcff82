package wizard

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stackpilot/stackpilot/internal/itest"
	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/stackops/backup"
	"github.com/stackpilot/stackpilot/steps"
)

// Two archives in the backup directory carry the same id (the hostile
// corpus all says 20260102-030405; any copy from elsewhere may say what it
// likes): the menu tells them apart by file, acts on the one chosen — not
// on the first with that id — and its equivalent command names that file;
// the id alone is refused, naming both.
func TestBackupMenuChoosesTheFileNotTheID(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte("name: hostile\nservices:\n  files:\n    image: x\n    volumes: [data:/srv]\nvolumes:\n  data:\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bk := filepath.Join(dir, "backups")
	if err := os.MkdirAll(bk, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"fifo", "setuid-cap"} {
		b, err := os.ReadFile(filepath.Join(itest.RepoRoot(), "stackops", "backup", "testdata", "hostile", "hostile_"+name+".tar.zst"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(bk, "hostile_"+name+".tar.zst"), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	st, err := stackops.Load(context.Background(), stackops.LoadOptions{WorkDir: dir, Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	list, err := backup.List(context.Background(), st)
	if err != nil || len(list.Backups) != 2 || list.Backups[0].ID != list.Backups[1].ID {
		t.Fatalf("setup: %+v %v", list, err)
	}
	var chosen backup.Info
	for _, b := range list.Backups {
		if b.File == "hostile_setuid-cap.tar.zst" {
			chosen = b
		}
	}
	label := steps.BackupLabel(chosen, time.Now()) + " · " + chosen.File

	ios, _, _, errOut := steps.Test()
	ios.SetTTY(true, true, true)
	ios.NoColor = true
	f := NewFactory(ios, "test", nil)
	f.WorkDir, f.Environ = dir, []string{"PATH=" + os.Getenv("PATH")}
	f.Prompter = steps.NewScriptedPrompter(t).Select("Which backup do you want to verify?", label).Prompter()
	if err := runBackupVerify(context.Background(), f, &backupVerifyOptions{menu: true}); err != nil {
		t.Fatalf("verify from the menu: %v\n%s", err, errOut)
	}
	if want := "Equivalent command: stackpilot backup verify " + chosen.Path; !strings.Contains(errOut.String(), want) {
		t.Errorf("the menu did not act on the file chosen, or does not name it (want %q):\n%s", want, errOut)
	}
	records, _ := os.ReadFile(filepath.Join(dir, ".stackpilot", "backups-verified.json"))
	if !strings.Contains(string(records), "hostile_setuid-cap.tar.zst") || strings.Contains(string(records), "hostile_fifo.tar.zst") {
		t.Errorf("verified another file than the one chosen: %s", records)
	}

	res := itest.Run(t, dir, nil, "backup", "verify", chosen.ID)
	if res.Code != 1 || !strings.Contains(res.Stderr, "hostile_fifo.tar.zst, hostile_setuid-cap.tar.zst") || !strings.Contains(res.Stderr, "name the file") {
		t.Errorf("verify by an id two files carry: exit %d\n%s", res.Code, res.Stderr)
	}
}
