package plugins

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// script writes an executable shell script.
func script(t *testing.T, path, body string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestFindOrderProjectThenPath(t *testing.T) {
	project, bin1, bin2 := t.TempDir(), t.TempDir(), t.TempDir()
	inProject := script(t, filepath.Join(project, ProjectDir, "stackpilot-hello"), "")
	script(t, filepath.Join(bin1, "stackpilot-hello"), "")
	second := script(t, filepath.Join(bin2, "stackpilot-only2"), "")
	script(t, filepath.Join(bin1, "stackpilot-only2"), "")
	if err := os.Chmod(filepath.Join(bin1, "stackpilot-only2"), 0o644); err != nil { // not executable
		t.Fatal(err)
	}
	o := Options{ProjectDir: project, PATH: bin1 + string(os.PathListSeparator) + bin2, Reserved: map[string]bool{"status": true}}

	if p, err := Find("hello", o); err != nil || p.Path != inProject || p.Source != SourceProject {
		t.Fatalf("hello: %+v %v, want the project's", p, err)
	}
	if p, err := Find("only2", o); err != nil || p.Path != second || p.Source != SourcePath {
		t.Fatalf("only2: %+v %v, want the executable one on PATH", p, err)
	}
	o.ProjectDir = ""
	if p, err := Find("hello", o); err != nil || p.Path != filepath.Join(bin1, "stackpilot-hello") {
		t.Fatalf("no project: %+v %v", p, err)
	}
	script(t, filepath.Join(bin1, "stackpilot-status"), "")
	for _, name := range []string{"status", "missing", "../x", "-x"} {
		if _, err := Find(name, o); err != ErrNotFound {
			t.Errorf("%s: %v, want ErrNotFound", name, err)
		}
	}
}

func TestListIgnoresShadowsWithReasons(t *testing.T) {
	project, bin := t.TempDir(), t.TempDir()
	script(t, filepath.Join(project, ProjectDir, "stackpilot-b"), "")
	script(t, filepath.Join(bin, "stackpilot-b"), "")
	script(t, filepath.Join(bin, "stackpilot-a"), "")
	script(t, filepath.Join(bin, "stackpilot-deploy"), "")
	script(t, filepath.Join(bin, "not-a-plugin"), "")
	if err := os.Mkdir(filepath.Join(bin, "stackpilot-dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	list, ignored := List(Options{ProjectDir: project, PATH: bin, Reserved: map[string]bool{"deploy": true}})
	var names []string
	for _, p := range list {
		names = append(names, p.Name+"@"+p.Source)
	}
	if strings.Join(names, ",") != "a@PATH,b@project" {
		t.Fatalf("plugins %v", names)
	}
	if len(ignored) != 2 {
		t.Fatalf("ignored %+v", ignored)
	}
	for _, ig := range ignored {
		switch ig.Name {
		case "deploy":
			if ig.Path != filepath.Join(bin, "stackpilot-deploy") || !strings.Contains(ig.Reason, "built-in command") {
				t.Errorf("deploy: %+v", ig)
			}
		case "b":
			if ig.Path != filepath.Join(bin, "stackpilot-b") || ig.Reason != "hidden by "+filepath.Join(project, ProjectDir, "stackpilot-b") {
				t.Errorf("b: %+v", ig)
			}
		default:
			t.Errorf("unexpected %+v", ig)
		}
	}
}

func TestMetadata(t *testing.T) {
	bin := t.TempDir()
	mk := func(name, body string) Plugin {
		return Plugin{Name: name, Path: script(t, filepath.Join(bin, "stackpilot-"+name), body)}
	}
	list := []Plugin{
		mk("good", `[ "$1" = --stackpilot-metadata ] || exit 9
printf '%s\n' '{"name":"good","description":"Says \u001b[31mhi\u202e\tthere\nnow","version":"1.2","usage":"stackpilot good [N]\nmore","extra":1}'`),
		mk("anon", `echo '{"description":"no name"}'`),
		mk("other", `echo '{"name":"somebody-else"}'`),
		mk("text", `echo "usage: text [args]"`),
		mk("fails", `exit 3`),
		mk("slow", `sleep 30`),
		mk("huge", `head -c 100000 /dev/zero | tr '\0' ' '; echo '{}'`),
		mk("env", `printf '{"description":"%s"}' "$PLUGIN_TEST_VAR"`),
	}
	start := time.Now()
	LoadMetadata(context.Background(), list, MetadataOptions{Timeout: time.Second, Environ: []string{"PATH=" + os.Getenv("PATH"), "PLUGIN_TEST_VAR=from env"}})
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("took %s: a slow plugin must be stopped at the timeout", took)
	}
	by := map[string]Plugin{}
	for _, p := range list {
		by[p.Name] = p
	}
	if md := by["good"].Metadata; md == nil || md.Description != "Says [31mhi there now" || md.Version != "1.2" || md.Usage != "stackpilot good [N]\nmore" {
		t.Errorf("good: %+v %q: control characters out, tabs and newlines flattened except in usage", md, by["good"].MetadataError)
	}
	if md := by["anon"].Metadata; md == nil || md.Description != "no name" {
		t.Errorf("anon: %+v", by["anon"])
	}
	if md := by["env"].Metadata; md == nil || md.Description != "from env" {
		t.Errorf("env: %+v: the plugin gets the environment given", by["env"])
	}
	for name, want := range map[string]string{
		"other": "names another plugin",
		"text":  "did not print a JSON object",
		"fails": "exited with status 3",
		"slow":  "no answer to --stackpilot-metadata within 1s",
		"huge":  "more than 64 KiB",
	} {
		if p := by[name]; p.Metadata != nil || !strings.Contains(p.MetadataError, want) {
			t.Errorf("%s: %+v, want an error containing %q", name, p, want)
		}
	}
}
