package stackops

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeTree(t *testing.T, root string, files ...string) {
	t.Helper()
	for _, f := range files {
		p := filepath.Join(root, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("services:\n  a: {image: x}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// The recent projects: the newest first, one entry per directory, at most
// ten, and only those whose compose files still exist.
func TestRecentProjects(t *testing.T) {
	cache, root := t.TempDir(), t.TempDir()
	var dirs []string
	for i := 0; i < 12; i++ {
		d := filepath.Join(root, "p"+string(rune('a'+i)))
		writeTree(t, d, "compose.yaml")
		dirs = append(dirs, d)
		st, err := Load(context.Background(), LoadOptions{ProjectDir: d, Environ: []string{}})
		if err != nil {
			t.Fatal(err)
		}
		if err := RememberProject(cache, st); err != nil {
			t.Fatal(err)
		}
	}
	st, _ := Load(context.Background(), LoadOptions{ProjectDir: dirs[5], Environ: []string{}})
	if err := RememberProject(cache, st); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dirs[11], "compose.yaml")); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range RecentProjects(cache) {
		got = append(got, filepath.Base(p.Dir))
	}
	// pf again first; pl's file is gone; pa and pb fell off the ten.
	if want := "pf pk pj pi ph pg pe pd pc"; strings.Join(got, " ") != want {
		t.Errorf("recent: %q, want %q", got, want)
	}
	if fi, err := os.Stat(filepath.Join(cache, recentProjectsFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the file: %v %v", fi, err)
	}
	// A damaged file is no list, not an error.
	os.WriteFile(filepath.Join(cache, recentProjectsFile), []byte("{"), 0o600)
	if len(RecentProjects(cache)) != 0 {
		t.Error("a damaged file gave projects")
	}
}

func TestFindComposeFiles(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root,
		"shop/compose.yaml", "shop/docker-compose.yml", // one per directory, Compose's order
		"blog/docker-compose.yaml",
		"a/b/c/compose.yml",   // depth 3
		"a/b/c/d/compose.yml", // depth 4: too deep
		".hidden/compose.yaml", "node_modules/x/compose.yaml", "vendor/compose.yaml",
	)
	got := FindComposeFiles(root, FindOptions{})
	var rel []string
	for _, f := range got {
		r, _ := filepath.Rel(root, f)
		rel = append(rel, r)
	}
	if want := "a/b/c/compose.yml blog/docker-compose.yaml shop/compose.yaml"; strings.Join(rel, " ") != want {
		t.Errorf("found %q, want %q", rel, want)
	}
	if n := len(FindComposeFiles(root, FindOptions{Limit: 1})); n != 1 {
		t.Errorf("limit 1: %d", n)
	}
}

// A new project never overwrites: a directory with a compose file, or any
// of the files, is refused before anything is written.
func TestCreateProject(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new")
	files := map[string][]byte{"compose.yaml": []byte("services: {}\n"), ".env": []byte("A=1\n"), ".env.example": []byte("A=\n")}
	if err := CreateProject(dir, files); err != nil {
		t.Fatal(err)
	}
	for n, want := range map[string]os.FileMode{"compose.yaml": 0o644, ".env": 0o600, ".env.example": 0o644} {
		if fi, err := os.Stat(filepath.Join(dir, n)); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v %v", n, fi, err)
		}
	}
	if err := CreateProject(dir, files); err == nil || !strings.Contains(err.Error(), "already holds a compose project") {
		t.Errorf("again: %v", err)
	}
	other := t.TempDir()
	os.WriteFile(filepath.Join(other, ".env"), []byte("MINE=1\n"), 0o600)
	if err := CreateProject(other, files); err == nil {
		t.Error("an existing .env was not refused")
	}
	if _, err := os.Stat(filepath.Join(other, "compose.yaml")); err == nil {
		t.Error("a refused create wrote a file")
	}
	if b, _ := os.ReadFile(filepath.Join(other, ".env")); string(b) != "MINE=1\n" {
		t.Errorf(".env changed: %q", b)
	}
}
