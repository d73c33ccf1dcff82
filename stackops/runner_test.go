package stackops

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestCmdStringQuotes(t *testing.T) {
	c := Cmd{Args: []string{"docker", "compose", "--file", "/a b/c.yml", "it's", ""}}
	if got, want := c.String(), `docker compose --file '/a b/c.yml' 'it'\''s' ''`; got != want {
		t.Fatalf("got %s want %s", got, want)
	}
}

func TestExecRunnerExitCode(t *testing.T) {
	err := (&ExecRunner{}).Run(context.Background(), Cmd{Args: []string{"sh", "-c", "exit 3"}})
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 3 {
		t.Fatalf("got %v", err)
	}
	if err := (&ExecRunner{}).Run(context.Background(), Cmd{Args: []string{"no-such-program-xyz"}}); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("missing program: %v", err)
	}
}

func TestExecRunnerTrace(t *testing.T) {
	var lines []string
	r := &ExecRunner{Trace: func(l string) { lines = append(lines, l) }}
	if err := r.Run(context.Background(), Cmd{Args: []string{"true", "a b"}}); err != nil {
		t.Fatal(err)
	}
	if len(lines) != 1 || lines[0] != "true 'a b'" {
		t.Fatalf("trace %q", lines)
	}
}

// An interrupt from the terminal reaches the child from the kernel; the runner
// must not send it a second one, and must wait for it to finish.
func TestExecRunnerWaitsOnInterruptWithoutSignalling(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Fatal("sh not found: the runner is tested on a real child process")
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() {
		// The child ignores nothing: a SIGTERM/SIGINT from the runner would make it print "signalled".
		done <- (&ExecRunner{}).Run(ctx, Cmd{Args: []string{"sh", "-c", `trap 'echo signalled; exit 9' TERM INT; sleep 0.6; echo finished`}, Stdout: &out})
	}()
	time.Sleep(200 * time.Millisecond)
	cancel(ErrInterrupted)
	err := <-done
	if strings.Contains(out.String(), "signalled") || !strings.Contains(out.String(), "finished") {
		t.Fatalf("child output %q: the runner signalled it or did not wait", out.String())
	}
	if err != nil {
		t.Fatalf("a child that finished its work is a success: %v", err)
	}
}

func TestExecRunnerTerminatesOnOtherCancellation(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	out := &readyBuffer{ready: make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		done <- (&ExecRunner{}).Run(ctx, Cmd{Args: []string{"sh", "-c", `trap 'echo terminated; exit 9' TERM; echo ready; sleep 5 & wait`}, Stdout: out})
	}()
	// cancel once the child's trap is in place (a loaded machine may take
	// longer than any fixed pause to start sh)
	select {
	case <-out.ready:
	case <-time.After(10 * time.Second):
		t.Fatal("the child never started")
	}
	cancel(errors.New("deadline"))
	select {
	case err := <-done:
		if !strings.Contains(out.String(), "terminated") || err == nil {
			t.Fatalf("out %q err %v", out.String(), err)
		}
	case <-time.After(4 * time.Second):
		t.Fatal("child not terminated")
	}
}

// readyBuffer collects a child's output and closes ready once "ready" is in it.
type readyBuffer struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	ready chan struct{}
	seen  bool
}

func (b *readyBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.buf.Write(p)
	if !b.seen && strings.Contains(b.buf.String(), "ready") {
		b.seen = true
		close(b.ready)
	}
	return n, err
}

func (b *readyBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestExecRunnerKillSwitch(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	kill := make(chan struct{})
	ctx = WithKillSwitch(ctx, kill)
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		done <- (&ExecRunner{}).Run(ctx, Cmd{Args: []string{"sh", "-c", `trap '' INT TERM; sleep 5`}})
	}()
	time.Sleep(200 * time.Millisecond)
	cancel(ErrInterrupted)
	time.Sleep(100 * time.Millisecond)
	close(kill)
	select {
	case err := <-done:
		if !errors.Is(err, ErrInterrupted) {
			t.Fatalf("err %v", err)
		}
		if time.Since(start) > 3*time.Second {
			t.Fatal("kill switch did not kill")
		}
	case <-time.After(4 * time.Second):
		t.Fatal("kill switch did not kill")
	}
}

