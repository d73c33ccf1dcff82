package engine_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stackpilot/stackpilot/internal/itest"
	"github.com/stackpilot/stackpilot/stackops/internal/engine"
)

// An exec with a TTY and stdin, as a task on a terminal runs: one raw
// stream (stderr included), keys in, the size set and changed, the exit
// code read at the end; and without a TTY, stdout and stderr apart and
// stdin closed to end the input.
func TestIntegrationEngineExecTTYStdinResize(t *testing.T) {
	itest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := engine.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	var cfg engine.ContainerCreate
	cfg.Image = itest.BusyboxImage
	cfg.Cmd = []string{"sleep", "600"}
	name := itest.UniqueName("spit-exec")
	id, err := c.CreateContainer(ctx, name, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.RemoveContainer(context.Background(), id, true, true) })
	if err := c.StartContainer(ctx, id); err != nil {
		t.Fatal(err)
	}

	// TTY: the script waits for a line, so the size is set before it asks.
	execID, err := c.ExecCreate(ctx, id, engine.ExecConfig{
		Cmd:         []string{"sh", "-c", `read line; echo "got:$line"; tty; stty size; echo oops >&2; read again; stty size; exit 7`},
		AttachStdin: true, AttachStdout: true, AttachStderr: true, Tty: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.ExecAttach(ctx, execID, engine.ExecAttachOptions{TTY: true, Width: 91, Height: 27})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := c.ExecResize(ctx, execID, 91, 27); err != nil {
		t.Fatalf("resize: %v", err)
	}
	var out itest.SyncBuffer
	copied := make(chan error, 1)
	go func() { copied <- s.Copy(&out, nil) }()
	if _, err := s.Write([]byte("hello\r")); err != nil {
		t.Fatal(err)
	}
	itest.Eventually(t, 30*time.Second, "the first size", func() bool { return strings.Contains(out.String(), "27 91") })
	if err := c.ExecResize(ctx, execID, 60, 20); err != nil {
		t.Fatalf("resize: %v", err)
	}
	if _, err := s.Write([]byte("x\r")); err != nil {
		t.Fatal(err)
	}
	if err := <-copied; err != nil {
		t.Fatalf("copy: %v", err)
	}
	code, err := c.ExecExitCode(ctx, execID)
	if err != nil || code != 7 {
		t.Fatalf("exit code %d %v, want 7", code, err)
	}
	got := out.String()
	for _, want := range []string{"got:hello\r\n", "/dev/pts/", "27 91\r\n", "oops\r\n", "20 60\r\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("TTY output lacks %q:\n%q", want, got)
		}
	}

	// No TTY: two streams, and the end of stdin ends cat.
	execID, err = c.ExecCreate(ctx, id, engine.ExecConfig{
		Cmd: []string{"sh", "-c", "cat; echo err >&2; tty; exit 3"}, AttachStdin: true, AttachStdout: true, AttachStderr: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code, err = c.ExecRun(ctx, execID, strings.NewReader("piped\n"), &stdout, &stderr)
	if err != nil || code != 3 {
		t.Fatalf("exit code %d %v, want 3", code, err)
	}
	if stdout.String() != "piped\nnot a tty\n" || stderr.String() != "err\n" {
		t.Fatalf("stdout %q stderr %q", stdout.String(), stderr.String())
	}
}
