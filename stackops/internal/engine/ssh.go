package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/docker/cli/cli/connhelper"
	"github.com/docker/cli/cli/connhelper/ssh"
)

// sshConnectTimeout is ssh's ConnectTimeout: an unreachable server is an
// error after this long, never a hang. (The docker CLI uses 30 s.)
const sshConnectTimeout = 10

// sshDialer reaches an engine over ssh the docker CLI's way — `ssh … docker
// system dial-stdio` on the server, one per API connection, through the
// docker CLI's own connection helper — but over ONE ssh connection per
// stackpilot command: the first dial starts an OpenSSH connection master
// (ControlMaster, -N) and every API connection after it is a channel of that
// connection (`ssh -S socket`). So a command authenticates once, whatever it
// asks: status's concurrent inspects, logs' streams, backup's archives.
//
// The master is started without a terminal (setsid), so ssh never prompts:
// an unknown host key or a refused key is an error that says what to do. It
// ends with stackpilot (Close, else the parent-death signal), and removes its
// control socket when it does.
type sshDialer struct {
	host   string // the ssh:// URL, for messages
	spec   *ssh.Spec
	ctl    string // the master's control socket
	helper *connhelper.ConnectionHelper

	once   sync.Once
	err    error // why the master could not start
	master *exec.Cmd
	exited chan struct{}
	stderr bytes.Buffer // read only once exited is closed (Wait has copied it all)
}

func newSSHDialer(host string) (*sshDialer, error) {
	spec, err := ssh.ParseURL(host)
	if err != nil {
		return nil, fmt.Errorf("docker host %q: %w", host, err)
	}
	dir, err := controlDir()
	if err != nil {
		return nil, err
	}
	d := &sshDialer{host: host, spec: spec, exited: make(chan struct{})}
	d.ctl = filepath.Join(dir, fmt.Sprintf("ssh-%d-%d.sock", os.Getpid(), time.Now().UnixNano()%1e9))
	// Each API connection: a channel of the master's connection, running
	// what the docker CLI runs. Should the master be gone, ssh connects on
	// its own (ControlMaster=no never makes a new master).
	d.helper, err = connhelper.GetConnectionHelperWithSSHOpts(host, []string{
		"-o", "ControlMaster=no",
		"-o", "ControlPath=" + d.ctl,
		"-o", "ConnectTimeout=" + strconv.Itoa(sshConnectTimeout),
	})
	if err != nil {
		return nil, fmt.Errorf("docker host %q: %w", host, err)
	}
	return d, nil
}

// DialContext opens one API connection: the master first, once.
func (d *sshDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d.once.Do(func() { d.err = d.startMaster(ctx) })
	if d.err != nil {
		return nil, d.err
	}
	return d.helper.Dialer(ctx, network, addr)
}

// startMaster runs `ssh -M -N` and waits until its control socket exists,
// which OpenSSH creates once the login succeeded.
func (d *sshDialer) startMaster(ctx context.Context) error {
	args := []string{
		"-o", "ControlMaster=yes",
		"-o", "ControlPath=" + d.ctl,
		"-o", "ControlPersist=no",
		"-o", "ConnectTimeout=" + strconv.Itoa(sshConnectTimeout),
		"-N", "-T",
	}
	target := d.spec.Args()
	if target == nil {
		return fmt.Errorf("docker host %q: not a valid ssh destination", d.host)
	}
	args = append(args, target...)
	d.master = exec.Command("ssh", args...)
	d.master.Stderr = &d.stderr
	// No terminal, so no prompt can hang us; SIGTERM (not KILL) when
	// stackpilot dies, so ssh removes its socket.
	d.master.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	dieWithParent(d.master.SysProcAttr)
	if err := d.master.Start(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return &DaemonError{Host: d.host, Err: ErrUnreachable, Cause: err, Fix: "install the OpenSSH client (Debian: apt-get install openssh-client)"}
		}
		return fmt.Errorf("start ssh: %w", err)
	}
	go func() {
		_ = d.master.Wait()
		close(d.exited)
	}()
	deadline := time.NewTimer(time.Duration(sshConnectTimeout+20) * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if fi, err := os.Stat(d.ctl); err == nil && fi.Mode()&os.ModeSocket != 0 {
			return nil
		}
		select {
		case <-d.exited:
			if err := d.classify(d.stderr.String()); err != nil {
				return err
			}
			return &DaemonError{Host: d.host, Err: ErrUnreachable, Cause: fmt.Errorf("ssh exited: %s", lastLine(d.stderr.String())),
				Fix: "check that `ssh " + d.target() + "` works from this machine"}
		case <-ctx.Done():
			d.Close()
			return context.Cause(ctx)
		case <-deadline.C:
			d.Close()
			return &DaemonError{Host: d.host, Err: ErrUnreachable, Cause: fmt.Errorf("ssh did not finish logging in within %d s", sshConnectTimeout+20),
				Fix: "check that `ssh " + d.target() + "` works from this machine"}
		case <-tick.C:
		}
	}
}

// Close ends the master (and with it every channel) and waits for it, so
// no ssh process outlives the client.
func (d *sshDialer) Close() {
	if d.master == nil || d.master.Process == nil {
		return
	}
	select {
	case <-d.exited:
		return
	default:
	}
	_ = d.master.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(3 * time.Second):
		_ = d.master.Process.Kill()
		<-d.exited
	}
	_ = os.Remove(d.ctl)
}

// target is the ssh command line's destination: [-p PORT] [USER@]HOST.
func (d *sshDialer) target() string {
	t := d.spec.Host
	if d.spec.User != "" {
		t = d.spec.User + "@" + t
	}
	if d.spec.Port != "" {
		t = "-p " + d.spec.Port + " " + t
	}
	return t
}

