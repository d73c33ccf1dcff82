package startup

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The tests run this test binary again as a child, so that each sees a
// fresh process: what the runtime chose, startup's GOMAXPROCS(1) from
// package init, and Parallel's effect, before testing changes anything.
const childEnv = "STARTUP_TEST_CHILD"

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "":
		os.Exit(m.Run())
	case "parallel":
		start := runtime.GOMAXPROCS(0)
		Parallel()
		fmt.Printf("chosen=%d start=%d after=%d\n", chosen, start, runtime.GOMAXPROCS(0))
	case "affinity":
		Parallel()
		before := runtime.GOMAXPROCS(0)
		if err := pinToOneCPU(); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		// The runtime looks at most once a second.
		deadline := time.Now().Add(10 * time.Second)
		for runtime.GOMAXPROCS(0) != 1 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		fmt.Printf("before=%d after=%d\n", before, runtime.GOMAXPROCS(0))
	}
	os.Exit(0)
}

// pinToOneCPU lets every thread of this process run on one CPU only, as
// `taskset -a -p` would.
func pinToOneCPU() error {
	var self unix.CPUSet
	if err := unix.SchedGetaffinity(0, &self); err != nil {
		return err
	}
	var one unix.CPUSet
	for cpu := 0; cpu < 1024; cpu++ {
		if self.IsSet(cpu) {
			one.Set(cpu)
			break
		}
	}
	for range 2 { // threads started meanwhile inherit the mask from a pinned one, or are caught the second time
		tasks, err := filepath.Glob("/proc/self/task/*")
		if err != nil {
			return err
		}
		for _, t := range tasks {
			tid, _ := strconv.Atoi(filepath.Base(t))
			if err := unix.SchedSetaffinity(tid, &one); err != nil && err != unix.ESRCH {
				return err
			}
		}
	}
	return nil
}

func runChild(t *testing.T, mode string, env ...string) map[string]int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+mode)
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child %s: %v\n%s", mode, err, out)
	}
	got := map[string]int{}
	for _, f := range strings.Fields(string(out)) {
		k, v, ok := strings.Cut(f, "=")
		n, err := strconv.Atoi(v)
		if !ok || err != nil {
			t.Fatalf("child %s printed %q", mode, out)
		}
		got[k] = n
	}
	return got
}

// withoutGOMAXPROCS is the environment with GOMAXPROCS unset.
func withoutGOMAXPROCS(t *testing.T) {
	if v, ok := os.LookupEnv("GOMAXPROCS"); ok {
		t.Setenv("GOMAXPROCS", v) // restored after the test
		os.Unsetenv("GOMAXPROCS")
	}
}

func TestStartsOnOneAndParallelRestoresWhatTheRuntimeChose(t *testing.T) {
	withoutGOMAXPROCS(t)
	got := runChild(t, "parallel")
	if got["start"] != 1 {
		t.Errorf("GOMAXPROCS after package init = %d, want 1", got["start"])
	}
	if got["after"] != got["chosen"] || got["chosen"] < 1 {
		t.Errorf("after Parallel GOMAXPROCS = %d, want the runtime's choice %d", got["after"], got["chosen"])
	}
}

func TestParallelKeepsGOMAXPROCSFromTheEnvironment(t *testing.T) {
	withoutGOMAXPROCS(t)
	def := runChild(t, "parallel")["chosen"]
	// A value the default is not, so that restoring the default would show.
	want := def + 1
	got := runChild(t, "parallel", "GOMAXPROCS="+strconv.Itoa(want))
	if got["chosen"] != want || got["start"] != 1 || got["after"] != want {
		t.Errorf("GOMAXPROCS=%d in the environment: got %v, want chosen, after = %d and start = 1", want, got, want)
	}
	// Not a positive whole number: the runtime ignores it, and so does Parallel.
	got = runChild(t, "parallel", "GOMAXPROCS=lots")
	if got["chosen"] != def || got["after"] != def {
		t.Errorf("GOMAXPROCS=lots: got %v, want chosen, after = %d", got, def)
	}
}

// After Parallel the runtime manages GOMAXPROCS again: when the process may
// use fewer CPUs, it follows. A fixed runtime.GOMAXPROCS(n) would stay at n.
func TestParallelLeavesTheRuntimeUpdatingGOMAXPROCS(t *testing.T) {
	withoutGOMAXPROCS(t)
	got := runChild(t, "affinity")
	if got["before"] < 2 {
		t.Skipf("the runtime chose %d processor(s): nothing to take away", got["before"])
	}
	if got["after"] != 1 {
		t.Errorf("GOMAXPROCS %d → %d after the process was pinned to one CPU, want 1 (the runtime's automatic updates are off)", got["before"], got["after"])
	}
}
