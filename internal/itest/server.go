package itest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ServerImage is the "server" built by scripts/build-server-image.sh: Debian
// with its own Docker Engine and sshd, a second machine for remote-host and
// Swarm tests.
const ServerImage = "stackpilot-server:latest"

// serverRunFlags let a container run its own engine on this VM. --privileged
// fails here (the VM's capability set lacks CAP_SYS_RESOURCE: "unable to apply
// caps"), so every capability but that one, no seccomp/apparmor confinement,
// writable system paths and every device; /var/lib/docker is a volume so the
// inner engine's overlay2 sits on the host's filesystem, not on an overlay.
var serverRunFlags = []string{
	"--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE",
	"--security-opt", "seccomp=unconfined",
	"--security-opt", "apparmor=unconfined",
	"--security-opt", "systempaths=unconfined",
	"--device-cgroup-rule", "a *:* rwm",
	"--tmpfs", "/run",
	"--label", "stackpilot.itest=server",
	"--label", ownerLabel,
}

// ownerLabel names the test process that made a server's container, volume
// and network, so a later run can remove what a killed one left behind
// (t.Cleanup does not run when a test binary times out or is killed).
var ownerLabel = "stackpilot.itest.pid=" + strconv.Itoa(os.Getpid())

// serverSetup runs inside a new server container, the authorized public key
// on its stdin. It prints "driver NAME" and "hostkey TYPE KEY" when the inner
// engine answers.
const serverSetup = `set -eu
# The cgroup v1 hierarchies come read-only and the inner engine cannot start
# containers until each is mounted again, writable.
for d in /sys/fs/cgroup/*/; do
  d=${d%/}; s=${d##*/}
  [ -L "$d" ] && continue
  mountpoint -q "$d" || continue
  umount "$d"
  case $s in
    systemd) mount -t cgroup -o none,name=systemd cgroup "$d" ;;
    unified) mount -t cgroup2 cgroup2 "$d" ;;
    *) mount -t cgroup -o "$s" cgroup "$d" ;;
  esac
done
# A host key of its own: every test server is a host never seen before.
ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key
install -d -m 700 /root/.ssh
cat >/root/.ssh/authorized_keys
chmod 600 /root/.ssh/authorized_keys
install -d /run/sshd
/usr/sbin/sshd -E /var/log/sshd.log -o HostKey=/etc/ssh/ssh_host_ed25519_key -o LogLevel=VERBOSE
start_dockerd() {
  # Registries on the test networks speak plain HTTP (RegistryImage).
  # shellcheck disable=SC2086 # DOCKERD_EXTRA is a list of arguments
  setsid dockerd --storage-driver "$1" --insecure-registry 172.16.0.0/12 --insecure-registry 192.168.0.0/16 --insecure-registry 10.0.0.0/8 ${DOCKERD_EXTRA:-} >/var/log/dockerd.log 2>&1 </dev/null &
  i=0
  while [ $i -lt 600 ]; do
    docker version >/dev/null 2>&1 && return 0
    pgrep -x dockerd >/dev/null || return 1
    sleep 0.1; i=$((i+1))
  done
  return 1
}
# overlay2 on the volume; vfs where the kernel refuses overlay nested.
driver=overlay2
if ! start_dockerd overlay2; then
  pkill -x dockerd || true
  driver=vfs
  start_dockerd vfs || { tail -20 /var/log/dockerd.log >&2; exit 1; }
fi
echo "driver $driver"
echo "hostkey $(cut -d' ' -f1,2 /etc/ssh/ssh_host_ed25519_key.pub)"
`

// SSHClient is a test's own ssh identity and trust: a key pair, a
// known_hosts file and an ssh config naming both, and a directory holding an
// `ssh` wrapper that uses that config. Put BinDir first on PATH (Env does) and
// every ssh the docker CLI, Compose or stackpilot starts uses the test's key
// and trusts only the test's servers, without reading or writing the
// machine's ~/.ssh (OpenSSH takes ~ from the password database, not $HOME, so
// a temporary HOME would not do).
type SSHClient struct {
	Dir        string // everything below lives here
	Key        string // private key (public: Key + ".pub")
	KnownHosts string
	Config     string
	BinDir     string // holds the ssh wrapper

	mu sync.Mutex
}

