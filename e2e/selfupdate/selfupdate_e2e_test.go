// Package selfupdate tests releases and `stackpilot self-update` end to end:
// scripts/release.sh builds two real releases (1.0.0 and 1.1.0, for this
// platform and one other, signed with a key pair made for the test run), a
// local HTTP server serves them in GitHub's layout, and the installed
// binary is a release binary that trusts only the test key. Every refusal
// is checked to leave the installed binary byte-identical.
//
// Building the releases takes a minute on a cold build cache; -short skips
// these tests.
package selfupdate

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stackpilot/stackpilot/internal/itest"
)

const (
	v1 = "1.0.0"
	v2 = "1.1.0"
)

var (
	workDir   string // removed when the tests end
	buildOnce sync.Once
	built     *releases
	buildErr  error
)

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "stackpilot-releases-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	workDir = dir
	// Traversable by others: one test runs an installed binary as nobody.
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// releases are the two releases scripts/release.sh built.
type releases struct {
	dist     string // download/v1.0.0/…, download/v1.1.0/…
	pub      string // the test key the binaries trust
	key      string // its secret key file
	otherKey string // a key the binaries do not trust
	bin      map[string][]byte
	other    string // the other platform's asset
}

func hostAsset() string { return "stackpilot_" + runtime.GOOS + "_" + runtime.GOARCH }

// otherPlatform is the second platform the test releases are built for:
// macOS on arm64 from Linux (so a change that breaks the darwin build fails
// here, not at release time), else Linux.
func otherPlatform() string {
	if runtime.GOOS == "darwin" {
		return "linux/amd64"
	}
	return "darwin/arm64"
}

func getReleases(t *testing.T) *releases {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: builds two releases with scripts/release.sh")
	}
	buildOnce.Do(func() { built, buildErr = buildReleases() })
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return built
}

func buildReleases() (*releases, error) {
	root := itest.RepoRoot()
	r := &releases{dist: filepath.Join(workDir, "dist"), key: filepath.Join(workDir, "test.key"), otherKey: filepath.Join(workDir, "other.key"), bin: map[string][]byte{}}
	r.other = "stackpilot_" + strings.Replace(otherPlatform(), "/", "_", 1)
	for _, k := range []string{r.key, r.otherKey} {
		keygen := exec.Command("go", "run", "./internal/releasesign", "keygen", "-s", k, "-p", k+".pub")
		keygen.Dir = root
		if out, err := keygen.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("keygen: %v\n%s", err, out)
		}
	}
	pub, err := os.ReadFile(r.key + ".pub")
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimSpace(string(pub)), "\n")
	r.pub = lines[len(lines)-1]
	for _, v := range []string{v1, v2} {
		notes := filepath.Join(workDir, "notes-"+v)
		text := fmt.Sprintf("stackpilot %s\n\n- what is new in %s\n- \x1b[2Jan escape sequence that must not reach the terminal\n- third line\n", v, v)
		if err := os.WriteFile(notes, []byte(text), 0o644); err != nil {
			return nil, err
		}
		cmd := exec.Command("bash", "scripts/release.sh", v)
		cmd.Dir = root
		cmd.Env = append(os.Environ(),
			"STACKPILOT_SIGNING_KEY="+r.key,
			"STACKPILOT_RELEASE_DIR="+r.dist,
			"STACKPILOT_RELEASE_PLATFORMS="+runtime.GOOS+"/"+runtime.GOARCH+" "+otherPlatform(),
			"STACKPILOT_RELEASE_KEYS="+r.pub,
			"STACKPILOT_RELEASE_NOTES="+notes,
		)
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("scripts/release.sh %s: %v\n%s", v, err, out)
		}
		b, err := os.ReadFile(filepath.Join(r.dist, "download", "v"+v, hostAsset()))
		if err != nil {
			return nil, err
		}
		r.bin[v] = b
	}
	return r, nil
}

// ---- the server ----

// server serves a release tree in GitHub's layout: /download/vX/ASSET, and
// /latest/download/ASSET redirecting there as GitHub does.
type server struct {
	root   string
	latest string
	url    string
	mu     sync.Mutex
	fault  func(w http.ResponseWriter, r *http.Request, name string) bool
	gets   map[string]int
}

