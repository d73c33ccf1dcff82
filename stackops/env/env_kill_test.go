package env

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/stackops/envfile"
)

// helperCompose is the compose file of the helpers' project: the env
// commands need one to find the project, not to read it.
const helperCompose = "services: {}\n"

// helperStack opens a project directory the way the env commands do, with
// a lenient load (no compose model), so a helper process starts in a few
// milliseconds (the kill test starts hundreds).
func helperStack(t *testing.T, dir string) *stackops.Stack {
	return loadEnvProject(t, dir)
}

// TestEnvHelperProcess is not a test: the kill and concurrency tests run
// the test binary again with STACKPILOT_ENV_HELPER set, to get separate
// processes editing the same .env.
func TestEnvHelperProcess(t *testing.T) {
	mode := os.Getenv("STACKPILOT_ENV_HELPER")
	if mode == "" {
		t.Skip("helper process for TestEnvSetSurvivesSIGKILL and TestEnvConcurrentIncrements")
	}
	ctx := context.Background()
	st := helperStack(t, os.Getenv("STACKPILOT_ENV_DIR"))
	switch mode {
	case "rotate":
		rotateHelper(ctx, loadEnvProject(t, os.Getenv("STACKPILOT_ENV_DIR"), "XDG_CONFIG_HOME="+os.Getenv("XDG_CONFIG_HOME"), "HOME="+os.Getenv("HOME")))
	case "toggle":
		// set KEY to A, B, A, B … until killed; optionally kill ourselves
		// at the n-th time a write reaches a given step
		if at := os.Getenv("STACKPILOT_KILL_AT"); at != "" {
			step, nth, _ := strings.Cut(at, ":")
			n, _ := strconv.Atoi(nth)
			seen := 0
			testSeams.writeStep = func(s string) {
				if s == step {
					if seen++; seen == n {
						syscall.Kill(os.Getpid(), syscall.SIGKILL)
					}
				}
			}
		}
		fmt.Println("ready")
		for i := 1; ; i++ {
			v := "A"
			if i%2 == 1 {
				v = "B"
			}
			if _, err := Set(ctx, st, SetOptions{Values: []Assignment{{"KEY", v}}}); err != nil {
				fmt.Fprintln(os.Stderr, "helper:", err)
				os.Exit(3)
			}
		}
	case "incr":
		n, _ := strconv.Atoi(os.Getenv("STACKPILOT_ENV_N"))
		for i := 0; i < n; i++ {
			_, err := Update(ctx, st, UpdateOptions{Op: "set"}, func(d *envfile.Document) error {
				v, _, err := d.Value("COUNTER", nil)
				if err != nil {
					return err
				}
				c, _ := strconv.Atoi(v)
				return d.Set("COUNTER", strconv.Itoa(c+1))
			})
			if err != nil {
				fmt.Fprintln(os.Stderr, "helper:", err)
				os.Exit(3)
			}
		}
		os.Exit(0)
	}
}

func helperCmd(dir, mode string, extra ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestEnvHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "STACKPILOT_ENV_HELPER="+mode, "STACKPILOT_ENV_DIR="+dir)
	cmd.Env = append(cmd.Env, extra...)
	return cmd
}