// NewSSHClient makes a new identity in a temporary directory.
func NewSSHClient(t testing.TB) *SSHClient {
	t.Helper()
	c, err := newSSHClient(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newSSHClient(dir string) (*SSHClient, error) {
	c := &SSHClient{
		Dir:        dir,
		Key:        filepath.Join(dir, "id_ed25519"),
		KnownHosts: filepath.Join(dir, "known_hosts"),
		Config:     filepath.Join(dir, "config"),
		BinDir:     filepath.Join(dir, "bin"),
	}
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "stackpilot-test", "-f", c.Key).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("ssh-keygen: %v: %s", err, out)
	}
	if err := os.WriteFile(c.KnownHosts, nil, 0o600); err != nil {
		return nil, err
	}
	return c, c.writeConfig()
}

// With is a client using key and knownHosts ("" keeps this client's) — to
// show what happens with a key the server does not accept, or a host key
// nobody recorded.
func (c *SSHClient) With(t testing.TB, key, knownHosts string) *SSHClient {
	t.Helper()
	dir := t.TempDir()
	v := &SSHClient{Dir: dir, Key: c.Key, KnownHosts: c.KnownHosts, Config: filepath.Join(dir, "config"), BinDir: filepath.Join(dir, "bin")}
	if key != "" {
		v.Key = key
	}
	if knownHosts != "" {
		v.KnownHosts = knownHosts
	}
	if err := v.writeConfig(); err != nil {
		t.Fatal(err)
	}
	return v
}

// writeConfig writes the ssh config and the wrapper that uses it.
func (c *SSHClient) writeConfig() error {
	ssh, err := exec.LookPath("ssh")
	if err != nil {
		return fmt.Errorf("the ssh client is not installed: %w", err)
	}
	config := fmt.Sprintf(`Host *
  User root
  IdentityFile %s
  IdentitiesOnly yes
  UserKnownHostsFile %s
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  BatchMode yes
  ConnectTimeout 10
`, c.Key, c.KnownHosts)
	if err := os.WriteFile(c.Config, []byte(config), 0o600); err != nil {
		return err
	}
	if err := os.MkdirAll(c.BinDir, 0o755); err != nil {
		return err
	}
	wrapper := fmt.Sprintf("#!/bin/sh\nexec %s -F %s \"$@\"\n", ssh, c.Config)
	return os.WriteFile(filepath.Join(c.BinDir, "ssh"), []byte(wrapper), 0o755)
}

// PublicKey is the authorized_keys line of the client's key.
func (c *SSHClient) PublicKey() ([]byte, error) {
	return os.ReadFile(c.Key + ".pub")
}