func newServer(t *testing.T, root, latest string) *server {
	s := &server{root: root, latest: latest, gets: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

func (s *server) serve(w http.ResponseWriter, r *http.Request) {
	if name, ok := strings.CutPrefix(r.URL.Path, "/latest/download/"); ok {
		http.Redirect(w, r, "/download/v"+s.latest+"/"+name, http.StatusFound)
		return
	}
	name := filepath.Base(r.URL.Path)
	s.mu.Lock()
	s.gets[name]++
	fault := s.fault
	s.mu.Unlock()
	if fault != nil && fault(w, r, name) {
		return
	}
	path := filepath.Join(s.root, filepath.FromSlash(strings.TrimPrefix(r.URL.Path, "/")))
	if st, err := os.Stat(path); err != nil || !st.Mode().IsRegular() {
		http.NotFound(w, r)
		return
	}
	http.ServeFile(w, r, path)
}

func (s *server) requests(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gets[name]
}

// variant is a copy of the releases (files linked, not copied) to alter.
func variant(t *testing.T, r *releases) string {
	t.Helper()
	root := t.TempDir()
	for _, v := range []string{v1, v2} {
		from := filepath.Join(r.dist, "download", "v"+v)
		to := filepath.Join(root, "download", "v"+v)
		if err := os.MkdirAll(to, 0o755); err != nil {
			t.Fatal(err)
		}
		entries, _ := os.ReadDir(from)
		for _, e := range entries {
			if err := os.Symlink(filepath.Join(from, e.Name()), filepath.Join(to, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root
}

// replaceFile writes a new file where variant linked one.
func replaceFile(t *testing.T, path string, data []byte) {
	t.Helper()
	os.Remove(path)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// resign signs a variant's SHA256SUMS again, with key, as release.sh does.
func resign(t *testing.T, dir, key, version string) {
	t.Helper()
	os.Remove(filepath.Join(dir, "SHA256SUMS.minisig"))
	sums := filepath.Join(dir, "SHA256SUMS")
	data := readFile(t, sums)
	replaceFile(t, sums, data)
	cmd := exec.Command("go", "run", "./internal/releasesign", "sign", "-s", key, "-version", version, sums)
	cmd.Dir = itest.RepoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("resign: %v\n%s", err, out)
	}
}

// ---- the installed binary ----

type result struct {
	stdout, stderr string
	code           int
	took           time.Duration
}

// install puts a release binary of version in a new directory.
func install(t *testing.T, r *releases, version string) string {
	t.Helper()
	dir, err := os.MkdirTemp(workDir, "bin-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "stackpilot")
	if err := os.WriteFile(exe, r.bin[version], 0o755); err != nil {
		t.Fatal(err)
	}
	return exe
}

func baseEnv(t *testing.T, url string) []string {
	home := t.TempDir()
	return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "STACKPILOT_CACHE_DIR=" + filepath.Join(home, "cache"), "STACKPILOT_UPDATE_URL=" + url, "TERM=dumb"}
}

// run runs exe without a terminal (stdin /dev/null, output to pipes).
func run(t *testing.T, exe string, env []string, args ...string) result {
	t.Helper()
	return runCmd(t, exec.Command(exe, args...), env)
}

func runCmd(t *testing.T, cmd *exec.Cmd, env []string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd.Env = env
	cmd.Dir = filepath.Dir(cmd.Path)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err := cmd.Run()
	res := result{stdout: out.String(), stderr: errOut.String(), took: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("%v: %v", cmd.Args, err)
	}
	return res
}

func versionOf(t *testing.T, exe string) string {
	t.Helper()
	out, err := exec.Command(exe, "--version").Output()
	if err != nil {
		t.Fatalf("%s --version: %v", exe, err)
	}
	return strings.TrimSpace(string(out))
}

// dirState is every file beside exe, with a hash of its content.
func dirState(t *testing.T, exe string) string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Dir(exe))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range entries {
		data, _ := os.ReadFile(filepath.Join(filepath.Dir(exe), e.Name()))
		fmt.Fprintf(&b, "%s %x; ", e.Name(), sha256.Sum256(data))
	}
	return b.String()
}

// ---- the tests ----

// The release is what README promises: static binaries for two platforms
// with the version stamped in, notes, SHA256SUMS that sha256sum -c accepts,
// and a signature the standard minisign tool verifies (and refuses once the
// file is altered).
func TestReleaseLayoutVerifiesWithStandardTools(t *testing.T) {
	r := getReleases(t)
	dir := filepath.Join(r.dist, "download", "v"+v2)
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := []string{"RELEASE_NOTES.md", "SHA256SUMS", "SHA256SUMS.minisig", hostAsset(), r.other}
	for _, w := range want {
		if !strings.Contains(strings.Join(names, " "), w) {
			t.Fatalf("release has %v, missing %s", names, w)
		}
	}
	if len(names) != len(want) {
		t.Fatalf("release has %v, want %v", names, want)
	}
	if target, err := os.Readlink(filepath.Join(r.dist, "latest", "download")); err != nil || target != "../download/v"+v2 {
		t.Fatalf("latest points at %q (%v)", target, err)
	}
	sumCheck := exec.Command("sha256sum", "-c", "SHA256SUMS")
	sumCheck.Dir = dir
	if out, err := sumCheck.CombinedOutput(); err != nil {
		t.Fatalf("sha256sum -c: %v\n%s", err, out)
	}
	for _, asset := range []string{hostAsset(), r.other} {
		if !strings.Contains(asset, "linux") {
			continue
		}
		f, err := elf.Open(filepath.Join(dir, asset))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Fatalf("%s is dynamically linked", asset)
			}
		}
		f.Close()
	}
	exe := install(t, r, v2)
	if got := versionOf(t, exe); got != "stackpilot version "+v2 {
		t.Fatalf("--version: %q", got)
	}

	minisign, err := exec.LookPath("minisign")
	if err != nil {
		t.Skip("minisign is not installed (scripts/test.sh installs it): the standard tool's check is skipped")
	}
	verify := exec.Command(minisign, "-Vm", "SHA256SUMS", "-P", r.pub)
	verify.Dir = dir
	out, err := verify.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "version:"+v2) {
		t.Fatalf("minisign -Vm: %v\n%s", err, out)
	}
	altered := t.TempDir()
	sums := readFile(t, filepath.Join(dir, "SHA256SUMS"))
	os.WriteFile(filepath.Join(altered, "SHA256SUMS"), bytes.Replace(sums, []byte("  "), []byte(" *"), 1), 0o644)
	os.WriteFile(filepath.Join(altered, "SHA256SUMS.minisig"), readFile(t, filepath.Join(dir, "SHA256SUMS.minisig")), 0o644)
	verify = exec.Command(minisign, "-Vm", "SHA256SUMS", "-P", r.pub)
	verify.Dir = altered
	if out, err := verify.CombinedOutput(); err == nil {
		t.Fatalf("minisign accepted an altered SHA256SUMS:\n%s", out)
	}
}

func TestCheckSaysWhetherANewerReleaseExists(t *testing.T) {
	r := getReleases(t)
	srv := newServer(t, r.dist, v2)
	env := baseEnv(t, srv.url)

	old := install(t, r, v1)
	before := dirState(t, old)
	res := run(t, old, env, "self-update", "--check")
	if res.code != 10 || !strings.Contains(res.stdout, "stackpilot 1.1.0 is available (installed: 1.0.0)") || !strings.Contains(res.stdout, "what is new in 1.1.0") {
		t.Fatalf("check on 1.0.0: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	if strings.Contains(res.stdout, "\x1b") {
		t.Fatalf("an escape sequence from the release notes reached the output: %q", res.stdout)
	}
	res = run(t, old, env, "self-update", "--check", "--json")
	var got struct {
		Current         string `json:"current_version"`
		Latest          string `json:"latest_version"`
		UpdateAvailable bool   `json:"update_available"`
		Asset           string `json:"asset"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &got); err != nil || res.code != 10 {
		t.Fatalf("--json: exit %d %v\n%s", res.code, err, res.stdout)
	}
	if got.Current != v1 || got.Latest != v2 || !got.UpdateAvailable || got.Asset != hostAsset() {
		t.Fatalf("--json: %+v", got)
	}
	if dirState(t, old) != before {
		t.Fatal("--check changed the installed binary's directory")
	}

	current := install(t, r, v2)
	res = run(t, current, env, "self-update", "--check")
	if res.code != 0 || !strings.Contains(res.stdout, "1.1.0 is up to date") {
		t.Fatalf("check on 1.1.0: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
}

func TestUpdateThenRollback(t *testing.T) {
	r := getReleases(t)
	srv := newServer(t, r.dist, v2)
	env := baseEnv(t, srv.url)
	exe := install(t, r, v1)

	res := run(t, exe, env, "self-update", "--yes")
	if res.code != 0 || !strings.Contains(res.stdout, "Updated "+exe+" from 1.0.0 to 1.1.0") {
		t.Fatalf("update: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	if got := versionOf(t, exe); got != "stackpilot version 1.1.0" {
		t.Fatalf("after the update: %q", got)
	}
	if !bytes.Equal(readFile(t, exe), r.bin[v2]) || !bytes.Equal(readFile(t, filepath.Join(filepath.Dir(exe), ".stackpilot.previous")), r.bin[v1]) {
		t.Fatal("the binary is not the release's, or the previous one was not kept")
	}
	// The new binary updates itself no further: it is the newest.
	res = run(t, exe, env, "self-update", "--yes")
	if res.code != 0 || !strings.Contains(res.stdout, "already installed") {
		t.Fatalf("second update: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}

	res = run(t, exe, env, "self-update", "--rollback", "--yes", "--json")
	var rb struct {
		From string `json:"from_version"`
		To   string `json:"to_version"`
	}
	if res.code != 0 || json.Unmarshal([]byte(res.stdout), &rb) != nil || rb.From != v2 || rb.To != v1 {
		t.Fatalf("rollback: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	if got := versionOf(t, exe); got != "stackpilot version 1.0.0" || !bytes.Equal(readFile(t, exe), r.bin[v1]) {
		t.Fatalf("after the rollback: %q", got)
	}
	// Rolling back again undoes the rollback.
	if res := run(t, exe, env, "self-update", "--rollback", "--yes"); res.code != 0 || versionOf(t, exe) != "stackpilot version 1.1.0" {
		t.Fatalf("second rollback: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
}

func TestWithoutTerminalUpdateNeedsYes(t *testing.T) {
	r := getReleases(t)
	srv := newServer(t, r.dist, v2)
	env := baseEnv(t, srv.url)
	exe := install(t, r, v1)
	before := dirState(t, exe)
	for _, args := range [][]string{{"self-update"}, {"self-update", "--rollback"}, {"self-update", "--version", v2}} {
		res := run(t, exe, env, args...)
		if res.code != 2 || !strings.Contains(res.stderr, "--yes is required") {
			t.Fatalf("%v: exit %d\n%s", args, res.code, res.stderr)
		}
	}
	if dirState(t, exe) != before || srv.requests(hostAsset()) != 0 {
		t.Fatal("refused, yet the directory changed or the binary was downloaded")
	}
}

func TestDowngradeNeedsVersion(t *testing.T) {
	r := getReleases(t)
	srv := newServer(t, r.dist, v1) // the newest published release is older than the installed one
	env := baseEnv(t, srv.url)
	exe := install(t, r, v2)
	before := dirState(t, exe)
	res := run(t, exe, env, "self-update", "--yes")
	if res.code != 1 || !strings.Contains(res.stderr, "refusing to downgrade") || !strings.Contains(res.stderr, "stackpilot self-update --version 1.0.0") {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	if dirState(t, exe) != before {
		t.Fatal("the refused downgrade changed the directory")
	}
	res = run(t, exe, env, "self-update", "--yes", "--version", v1)
	if res.code != 0 || !strings.Contains(res.stdout, "Downgraded") || versionOf(t, exe) != "stackpilot version 1.0.0" {
		t.Fatalf("--version 1.0.0: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
}

// Each way an update can go wrong is refused with a message that says
// what happened, and leaves the installed binary byte-identical.
func TestRefusalsLeaveTheBinaryByteIdentical(t *testing.T) {
	r := getReleases(t)
	type refusal struct {
		name  string
		setup func(t *testing.T, root string) // alters the served release (1.1.0 is latest)
		fault func(w http.ResponseWriter, r *http.Request, name string) bool
		url   func(t *testing.T) string // another server altogether
		args  []string
		says  []string
	}
	latestDir := func(root string) string { return filepath.Join(root, "download", "v"+v2) }
	cases := []refusal{
		{name: "signature missing", setup: func(t *testing.T, root string) {
			os.Remove(filepath.Join(latestDir(root), "SHA256SUMS.minisig"))
		}, says: []string{"release signature missing", "SHA256SUMS.minisig", "nothing was changed"}},
		{name: "SHA256SUMS altered after signing", setup: func(t *testing.T, root string) {
			p := filepath.Join(latestDir(root), "SHA256SUMS")
			sums := readFile(t, p)
			i := bytes.Index(sums, []byte(r.other)) - 3 // a hex digit of the other platform's line
			sums[i] ^= 1
			replaceFile(t, p, sums)
		}, says: []string{"release signature invalid", "does not match its signature", "nothing was changed"}},
		{name: "signed by a key this binary does not trust", setup: func(t *testing.T, root string) {
			resign(t, latestDir(root), r.otherKey, v2)
		}, says: []string{"release signature invalid", "which this stackpilot does not trust", "nothing was changed"}},
		{name: "binary altered (checksum mismatch)", setup: func(t *testing.T, root string) {
			p := filepath.Join(latestDir(root), hostAsset())
			b := bytes.Clone(readFile(t, p))
			b[len(b)/2] ^= 0xff
			replaceFile(t, p, b)
		}, says: []string{"checksum mismatch", "the download was altered or corrupted", "nothing was changed"}},
		{name: "no binary for this platform", setup: func(t *testing.T, root string) {
			p := filepath.Join(latestDir(root), "SHA256SUMS")
			var kept []string
			for _, l := range strings.SplitAfter(string(readFile(t, p)), "\n") {
				if !strings.HasSuffix(strings.TrimSpace(l), hostAsset()) {
					kept = append(kept, l)
				}
			}
			replaceFile(t, p, []byte(strings.Join(kept, "")))
			resign(t, latestDir(root), r.key, v2)
		}, says: []string{"no binary for this platform", "release 1.1.0 has no " + hostAsset(), "go install github.com/stackpilot/stackpilot@v1.1.0"}},
		{name: "download truncated", fault: func(w http.ResponseWriter, req *http.Request, name string) bool {
			if name != hostAsset() {
				return false
			}
			data := r.bin[v2]
			w.Header().Set("Content-Length", fmt.Sprint(len(data)))
			w.Write(data[:len(data)/3])
			w.(http.Flusher).Flush()
			if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
				conn.Close()
			}
			return true
		}, says: []string{"download truncated", fmt.Sprintf("of %d bytes", len(r.bin[v2])), "nothing was changed"}},
		{name: "server stalls in the middle of the download", args: []string{"--timeout", "1s"}, fault: func(w http.ResponseWriter, req *http.Request, name string) bool {
			if name != hostAsset() {
				return false
			}
			w.Header().Set("Content-Length", fmt.Sprint(len(r.bin[v2])))
			w.Write(r.bin[v2][:1<<20])
			w.(http.Flusher).Flush()
			<-req.Context().Done()
			return true
		}, says: []string{"release server timed out", "sent nothing for 1s", "nothing was changed"}},
		{name: "server accepts but never answers", args: []string{"--timeout", "1s"}, url: func(t *testing.T) string {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			var conns []net.Conn
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					conns = append(conns, c) // read nothing, say nothing
				}
			}()
			t.Cleanup(func() { l.Close() })
			return "http://" + l.Addr().String()
		}, says: []string{"release server timed out", "nothing was changed; check the network"}},
		{name: "network down", url: func(t *testing.T) string {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := l.Addr().String()
			l.Close()
			return "http://" + addr
		}, says: []string{"release server unreachable", "connection refused", "nothing was changed; check the network"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := variant(t, r)
			if c.setup != nil {
				c.setup(t, root)
			}
			srv := newServer(t, root, v2)
			srv.fault = c.fault
			url := srv.url
			if c.url != nil {
				url = c.url(t)
			}
			exe := install(t, r, v1)
			before := dirState(t, exe)
			res := run(t, exe, baseEnv(t, url), append([]string{"self-update", "--yes"}, c.args...)...)
			if res.code != 1 {
				t.Fatalf("exit %d, want 1\n%s%s", res.code, res.stdout, res.stderr)
			}
			for _, s := range c.says {
				if !strings.Contains(res.stderr, s) {
					t.Errorf("stderr does not say %q:\n%s", s, res.stderr)
				}
			}
			if res.took > 15*time.Second {
				t.Errorf("took %s", res.took)
			}
			if after := dirState(t, exe); after != before {
				t.Fatalf("the directory changed:\nbefore %s\nafter  %s", before, after)
			}
			if got := versionOf(t, exe); got != "stackpilot version 1.0.0" {
				t.Fatalf("after the refusal: %q", got)
			}
		})
	}
}

// A binary in a directory this user cannot write is refused before any
// download, saying how to proceed.
func TestUnwritableDirectoryIsRefused(t *testing.T) {
	r := getReleases(t)
	srv := newServer(t, r.dist, v2)
	exe := install(t, r, v1)
	env := baseEnv(t, srv.url)
	cmd := exec.Command(exe, "self-update", "--yes")
	if os.Geteuid() == 0 {
		// root writes everywhere: run as nobody, the directory root's 0755.
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		env = []string{"PATH=" + os.Getenv("PATH"), "HOME=/nonexistent", "STACKPILOT_CACHE_DIR=/nonexistent", "STACKPILOT_UPDATE_URL=" + srv.url}
	} else {
		os.Chmod(filepath.Dir(exe), 0o555)
		defer os.Chmod(filepath.Dir(exe), 0o755)
	}
	before := dirState(t, exe)
	res := runCmd(t, cmd, env)
	if res.code != 1 || !strings.Contains(res.stderr, "cannot write to "+filepath.Dir(exe)) || !strings.Contains(res.stderr, "rerun with sudo, or install stackpilot in a directory you can write") {
		t.Fatalf("exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	if dirState(t, exe) != before || srv.requests(hostAsset()) != 0 {
		t.Fatal("refused, yet the directory changed or the binary was downloaded")
	}
}

// A binary in Homebrew's Cellar is Homebrew's to update.
func TestHomebrewBinaryIsRefused(t *testing.T) {
	r := getReleases(t)
	srv := newServer(t, r.dist, v2)
	dir := filepath.Join(t.TempDir(), "Cellar", "stackpilot", v1, "bin")
	os.MkdirAll(dir, 0o755)
	exe := filepath.Join(dir, "stackpilot")
	os.WriteFile(exe, r.bin[v1], 0o755)
	before := dirState(t, exe)
	res := run(t, exe, baseEnv(t, srv.url), "self-update", "--yes")
	if res.code != 1 || !strings.Contains(res.stderr, "was installed by Homebrew") || !strings.Contains(res.stderr, "update it with: brew upgrade stackpilot") {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	if dirState(t, exe) != before || srv.requests("SHA256SUMS") != 0 {
		t.Fatal("refused, yet the directory changed or the release was fetched")
	}
}

// A binary a Debian package installed is refused, naming the package and
// the apt command. The test installs a real (tiny) package with dpkg.
func TestDebianPackageBinaryIsRefused(t *testing.T) {
	r := getReleases(t)
	if os.Geteuid() != 0 {
		t.Skip("installing a test package with dpkg needs root")
	}
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("no dpkg on this machine")
	}
	b := make([]byte, 4)
	rand.Read(b)
	pkg := "stackpilot-selfupdate-test-" + hex.EncodeToString(b)
	root := t.TempDir()
	dir := filepath.Join(root, "opt", pkg)
	os.MkdirAll(dir, 0o755)
	os.MkdirAll(filepath.Join(root, "DEBIAN"), 0o755)
	os.WriteFile(filepath.Join(dir, "stackpilot"), r.bin[v1], 0o755)
	control := fmt.Sprintf("Package: %s\nVersion: 1.0.0\nArchitecture: all\nMaintainer: stackpilot tests <tests@localhost>\nDescription: stackpilot self-update test package\n", pkg)
	os.WriteFile(filepath.Join(root, "DEBIAN", "control"), []byte(control), 0o644)
	deb := filepath.Join(t.TempDir(), pkg+".deb")
	if out, err := exec.Command("dpkg-deb", "--root-owner-group", "--build", root, deb).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb: %v\n%s", err, out)
	}
	dpkg(t, "-i", deb)
	t.Cleanup(func() { dpkg(t, "--purge", pkg) })

	exe := filepath.Join("/opt", pkg, "stackpilot")
	srv := newServer(t, r.dist, v2)
	before := dirState(t, exe)
	res := run(t, exe, baseEnv(t, srv.url), "self-update", "--yes")
	if res.code != 1 || !strings.Contains(res.stderr, "was installed by dpkg (apt) (package "+pkg+")") || !strings.Contains(res.stderr, "sudo apt-get install --only-upgrade "+pkg) {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	if dirState(t, exe) != before {
		t.Fatal("the directory changed")
	}
}

// dpkg runs dpkg, waiting while another dpkg or apt holds its lock.
func dpkg(t *testing.T, args ...string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		out, err := exec.Command("dpkg", args...).CombinedOutput()
		if err == nil {
			return
		}
		if !strings.Contains(string(out), "lock") || time.Now().After(deadline) {
			t.Fatalf("dpkg %v: %v\n%s", args, err, out)
		}
		time.Sleep(2 * time.Second)
	}
}

// An update killed (SIGKILL) at any moment leaves a binary that runs: the
// old one or the new one, byte for byte, never a torn file. What a killed
// update left behind does not stop the next one.
func TestUpdateKilledAtRandomMomentsLeavesAWorkingBinary(t *testing.T) {
	r := getReleases(t)
	srv := newServer(t, r.dist, v2)
	env := baseEnv(t, srv.url)
	exe := install(t, r, v1)
	reset := func() {
		tmp := exe + ".reset"
		if err := os.WriteFile(tmp, r.bin[v1], 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, exe); err != nil {
			t.Fatal(err)
		}
	}
	// How long a whole update takes here.
	var full time.Duration
	for i := 0; i < 3; i++ {
		res := run(t, exe, env, "self-update", "--yes")
		if res.code != 0 {
			t.Fatalf("update: %s", res.stderr)
		}
		if i == 0 || res.took > full {
			full = res.took
		}
		reset()
	}
	const points = 30
	var old, updated, midInstall int
	for i := 0; i < points; i++ {
		// Half the points anywhere, half in the last stretch, where the file is written and renamed.
		lo, span := time.Duration(0), full*12/10
		if i%2 == 1 {
			lo, span = full/2, full*6/10
		}
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(span)))
		delay := lo + time.Duration(n.Int64())
		cmd := exec.Command(exe, "self-update", "--yes")
		cmd.Env = env
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()

		if _, err := os.Stat(filepath.Join(filepath.Dir(exe), ".stackpilot.new")); err == nil {
			midInstall++ // killed between writing the new binary and renaming it into place
		}
		got := readFile(t, exe)
		switch {
		case bytes.Equal(got, r.bin[v1]):
			old++
			if v := versionOf(t, exe); v != "stackpilot version 1.0.0" {
				t.Fatalf("killed after %s: the old binary says %q", delay, v)
			}
		case bytes.Equal(got, r.bin[v2]):
			updated++
			if v := versionOf(t, exe); v != "stackpilot version 1.1.0" {
				t.Fatalf("killed after %s: the new binary says %q", delay, v)
			}
		default:
			t.Fatalf("killed after %s: %s is neither release (%d bytes) — a torn binary", delay, exe, len(got))
		}
		reset()
	}
	t.Logf("a whole update takes %s; killed %d times: %d left 1.0.0, %d left 1.1.0, %d of them while the new binary was written or checked", full, points, old, updated, midInstall)
	if old == 0 || updated == 0 {
		t.Logf("note: every kill landed on the same side")
	}
	res := run(t, exe, env, "self-update", "--yes")
	if res.code != 0 || versionOf(t, exe) != "stackpilot version 1.1.0" {
		t.Fatalf("update after the kills: exit %d\n%s", res.code, res.stderr)
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(exe), ".stackpilot.*new*"))
	if len(leftovers) != 0 {
		t.Fatalf("left behind: %v", leftovers)
	}
}

// The menu offers the update a check found, with the release notes' first
// lines; accepting installs it and prints the equivalent command.
func TestMenuOffersTheUpdate(t *testing.T) {
	r := getReleases(t)
	srv := newServer(t, r.dist, v2)
	exe := install(t, r, v1)
	env := append(baseEnv(t, srv.url), "CI=", "STACKPILOT_NO_UPDATE_NOTIFIER=")
	if res := run(t, exe, env, "self-update", "--check"); res.code != 10 {
		t.Fatalf("check: exit %d %s", res.code, res.stderr)
	}
	term := itest.StartTerminalWith(t, exe, t.TempDir(), env[1:]) // PATH comes from the harness
	term.Expect("choose \"Update stackpilot\" below")
	term.Expect("What do you want to do?")
	term.Expect("Quit")
	screen := term.Screen()
	if !strings.Contains(screen, "stackpilot 1.1.0 is available (this is 1.0.0)") || !strings.Contains(screen, "what is new in 1.1.0") {
		t.Fatalf("no notice above the menu:\n%s", screen)
	}
	if !strings.Contains(screen, "Update stackpilot to 1.1.0 (this is 1.0.0)") {
		t.Fatalf("no update entry:\n%s", screen)
	}
	term.Send("Update stackpilot", itest.KeyEnter)
	term.Expect("Update stackpilot to 1.1.0?")
	screen = term.Screen()
	if !strings.Contains(screen, "Release notes:") || !strings.Contains(screen, "what is new in 1.1.0") || strings.Contains(term.Raw(), "\x1b[2Jan escape") {
		t.Fatalf("the offer does not show the notes (or shows their escape codes):\n%s", screen)
	}
	term.Send("y", itest.KeyEnter)
	term.Expect("Updated " + exe + " from 1.0.0 to 1.1.0")
	term.Expect("quit and start stackpilot again to use 1.1.0")
	term.Expect("Equivalent command:")
	term.Expect("stackpilot self-update")
	term.Expect("What do you want to do?")
	term.Expect("Quit")
	term.Send("Quit", itest.KeyEnter)
	if code := term.Wait(20 * time.Second); code != 0 {
		t.Fatalf("exit %d\n%s", code, term.Screen())
	}
	if !bytes.Equal(readFile(t, exe), r.bin[v2]) {
		t.Fatal("the menu's update did not install 1.1.0")
	}
}

// status mentions a newer release once a day, only on a terminal; the
// day's check runs in the background and fills the cache for the next run.
func TestStatusNoticeOnceADayOnlyOnATerminal(t *testing.T) {
	r := getReleases(t)
	var checks atomic.Int32
	srv := newServer(t, r.dist, v2)
	srv.fault = func(w http.ResponseWriter, req *http.Request, name string) bool {
		if name == "SHA256SUMS" {
			checks.Add(1)
		}
		return false
	}
	exe := install(t, r, v1)
	env := append(baseEnv(t, srv.url), "CI=", "STACKPILOT_NO_UPDATE_NOTIFIER=")
	var cacheFile string
	for _, kv := range env {
		if d, ok := strings.CutPrefix(kv, "STACKPILOT_CACHE_DIR="); ok {
			cacheFile = filepath.Join(d, "update-check.json")
		}
	}
	dir := t.TempDir()
	status := func() string {
		term := itest.StartTerminalWith(t, exe, dir, env[1:], "status")
		term.Wait(30 * time.Second)
		return term.Screen()
	}

	// First run: nothing known yet; the background check starts and records 1.1.0.
	if s := status(); strings.Contains(s, "new release") {
		t.Fatalf("a notice before any check:\n%s", s)
	}
	var state struct {
		Latest string `json:"latest_version"`
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		b, _ := os.ReadFile(cacheFile)
		if json.Unmarshal(b, &state) == nil && state.Latest == v2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the background check recorded nothing: %s", b)
		}
	}
	// Second run: the notice, once.
	if s := status(); !strings.Contains(s, "A new release of stackpilot is available: 1.0.0 → 1.1.0") || !strings.Contains(s, "stackpilot self-update") {
		t.Fatalf("no notice:\n%s", s)
	}
	if s := status(); strings.Contains(s, "new release") {
		t.Fatalf("a second notice the same day:\n%s", s)
	}
	if n := checks.Load(); n != 1 {
		t.Fatalf("%d checks, want one a day", n)
	}
	// Without a terminal, never; and STACKPILOT_NO_UPDATE_NOTIFIER turns it off.
	os.Remove(cacheFile)
	run(t, exe, env, "self-update", "--check")
	if res := run(t, exe, env, "status"); strings.Contains(res.stderr, "new release") {
		t.Fatalf("a notice without a terminal:\n%s", res.stderr)
	}
	off := append(env[1:len(env):len(env)], "STACKPILOT_NO_UPDATE_NOTIFIER=1")
	term := itest.StartTerminalWith(t, exe, dir, off, "status")
	term.Wait(30 * time.Second)
	if strings.Contains(term.Screen(), "new release") {
		t.Fatalf("a notice despite STACKPILOT_NO_UPDATE_NOTIFIER:\n%s", term.Screen())
	}
}

// The README's install line works as written: run against the local
// server (its URL, the test key and a temporary target put in), it
// downloads, verifies with minisign and sha256sum, and installs a binary
// that runs; with an altered SHA256SUMS it installs nothing.
func TestReadmeInstallLine(t *testing.T) {
	r := getReleases(t)
	for _, tool := range []string{"curl", "minisign", "sha256sum"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (scripts/test.sh installs minisign)", tool)
		}
	}
	readme := string(readFile(t, filepath.Join(itest.RepoRoot(), "README.md")))
	_, after, ok := strings.Cut(readme, "<!-- install-line -->\n```sh\n")
	line, _, ok2 := strings.Cut(after, "\n```")
	if !ok || !ok2 || strings.Contains(line, "\n") {
		t.Fatalf("README has no one-line install after <!-- install-line -->")
	}
	published := strings.TrimSpace(strings.Split(strings.TrimSpace(string(readFile(t, filepath.Join(itest.RepoRoot(), "docs", "stackpilot.pub")))), "\n")[1])
	for _, part := range []string{"https://github.com/stackpilot/stackpilot/releases", "-P " + published, "sudo install -m 0755 $p /usr/local/bin/stackpilot"} {
		if !strings.Contains(line, part) {
			t.Fatalf("the install line has no %q:\n%s", part, line)
		}
	}
	for _, altered := range []bool{false, true} {
		root := variant(t, r)
		if altered {
			p := filepath.Join(root, "download", "v"+v2, "SHA256SUMS")
			replaceFile(t, p, append(readFile(t, p), []byte(strings.Repeat("0", 64)+"  extra\n")...))
		}
		srv := newServer(t, root, v2)
		target := filepath.Join(t.TempDir(), "stackpilot")
		cmdline := strings.NewReplacer(
			"https://github.com/stackpilot/stackpilot/releases", srv.url,
			"-P "+published, "-P "+r.pub,
			"sudo install -m 0755 $p /usr/local/bin/stackpilot", "install -m 0755 $p "+target,
		).Replace(line)
		out, err := exec.Command("bash", "-c", cmdline).CombinedOutput()
		_, statErr := os.Stat(target)
		if altered {
			if err == nil || statErr == nil || !strings.Contains(string(out), "Signature verification failed") {
				t.Fatalf("altered SHA256SUMS: installed anyway (%v)\n%s", err, out)
			}
			continue
		}
		if err != nil {
			t.Fatalf("install line: %v\n%s", err, out)
		}
		if got := versionOf(t, target); got != "stackpilot version "+v2 {
			t.Fatalf("installed binary: %q", got)
		}
	}
}
