package steps

import (
	"errors"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// MakeRaw puts the terminal stdin reads from in raw mode — every key,
// Ctrl-C included, is read as it is typed instead of being turned into a
// signal or held until Enter — for a program that gets a terminal of its
// own (a task's TTY in a container). restore puts the terminal back as it
// was; it may be called more than once, and must be called on every path.
func (s *IOStreams) MakeRaw() (restore func(), err error) {
	f, ok := s.In.(*os.File)
	if !ok || !s.inTTY {
		return func() {}, errors.New("stdin is not a terminal")
	}
	fd := int(f.Fd())
	state, err := term.MakeRaw(fd)
	if err != nil {
		return func() {}, err
	}
	var once sync.Once
	return func() { once.Do(func() { _ = term.Restore(fd, state) }) }, nil
}

// TerminalSize is the size, in characters, of the terminal stdout (else
// stdin) is; zero when neither is one.
func (s *IOStreams) TerminalSize() (width, height int) {
	for _, st := range []any{s.Out, s.In} {
		if f, ok := st.(*os.File); ok {
			if w, h, err := term.GetSize(int(f.Fd())); err == nil {
				return w, h
			}
		}
	}
	return 0, 0
}

// WatchSize calls changed with the terminal's new size each time it
// changes (SIGWINCH), from its own goroutine, until stop is called.
func (s *IOStreams) WatchSize(changed func(width, height int)) (stop func()) {
	sigs := make(chan os.Signal, 1)
	done := make(chan struct{})
	signal.Notify(sigs, syscall.SIGWINCH)
	go func() {
		for {
			select {
			case <-done:
				return
			case <-sigs:
				changed(s.TerminalSize())
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			signal.Stop(sigs)
			close(done)
		})
	}
}

// KeyReader reads what is typed on the terminal stdin is, for streaming it
// to a task; Close makes a pending Read return io.EOF without waiting for
// a key, so the next prompt gets every key typed after the task ended. (A
// plain read of stdin left blocked in a goroutine would take the first
// one.) For stdin that is not a terminal it is stdin itself.
func (s *IOStreams) KeyReader() io.ReadCloser {
	f, ok := s.In.(*os.File)
	if !ok || !s.inTTY {
		return io.NopCloser(s.In)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return io.NopCloser(s.In)
	}
	return &keyReader{fd: int(f.Fd()), wakeR: r, wakeW: w}
}

type keyReader struct {
	fd           int
	wakeR, wakeW *os.File
	closeOnce    sync.Once
	mu           sync.Mutex
	done         bool
}

func (k *keyReader) Read(p []byte) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.done {
		return 0, io.EOF
	}
	for {
		fds := []unix.PollFd{{Fd: int32(k.fd), Events: unix.POLLIN}, {Fd: int32(k.wakeR.Fd()), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, -1); err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return 0, err
		}
		if fds[1].Revents != 0 {
			k.done = true
			_ = k.wakeR.Close()
			return 0, io.EOF
		}
		if fds[0].Revents&(unix.POLLIN|unix.POLLHUP|unix.POLLERR) == 0 {
			continue
		}
		n, err := unix.Read(k.fd, p)
		switch {
		case errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN):
			continue
		case err != nil:
			return 0, err
		case n == 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

// Close wakes a pending Read, which returns io.EOF.
func (k *keyReader) Close() error {
	k.closeOnce.Do(func() {
		_, _ = k.wakeW.Write([]byte{0})
		_ = k.wakeW.Close()
	})
	return nil
}