// classify turns what ssh (or the docker CLI on the server) printed into an
// error that says what failed and what to do; nil when it recognises nothing.
func (d *sshDialer) classify(text string) error {
	line := func(sub string) string {
		for _, l := range strings.Split(text, "\n") {
			if strings.Contains(l, sub) {
				return strings.TrimSpace(l)
			}
		}
		return lastLine(text)
	}
	user, login := d.spec.User, d.spec.User
	if user == "" {
		user, login = "your user", "$USER"
	}
	switch {
	case strings.Contains(text, "REMOTE HOST IDENTIFICATION HAS CHANGED"):
		return &DaemonError{Host: d.host, Err: ErrSSHHostKey, Cause: errors.New("the server's ssh host key has CHANGED since it was recorded"),
			Fix: "if the server was reinstalled, remove the old key with `ssh-keygen -R " + d.spec.Host + "` and connect once with `ssh " + d.target() + "` to record the new one; otherwise do not connect"}
	case strings.Contains(text, "Host key verification failed"), strings.Contains(text, "host key is known for"):
		return &DaemonError{Host: d.host, Err: ErrSSHHostKey, Cause: errors.New("the server's ssh host key is not in known_hosts"),
			Fix: "connect once with `ssh " + d.target() + "`, check the fingerprint it shows and answer yes: that records the key"}
	case strings.Contains(text, "Permission denied ("), strings.Contains(text, "Too many authentication failures"):
		return &DaemonError{Host: d.host, Err: ErrSSHAuth, Cause: errors.New(line("Permission denied")),
			Fix: "the server refused the login as " + user + ": add your public key to ~" + d.spec.User + "/.ssh/authorized_keys on the server, or load your key into ssh-agent (ssh-add)"}
	case strings.Contains(text, "Could not resolve hostname"), strings.Contains(text, "Connection timed out"),
		strings.Contains(text, "Connection refused"), strings.Contains(text, "No route to host"),
		strings.Contains(text, "Network is unreachable"), strings.Contains(text, "Operation timed out"):
		return &DaemonError{Host: d.host, Err: ErrUnreachable, Cause: errors.New(line("ssh: ")),
			Fix: "check the address and that the server's sshd listens (try `ssh " + d.target() + "`)"}
	case strings.Contains(text, "docker: command not found"), strings.Contains(text, "docker: not found"),
		strings.Contains(text, "exit status 127"):
		return &DaemonError{Host: d.host, Err: ErrNoDocker, Cause: errors.New("the server has no docker command"),
			Fix: "install Docker on the server (Debian: apt-get install docker.io), or put docker in the PATH of " + user + "'s non-interactive shell there"}
	case strings.Contains(text, "permission denied while trying to connect to the Docker daemon"),
		strings.Contains(text, "dial unix") && strings.Contains(text, "permission denied"):
		return &DaemonError{Host: d.host, Err: ErrPermissionDenied, Cause: errors.New("permission denied on the server's docker socket"),
			Fix: "on the server, add " + user + " to the docker group (sudo usermod -aG docker " + login + ") and connect again"}
	case strings.Contains(text, "Cannot connect to the Docker daemon"), strings.Contains(text, "Is the docker daemon running"):
		return &DaemonError{Host: d.host, Err: ErrDaemonDown, Cause: errors.New("the docker daemon on the server is not running"),
			Fix: "start it on the server (sudo systemctl start docker)"}
	}
	return nil
}

// diagnose runs what an API connection runs on the server — `docker system
// dial-stdio`, over the master — with nothing to send, and returns what it
// printed: the reason a connection ended before the engine answered (a
// socket the user may not open, no daemon), which the HTTP client's "EOF"
// does not carry. "" when the master never started (its own error said why).
func (d *sshDialer) diagnose(ctx context.Context) string {
	if d.master == nil || d.err != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(sshConnectTimeout)*time.Second)
	defer cancel()
	args := append([]string{"-o", "ControlMaster=no", "-o", "ControlPath=" + d.ctl, "-o", "ConnectTimeout=" + strconv.Itoa(sshConnectTimeout)},
		d.spec.Args("docker", "system", "dial-stdio")...)
	cmd := exec.CommandContext(ctx, "ssh", args...)
	cmd.Stdin = strings.NewReader("")
	out, _ := cmd.CombinedOutput()
	return string(out)
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if s == "" {
		return "no message"
	}
	return s
}

// controlDir is where control sockets live: a directory of this user's
// own (0700) under the temporary directory, checked, with the sockets of
// stackpilot processes that died without cleaning up removed.
func controlDir() (string, error) {
	dir := filepath.Join(os.TempDir(), "stackpilot-ssh-"+strconv.Itoa(os.Getuid()))
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return "", fmt.Errorf("ssh control directory: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return "", fmt.Errorf("ssh control directory: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || fi.Mode().Perm() != 0o700 || !ok || int(st.Uid) != os.Getuid() {
		return "", fmt.Errorf("ssh control directory %s is not a private directory of this user: remove it", dir)
	}
	if entries, err := os.ReadDir(dir); err == nil {
		for _, e := range entries {
			var pid, n int
			if _, err := fmt.Sscanf(e.Name(), "ssh-%d-%d.sock", &pid, &n); err != nil || pid == os.Getpid() {
				continue
			}
			if syscall.Kill(pid, 0) == syscall.ESRCH {
				_ = os.Remove(filepath.Join(dir, e.Name()))
			}
		}
	}
	return dir, nil
}
