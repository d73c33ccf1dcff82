package itest

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	expect "github.com/Netflix/go-expect"
	"github.com/creack/pty"
	"github.com/hinshun/vt10x"
	"golang.org/x/sys/unix"
)

// Terminal is stackpilot running in a pseudo-terminal, driven like a person
// would: wait for text, press keys, read the screen.
type Terminal struct {
	t       testing.TB
	Console *expect.Console
	answers *terminalAnswers
	screen  vt10x.Terminal
	raw     *SyncBuffer
	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
}

// SyncBuffer is a bytes.Buffer safe to read while another goroutine (a
// process's output copier) writes it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *SyncBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *SyncBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// terminalAnswers carries the emulated terminal's answers to queries (the
// cursor position report survey's Input asks for) back to the program as
// input, as a real terminal does; without them such a prompt waits forever.
type terminalAnswers struct {
	mu         sync.Mutex
	c          *expect.Console
	answeredAt time.Time
	pending    bool
}

// takePending reports when the last answer was sent, if one was sent since
// the last call.
func (a *terminalAnswers) takePending() (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	at, p := a.answeredAt, a.pending
	a.pending = false
	return at, p
}

func (a *terminalAnswers) set(c *expect.Console) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.c = c
}

func (a *terminalAnswers) Write(p []byte) (int, error) {
	a.mu.Lock()
	c := a.c
	a.answeredAt, a.pending = time.Now(), true
	a.mu.Unlock()
	if c == nil {
		return len(p), nil
	}
	return c.Write(p)
}

// Keys for Send.
const (
	KeyEnter = "\r"
	KeyDown  = "\x1b[B"
	KeyUp    = "\x1b[A"
	KeySpace = " "
	KeyCtrlC = "\x03"
)

// StartTerminal starts the stackpilot binary with args in dir, in a 120×40 pseudo-terminal.
func StartTerminal(t testing.TB, dir string, env []string, args ...string) *Terminal {
	t.Helper()
	return StartTerminalWith(t, Binary(t), dir, env, args...)
}

// StartTerminalWith is StartTerminal for another binary (an installed release).
func StartTerminalWith(t testing.TB, binary, dir string, env []string, args ...string) *Terminal {
	t.Helper()
	answers := &terminalAnswers{}
	screen := vt10x.New(vt10x.WithSize(120, 40), vt10x.WithWriter(answers))
	raw := &SyncBuffer{}
	c, err := expect.NewConsole(expect.WithStdout(screen, raw), expect.WithDefaultTimeout(60*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	answers.set(c)
	if err := pty.Setsize(c.Tty(), &pty.Winsize{Rows: 40, Cols: 120}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Env = append(BaseEnv(), append([]string{"TERM=xterm-256color"}, env...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = c.Tty(), c.Tty(), c.Tty()
	// A session with the pty as controlling terminal, as a shell would do, so
	// Ctrl-C typed on the terminal becomes SIGINT for the foreground group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	term := &Terminal{t: t, Console: c, answers: answers, screen: screen, raw: raw, cmd: cmd, done: make(chan struct{})}
	go func() {
		term.waitErr = cmd.Wait()
		close(term.done)
	}()
	t.Cleanup(func() {
		select {
		case <-term.done:
		default:
			_ = cmd.Process.Kill()
			<-term.done
		}
		c.Close()
	})
	return term
}

// Expect waits until s appears in the output (escape codes and all).
func (term *Terminal) Expect(s string) {
	term.t.Helper()
	if _, err := term.Console.ExpectString(s); err != nil {
		term.t.Fatalf("waiting for %q: %v\n--- screen ---\n%s\n--- raw tail ---\n%q", s, err, term.Screen(), tail(term.raw.String(), 2000))
	}
}

// Send types keys. Before each key it waits until the program has read
// everything typed so far (the pty's input queue is empty): survey reads the
// terminal's cursor-position answer through a throw-away buffered reader, so
// a key that arrives in the same read as that answer would be lost — on a real
// terminal too, but there a person does not type within microseconds.
func (term *Terminal) Send(keys ...string) {
	term.t.Helper()
	for _, k := range keys {
		term.waitInputRead()
		if _, err := term.Console.Send(k); err != nil {
			term.t.Fatalf("send %q: %v", k, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitInputRead waits (up to 10 s) until the program has read the
// terminal's last answer to a query. The kernel hands bytes written to the
// pty master to the program's input queue a moment later, so an empty queue
// right after the answer proves nothing: wait until the queue has been seen
// holding the answer and then empty, or, if it was never seen holding it,
// until 300 ms have passed since the answer.
func (term *Terminal) waitInputRead() {
	answeredAt, pending := term.answers.takePending()
	if !pending {
		return
	}
	fd := int(term.Console.Tty().Fd())
	seen := false
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		n, err := unix.IoctlGetInt(fd, unix.TIOCINQ)
		if err != nil {
			time.Sleep(300 * time.Millisecond)
			return
		}
		switch {
		case n > 0:
			seen = true
		case seen || time.Since(answeredAt) > 300*time.Millisecond:
			return
		}
	}
}

// SendLine types text and Enter.
func (term *Terminal) SendLine(s string) {
	term.t.Helper()
	term.Send(s, KeyEnter)
}

// Screen is the rendered terminal contents.
func (term *Terminal) Screen() string {
	return term.screen.String()
}

// Raw is everything the program wrote, escape codes included.
func (term *Terminal) Raw() string { return term.raw.String() }

// Wait waits for the program to exit and returns its exit code.
func (term *Terminal) Wait(timeout time.Duration) int {
	term.t.Helper()
	// Keep draining the pty so the program never blocks on a full buffer.
	drained := make(chan struct{})
	go func() {
		_, _ = term.Console.Expect(expect.EOF, expect.PTSClosed, expect.WithTimeout(timeout+10*time.Second))
		close(drained)
	}()
	select {
	case <-term.done:
	case <-time.After(timeout):
		term.t.Fatalf("program did not exit within %s\n--- screen ---\n%s", timeout, term.Screen())
	}
	// The program is gone: close our end of the terminal so reading hits the
	// end, and everything it wrote is in Raw and Screen.
	_ = term.Console.Tty().Close()
	select {
	case <-drained:
	case <-time.After(5 * time.Second):
	}
	var ee *exec.ExitError
	if errors.As(term.waitErr, &ee) {
		if st, ok := ee.Sys().(syscall.WaitStatus); ok && st.Signaled() {
			return 128 + int(st.Signal())
		}
		return ee.ExitCode()
	}
	if term.waitErr != nil {
		term.t.Fatalf("wait: %v", term.waitErr)
	}
	return 0
}

// Signal sends sig to the program's process group (as the terminal would).
func (term *Terminal) Signal(sig os.Signal) {
	_ = syscall.Kill(-term.cmd.Process.Pid, sig.(syscall.Signal))
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// ScreenContains reports whether the rendered screen shows s.
func (term *Terminal) ScreenContains(s string) bool {
	return strings.Contains(term.Screen(), s)
}

// PID is the program's process id (it leads its own session and process group).
func (term *Terminal) PID() int { return term.cmd.Process.Pid }
