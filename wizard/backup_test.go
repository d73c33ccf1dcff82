package wizard_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackpilot/stackpilot/internal/itest"
)

// Without a terminal every missing choice is exit 2 naming what to pass,
// before anything is read or changed. None of this needs docker.
func TestBackupWithoutTerminal(t *testing.T) {
	dir := t.TempDir()
	compose := "services:\n  db:\n    image: x\n    volumes: [data:/d]\nvolumes:\n  data:\n"
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"backup"}, "subcommand"},
		{[]string{"backup", "verify"}, "a backup ID or --latest"},
		{[]string{"backup", "restore"}, "a backup ID"},
		{[]string{"backup", "restore", "20261125-030000"}, "--yes"},
		{[]string{"backup", "prune"}, "--keep-"},
		{[]string{"backup", "prune", "--keep-daily", "0"}, "--keep-"},
		{[]string{"backup", "schedule"}, "--cron EXPR, --remove or --show"},
		{[]string{"backup", "verify", "x", "--latest"}, "not both"},
	} {
		res := itest.Run(t, dir, nil, tc.args...)
		if res.Code != 2 || !strings.Contains(res.Stderr, tc.want) {
			t.Errorf("%v: exit %d, want 2 mentioning %q\n%s", tc.args, res.Code, tc.want, res.Stderr)
		}
		if strings.Contains(res.Combined(), "\x1b[") {
			t.Errorf("%v: escape codes without a terminal: %q", tc.args, res.Combined())
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "backups")); err == nil {
		t.Error("a refused command created the backup directory")
	}
	// An unknown key in the config is named.
	bad := compose + "x-stackpilot:\n  backup:\n    dumps:\n      - {service: db, name: x, dump: [a], restor: [b]}\n"
	_ = os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(bad), 0o644)
	if res := itest.Run(t, dir, nil, "backup", "list"); res.Code != 1 || !strings.Contains(res.Stderr, "restor") {
		t.Errorf("typo in the config: exit %d\n%s", res.Code, res.Stderr)
	}
	// list on a project with no backups: empty, exit 0, JSON stays an object.
	_ = os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(compose), 0o644)
	if res := itest.Run(t, dir, nil, "backup", "list", "--json"); res.Code != 0 || !strings.Contains(res.Stdout, `"backups": []`) {
		t.Errorf("empty list: exit %d\n%s", res.Code, res.Combined())
	}
}