// TestEnvSetSurvivesSIGKILL kills a process that sets a key in a loop at
// random moments and at every step of a write: the file is always exactly
// the old or the new version (by hash), every kept version too, and the
// next write succeeds (the flock died with the holder).
func TestEnvSetSurvivesSIGKILL(t *testing.T) {
	dir := t.TempDir()
	var base strings.Builder
	base.WriteString("# a .env with some bulk, so a write takes a moment\n")
	for i := 0; i < 300; i++ {
		fmt.Fprintf(&base, "FILLER_%03d=\"value number %d with some text\" # comment %d\n", i, i, i)
	}
	base.WriteString("KEY=A\n")
	path := filepath.Join(dir, ".env")
	if err := os.WriteFile(path, []byte(base.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(helperCompose), 0o644)
	docA, _ := envfile.Parse([]byte(base.String()), nil)
	docB := docA.Clone()
	docB.Set("KEY", "B")
	hash := func(b []byte) string { h := sha256.Sum256(b); return string(h[:]) }
	valid := map[string]string{hash(docA.Bytes()): "A", hash(docB.Bytes()): "B"}

	seen := map[string]int{}
	midWrite := 0
	check := func(round string) {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%s: %v", round, err)
		}
		v, ok := valid[hash(b)]
		if !ok {
			t.Fatalf("%s: .env is neither the old nor the new version (%d bytes)", round, len(b))
		}
		seen[v]++
		if tmps, _ := filepath.Glob(filepath.Join(dir, ".env.stackpilot-*.tmp")); len(tmps) > 0 {
			midWrite++
		}
		versions, _ := filepath.Glob(filepath.Join(dir, ".stackpilot", "env-versions", "*", "*.env"))
		for _, f := range versions {
			vb, _ := os.ReadFile(f)
			if _, ok := valid[hash(vb)]; !ok {
				t.Fatalf("%s: kept version %s is torn", round, filepath.Base(f))
			}
		}
	}
	killed := func(cmd *exec.Cmd, stderr *bytes.Buffer) {
		t.Helper()
		ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
		if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("helper did not die by SIGKILL (%v): %s", cmd.ProcessState, stderr.String())
		}
	}

	points := 0
	// every step of a write, at the 1st, 2nd and 3rd write
	steps := []string{"version-saved", "temp-created", "temp-written", "temp-synced", "renamed", "dir-synced"}
	for _, step := range steps {
		for n := 1; n <= 3; n++ {
			var stderr bytes.Buffer
			cmd := helperCmd(dir, "toggle", fmt.Sprintf("STACKPILOT_KILL_AT=%s:%d", step, n))
			cmd.Stderr = &stderr
			if err := cmd.Run(); err == nil {
				t.Fatalf("helper exited normally")
			}
			killed(cmd, &stderr)
			check(fmt.Sprintf("kill at %s #%d", step, n))
			points++
		}
	}
	// random moments while the helper writes in a loop
	r := rand.New(rand.NewSource(time.Now().UnixNano()))
	for points < 220 {
		var stderr bytes.Buffer
		cmd := helperCmd(dir, "toggle")
		cmd.Stderr = &stderr
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, _ := bufio.NewReader(out).ReadString('\n')
		if !strings.HasPrefix(line, "ready") {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("helper did not start: %q %s", line, stderr.String())
		}
		time.Sleep(time.Duration(r.Intn(4000)) * time.Microsecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		killed(cmd, &stderr)
		check(fmt.Sprintf("random kill %d", points))
		points++
	}
	t.Logf("%d SIGKILL points; file seen as A %d times, B %d times; %d kills left a temp file (mid-write)", points, seen["A"], seen["B"], midWrite)
	if seen["A"] == 0 || seen["B"] == 0 || midWrite == 0 {
		t.Fatalf("the kills did not land on both versions and mid-write: A %d, B %d, mid-write %d", seen["A"], seen["B"], midWrite)
	}
	// the lock is free and the leftovers are cleaned by the next write
	st := helperStack(t, dir)
	if _, err := Set(context.Background(), st, SetOptions{Values: []Assignment{{"KEY", "C"}}, LockWait: -1}); err != nil {
		t.Fatalf("write after the kills: %v", err)
	}
	if tmps, _ := filepath.Glob(filepath.Join(dir, ".env.stackpilot-*.tmp")); len(tmps) > 0 {
		t.Errorf("temp files left after a successful write: %v", tmps)
	}
}

// TestEnvConcurrentIncrements: two processes each do 200 locked
// read-modify-write increments of one key through stackops: none is lost.
func TestEnvConcurrentIncrements(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ".env")
	os.WriteFile(path, []byte("# counter\nCOUNTER=0\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(helperCompose), 0o644)
	const n = 200
	var cmds []*exec.Cmd
	var errs []*bytes.Buffer
	for i := 0; i < 2; i++ {
		var stderr bytes.Buffer
		cmd := helperCmd(dir, "incr", fmt.Sprintf("STACKPILOT_ENV_N=%d", n))
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
		errs = append(errs, &stderr)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("helper %d: %v: %s", i, err, errs[i].String())
		}
	}
	d, err := envfile.Parse([]byte(readFile(t, path)), nil)
	if err != nil {
		t.Fatal(err)
	}
	v, _, _ := d.Value("COUNTER", nil)
	if v != strconv.Itoa(2*n) {
		t.Fatalf("COUNTER=%s after 2×%d locked increments, want %d", v, n, 2*n)
	}
	if !strings.HasPrefix(readFile(t, path), "# counter\n") {
		t.Errorf("the comment was lost")
	}
	versions, _ := filepath.Glob(filepath.Join(dir, ".stackpilot", "env-versions", "*", "*.env"))
	if len(versions) != 10 {
		t.Errorf("%d versions kept, want 10", len(versions))
	}
}