// startOwnGroup runs script in its own process group under ctx and waits
// until it prints "LABEL N ready", returning N, the output and Run's result.
func startOwnGroup(t *testing.T, ctx context.Context, script, label string) (int, *readyBuffer, chan error) {
	t.Helper()
	out := &readyBuffer{ready: make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		done <- (&ExecRunner{}).Run(ctx, Cmd{OwnGroup: true, Stdout: out, Args: []string{"sh", "-c", script}})
	}()
	select {
	case <-out.ready:
	case <-time.After(10 * time.Second):
		t.Fatal("the child never started")
	}
	var n int
	if _, err := fmt.Sscanf(out.String(), label+" %d", &n); err != nil {
		t.Fatalf("child output %q: %v", out.String(), err)
	}
	return n, out, done
}

// A child in its own process group does not get the terminal's Ctrl-C: the
// runner passes the interrupt on itself, once, to the whole group.
func TestExecRunnerOwnGroupForwardsInterrupt(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	pid, out, done := startOwnGroup(t, ctx, `trap 'echo interrupted; exit 9' INT; echo "pid $$ ready"; sleep 5 & wait`, "pid")
	if pg, err := syscall.Getpgid(pid); err != nil || pg != pid || pg == syscall.Getpgrp() {
		t.Fatalf("child %d is in process group %d (ours %d, err %v): not a group of its own", pid, pg, syscall.Getpgrp(), err)
	}
	cancel(ErrInterrupted)
	select {
	case err := <-done:
		if !strings.Contains(out.String(), "interrupted") || !errors.Is(err, ErrInterrupted) {
			t.Fatalf("out %q err %v: the interrupt was not passed on", out.String(), err)
		}
	case <-time.After(4 * time.Second):
		t.Fatal("the child was not interrupted")
	}
}

// The kill switch kills the whole group: a grandchild (as the compose plugin
// is the docker CLI's) does not outlive its parent.
func TestExecRunnerOwnGroupKillSwitchKillsGrandchildren(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	kill := make(chan struct{})
	ctx = WithKillSwitch(ctx, kill)
	// Ignored signals are inherited: only SIGKILL ends the sleep.
	grandchild, _, done := startOwnGroup(t, ctx, `trap '' INT TERM; sleep 30 & echo "grandchild $! ready"; wait`, "grandchild")
	cancel(ErrInterrupted)
	time.Sleep(100 * time.Millisecond)
	close(kill)
	select {
	case err := <-done:
		if !errors.Is(err, ErrInterrupted) {
			t.Fatalf("err %v", err)
		}
	case <-time.After(4 * time.Second):
		t.Fatal("kill switch did not kill")
	}
	deadline := time.Now().Add(3 * time.Second)
	for alive(grandchild) {
		if time.Now().After(deadline) {
			t.Fatalf("grandchild %d outlived the kill switch", grandchild)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// alive reports whether pid is a live (not zombie) process.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndex(s, ")")
	return i > 0 && len(s) > i+2 && s[i+2] != 'Z'
}

// Signals passed to a child: each one when it has a process group of its
// own; in stackpilot's group, not the interrupt (the terminal's Ctrl-C
// reached it already) — and the child's exit code, or 128 + the signal
// that killed it, comes back.
func TestExecRunnerPassesSignals(t *testing.T) {
	script := `trap 'echo INT' INT; trap 'echo TERM; exit 5' TERM; echo ready; while :; do sleep 0.05; done`
	for _, c := range []struct {
		newGroup bool
		want     string
	}{{true, "ready\nINT\nTERM\n"}, {false, "ready\nTERM\n"}} {
		sigs := make(chan os.Signal, 2)
		out := &readyBuffer{ready: make(chan struct{})}
		done := make(chan error, 1)
		go func() {
			done <- (&ExecRunner{}).Run(context.Background(), Cmd{Args: []string{"sh", "-c", script}, Stdout: out, Signals: sigs, OwnGroup: c.newGroup})
		}()
		<-out.ready
		sigs <- syscall.SIGINT
		time.Sleep(300 * time.Millisecond)
		sigs <- syscall.SIGTERM
		err := <-done
		var ee *ExitError
		if !errors.As(err, &ee) || ee.Code != 5 || out.String() != c.want {
			t.Errorf("new group %v: %v, output %q, want exit 5 and %q", c.newGroup, err, out.String(), c.want)
		}
	}
	err := (&ExecRunner{}).Run(context.Background(), Cmd{Args: []string{"sh", "-c", "kill -KILL $$"}})
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 137 {
		t.Errorf("killed by SIGKILL: %v, want exit code 137", err)
	}
}