// Trust records a server's host key in the client's known_hosts.
func (c *SSHClient) Trust(ip, hostKey string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	f, err := os.OpenFile(c.KnownHosts, os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, "%s %s\n", ip, hostKey)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// PathEnv is PATH with the ssh wrapper first.
func (c *SSHClient) PathEnv() string {
	return "PATH=" + c.BinDir + string(os.PathListSeparator) + os.Getenv("PATH")
}

// ServerOptions tunes StartServer. The zero value is a server on a network of
// its own, with the fixture images loaded, reached with a new ssh identity.
type ServerOptions struct {
	// Network is a user bridge network to join; "" creates one, removed at cleanup.
	Network string
	// SSH is the identity to authorize; nil makes a new one.
	SSH *SSHClient
	// Images are loaded into the server's engine; nil means FixtureImage and
	// BusyboxImage, an empty non-nil slice none.
	Images []string
	// TLS makes the server's engine listen on tcp://IP:2376 too, with TLS
	// and client certificates of a CA made for the test (Server.TLS).
	TLS bool
}

// Server is a running "server" container: another machine with its own IP,
// filesystem, sshd and Docker Engine.
type Server struct {
	Name    string // container name (also its hostname)
	IP      string
	Network string
	SSH     *SSHClient
	// Driver is the inner engine's storage driver (overlay2, or vfs as the fallback).
	Driver string
	// Started is how long the start took, images loaded included.
	Started time.Duration
	// TLS holds the certificates when ServerOptions.TLS asked for them.
	TLS *TLSCerts
}

// TLSHost is the server's engine over TLS: tcp://IP:2376 (ServerOptions.TLS).
func (s *Server) TLSHost() string { return "tcp://" + s.IP + ":2376" }

// TLSEnv is what the docker CLI needs to reach the engine over TLS with the
// test's client certificate.
func (s *Server) TLSEnv() []string {
	return []string{"DOCKER_HOST=" + s.TLSHost(), "DOCKER_TLS_VERIFY=1", "DOCKER_CERT_PATH=" + s.TLS.Dir}
}

// Host is the server's engine as DOCKER_HOST: ssh://root@IP.
func (s *Server) Host() string { return "ssh://root@" + s.IP }

// Env is what a command needs to act on the server: DOCKER_HOST and the ssh
// wrapper first on PATH. Append it to a command's environment.
func (s *Server) Env() []string {
	return []string{s.SSH.PathEnv(), "DOCKER_HOST=" + s.Host()}
}

// Exec runs argv inside the server container (not over ssh) and returns its
// combined output.
func (s *Server) Exec(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", append([]string{"exec", s.Name}, args...)...).CombinedOutput()
	return string(out), err
}

// MustExec is Exec failing the test on error.
func (s *Server) MustExec(t testing.TB, args ...string) string {
	t.Helper()
	out, err := s.Exec(args...)
	if err != nil {
		t.Fatalf("in server %s: %v: %v\n%s", s.Name, args, err, out)
	}
	return out
}

// Docker runs the host's docker CLI against the server's engine over ssh and
// returns its stdout, failing the test on error.
func (s *Server) Docker(t testing.TB, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = append(BaseEnv(), s.Env()...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("DOCKER_HOST=%s docker %v: %v\n%s%s", s.Host(), args, err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// SSHLogins counts the ssh sessions the server's sshd has accepted so far.
func (s *Server) SSHLogins(t testing.TB) int {
	t.Helper()
	out := s.MustExec(t, "cat", "/var/log/sshd.log")
	return strings.Count(out, "Accepted publickey")
}

var (
	serverImageOnce sync.Once
	serverImageErr  error
)

// RequireServer is Require plus the server image: it skips (or fails, with
// STACKPILOT_REQUIRE_DOCKER) when scripts/build-server-image.sh has not run.
func RequireServer(t testing.TB) {
	t.Helper()
	Require(t)
	serverImageOnce.Do(func() {
		if err := exec.Command("docker", "image", "inspect", ServerImage).Run(); err != nil {
			serverImageErr = fmt.Errorf("image %s missing (scripts/build-server-image.sh builds it)", ServerImage)
			return
		}
		if _, err := exec.LookPath("ssh"); err != nil {
			serverImageErr = fmt.Errorf("the ssh client is not installed")
		}
		removeOrphanServers()
	})
	if serverImageErr == nil {
		return
	}
	if os.Getenv("STACKPILOT_REQUIRE_DOCKER") != "" {
		t.Fatalf("integration test needs a server: %v (STACKPILOT_REQUIRE_DOCKER is set, so this fails instead of skipping)", serverImageErr)
	}
	t.Skipf("SKIP (no server image): %v", serverImageErr)
}

// StartServer starts a server container and returns when its engine answers
// over ssh with the images loaded. Everything it made (container, volume,
// network) is removed when the test ends.
func StartServer(t testing.TB, opts ServerOptions) *Server {
	t.Helper()
	RequireServer(t)
	if opts.SSH == nil {
		opts.SSH = NewSSHClient(t)
	}
	if opts.Network == "" {
		opts.Network = NewNetwork(t)
	}
	s, err := startServer(t, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// NewNetwork creates a user bridge network, removed when the test ends.
func NewNetwork(t testing.TB) string {
	t.Helper()
	name := UniqueName("spnet")
	if out, err := exec.Command("docker", "network", "create", "--label", "stackpilot.itest=server", "--label", ownerLabel, name).CombinedOutput(); err != nil {
		t.Fatalf("docker network create: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "network", "rm", name).Run() })
	return name
}

// startServer does StartServer's work without failing the test, so several
// servers can start at once. Cleanups are registered as soon as there is
// something to remove.
func startServer(t testing.TB, opts ServerOptions) (*Server, error) {
	begin := time.Now()
	name := UniqueName("spsrv")
	s := &Server{Name: name, Network: opts.Network, SSH: opts.SSH}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	docker := func(stdin []byte, args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "docker", args...)
		if stdin != nil {
			cmd.Stdin = bytes.NewReader(stdin)
		}
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			return stdout.String(), fmt.Errorf("docker %s: %v: %s", strings.Join(args[:min(len(args), 2)], " "), err, strings.TrimSpace(stderr.String()))
		}
		return stdout.String(), nil
	}

	volume := name + "-docker"
	if _, err := docker(nil, "volume", "create", "--label", "stackpilot.itest=server", "--label", ownerLabel, volume); err != nil {
		return nil, err
	}
	t.Cleanup(func() {
		_ = exec.Command("docker", "rm", "-f", "-v", name).Run()
		_ = exec.Command("docker", "volume", "rm", "-f", volume).Run()
	})
	args := []string{"run", "-d", "--name", name, "--hostname", name, "--network", opts.Network,
		"-v", volume + ":/var/lib/docker"}
	args = append(args, serverRunFlags...)
	args = append(args, ServerImage, "sleep", "infinity")
	if _, err := docker(nil, args...); err != nil {
		return nil, err
	}
	ip, err := docker(nil, "inspect", "-f", `{{(index .NetworkSettings.Networks "`+opts.Network+`").IPAddress}}`, name)
	if err != nil {
		return nil, err
	}
	s.IP = strings.TrimSpace(ip)

	pub, err := opts.SSH.PublicKey()
	if err != nil {
		return nil, err
	}
	setup := []string{"exec", "-i"}
	if opts.TLS {
		s.TLS = NewTLSCerts(t, s.IP)
		for _, f := range []string{"ca.pem", "server-cert.pem", "server-key.pem"} {
			b, err := os.ReadFile(filepath.Join(s.TLS.Dir, f))
			if err != nil {
				return nil, err
			}
			if _, err := docker(b, "exec", "-i", name, "sh", "-c", "mkdir -p /etc/docker/tls && cat >/etc/docker/tls/"+f); err != nil {
				return nil, err
			}
		}
		setup = append(setup, "-e", "DOCKERD_EXTRA=-H unix:///var/run/docker.sock -H tcp://0.0.0.0:2376 --tlsverify --tlscacert /etc/docker/tls/ca.pem --tlscert /etc/docker/tls/server-cert.pem --tlskey /etc/docker/tls/server-key.pem")
	}
	out, err := docker(pub, append(setup, name, "sh", "-c", serverSetup)...)
	if err != nil {
		return nil, fmt.Errorf("server %s set-up: %w\n%s", name, err, out)
	}
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "driver "); ok {
			s.Driver = v
		}
		if v, ok := strings.CutPrefix(line, "hostkey "); ok {
			if err := opts.SSH.Trust(s.IP, v); err != nil {
				return nil, err
			}
		}
	}

	images := opts.Images
	if images == nil {
		images = []string{FixtureImage, BusyboxImage}
	}
	if len(images) > 0 {
		if err := loadImages(ctx, name, images); err != nil {
			return nil, err
		}
	}
	s.Started = time.Since(begin)
	return s, nil
}

// loadImages copies images from the host's engine into the server's, through
// the two engines' APIs (docker save | docker load): no registry.
func loadImages(ctx context.Context, server string, images []string) error {
	save := exec.CommandContext(ctx, "docker", append([]string{"save"}, images...)...)
	load := exec.CommandContext(ctx, "docker", "exec", "-i", server, "docker", "load", "-q")
	pipe, err := save.StdoutPipe()
	if err != nil {
		return err
	}
	load.Stdin = pipe
	var saveErr, loadOut bytes.Buffer
	save.Stderr = &saveErr
	load.Stdout, load.Stderr = &loadOut, &loadOut
	if err := save.Start(); err != nil {
		return err
	}
	lerr := load.Run()
	serr := save.Wait()
	if serr != nil {
		return fmt.Errorf("docker save %v: %v: %s", images, serr, saveErr.String())
	}
	if lerr != nil {
		return fmt.Errorf("docker load in %s: %v: %s", server, lerr, loadOut.String())
	}
	return nil
}

// Swarm is a Docker Swarm of server containers on one network: one manager
// and the rest workers.
type Swarm struct {
	Manager *Server
	Workers []*Server
	Network string
	SSH     *SSHClient
	// Started is how long the whole start took (servers, images, joins, all nodes Ready).
	Started time.Duration
}

// Nodes are the manager then the workers.
func (w *Swarm) Nodes() []*Server { return append([]*Server{w.Manager}, w.Workers...) }

// StartSwarm starts n servers at once (n ≥ 1) on one network, makes the first
// a Swarm manager and joins the others as workers, and returns when the
// manager sees every node Ready. The servers share one ssh identity.
func StartSwarm(t testing.TB, n int) *Swarm {
	t.Helper()
	RequireServer(t)
	if n < 1 {
		t.Fatalf("StartSwarm: n = %d, need at least 1", n)
	}
	begin := time.Now()
	opts := ServerOptions{Network: NewNetwork(t), SSH: NewSSHClient(t)}
	servers := make([]*Server, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			servers[i], errs[i] = startServer(t, opts)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	w := &Swarm{Manager: servers[0], Workers: servers[1:], Network: opts.Network, SSH: opts.SSH}
	w.Manager.MustExec(t, "docker", "swarm", "init", "--advertise-addr", w.Manager.IP)
	token := strings.TrimSpace(w.Manager.MustExec(t, "docker", "swarm", "join-token", "-q", "worker"))
	for _, s := range w.Workers {
		s.MustExec(t, "docker", "swarm", "join", "--token", token, "--advertise-addr", s.IP, w.Manager.IP+":2377")
	}
	Eventually(t, time.Minute, fmt.Sprintf("%d Ready swarm nodes", n), func() bool {
		out, err := w.Manager.Exec("docker", "node", "ls", "--format", "{{.Status}}")
		return err == nil && strings.Count(out, "Ready") == n
	})
	w.Started = time.Since(begin)
	return w
}

// NewProjectOn is NewProject for a project that lives on srv's engine: every
// Compose, docker and stackpilot command the Project runs gets srv.Env().
func NewProjectOn(t testing.TB, srv *Server, compose string) *Project {
	t.Helper()
	p := NewProject(t, compose, nil)
	p.Env = srv.Env()
	p.OnServer = true
	return p
}

// removeOrphanServers removes the servers, volumes and networks of test
// processes that are gone.
func removeOrphanServers() {
	for _, kind := range []string{"container", "volume", "network"} {
		list := []string{kind, "ls", "-q", "--filter", "label=stackpilot.itest=server"}
		labels := ".Labels"
		if kind == "container" {
			list = append(list, "-a")
			labels = ".Config.Labels"
		}
		out, err := exec.Command("docker", list...).Output()
		if err != nil {
			continue
		}
		for _, id := range strings.Fields(string(out)) {
			pid, err := exec.Command("docker", kind, "inspect", "-f", `{{index `+labels+` "stackpilot.itest.pid"}}`, id).Output()
			if err != nil {
				continue
			}
			n, err := strconv.Atoi(strings.TrimSpace(string(pid)))
			if err != nil || n <= 0 || syscall.Kill(n, 0) != syscall.ESRCH {
				continue // not ours to judge, or its process still runs
			}
			args := []string{kind, "rm", "-f", id}
			if kind == "network" {
				args = []string{kind, "rm", id}
			}
			_ = exec.Command("docker", args...).Run()
		}
	}
}
