package selfupdate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"aead.dev/minisign"

	"github.com/stackpilot/stackpilot/stackops"
)

// These tests drive Update, Check and Rollback against a local HTTP server
// serving signed releases whose "binaries" are small shell scripts (they
// answer --version like stackpilot). The tests that use real binaries built
// by scripts/release.sh are in wizard/self_update_release_test.go.

func fakeBinary(version string) []byte {
	return []byte("#!/bin/sh\necho 'stackpilot version " + version + "'\n")
}

type testRelease struct {
	version string
	files   map[string][]byte // SHA256SUMS and its signature included
}

// makeRelease lists files in SHA256SUMS and signs it as a release of version.
func makeRelease(priv minisign.PrivateKey, version string, files map[string][]byte) *testRelease {
	var names []string
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var sums bytes.Buffer
	for _, n := range names {
		h := sha256.Sum256(files[n])
		fmt.Fprintf(&sums, "%s  %s\n", hex.EncodeToString(h[:]), n)
	}
	out := map[string][]byte{SumsFile: sums.Bytes(), SignatureFile: signSums(priv, sums.Bytes(), TrustedComment(version, time.Now()))}
	for n, b := range files {
		out[n] = b
	}
	return &testRelease{version: version, files: out}
}

func hostRelease(priv minisign.PrivateKey, version string) *testRelease {
	return makeRelease(priv, version, map[string][]byte{HostAsset(): fakeBinary(version), NotesFile: []byte("stackpilot " + version + "\n\n- a change\n")})
}

// releaseServer serves releases in GitHub's layout; latest redirects to
// the latest version's directory, as GitHub does. fault, when set, may
// answer a request itself.
type releaseServer struct {
	mu       sync.Mutex
	releases map[string]*testRelease
	latest   string
	fault    func(w http.ResponseWriter, r *http.Request, name string) bool
	srv      *httptest.Server
}

func newReleaseServer(t *testing.T, latest string, rels ...*testRelease) *releaseServer {
	s := &releaseServer{releases: map[string]*testRelease{}, latest: latest}
	for _, r := range rels {
		s.releases[r.version] = r
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *releaseServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if name, ok := strings.CutPrefix(r.URL.Path, "/latest/download/"); ok {
		http.Redirect(w, r, "/download/v"+s.latest+"/"+name, http.StatusFound)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/download/v")
	version, name, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 {
		http.NotFound(w, r)
		return
	}
	if s.fault != nil && s.fault(w, r, name) {
		return
	}
	rel := s.releases[version]
	if rel == nil || rel.files[name] == nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(rel.files[name])))
	_, _ = w.Write(rel.files[name])
}

func (s *releaseServer) source(keys ...minisign.PublicKey) *Source {
	return &Source{BaseURL: s.srv.URL, TrustedKeys: keys, IdleTimeout: 2 * time.Second}
}

// installed writes a fake binary of version into a new directory.
func installed(t *testing.T, version string) string {
	t.Helper()
	exe := filepath.Join(t.TempDir(), "stackpilot")
	if err := os.WriteFile(exe, fakeBinary(version), 0o755); err != nil {
		t.Fatal(err)
	}
	return exe
}

// dirState is every file in exe's directory with its content.
func dirState(t *testing.T, exe string) string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Dir(exe))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range entries {
		data, _ := os.ReadFile(filepath.Join(filepath.Dir(exe), e.Name()))
		fmt.Fprintf(&b, "%s %x\n", e.Name(), sha256.Sum256(data))
	}
	return b.String()
}

// noPackageManager answers dpkg and rpm as on a machine where they own
// nothing, and runs everything else.
type noPackageManager struct{ owner string }

func (n noPackageManager) Run(ctx context.Context, c stackops.Cmd) error {
	switch c.Args[0] {
	case "dpkg":
		if n.owner != "" {
			fmt.Fprintf(c.Stdout, "diversion by foo from: /x\n%s: %s\n", n.owner, c.Args[2])
			return nil
		}
		return &stackops.ExitError{Cmd: "dpkg", Code: 1}
	case "rpm":
		return fmt.Errorf("rpm: not found in PATH")
	}
	return (&stackops.ExecRunner{}).Run(ctx, c)
}

func TestUpdateInstallsVerifiedReleaseAndRollsBack(t *testing.T) {
	pub, priv := newTestKey(t)
	srv := newReleaseServer(t, "1.1.0", hostRelease(priv, "1.0.0"), hostRelease(priv, "1.1.0"))
	exe := installed(t, "1.0.0")
	ctx := context.Background()

	check, err := Check(ctx, CheckOptions{Source: srv.source(pub), Current: "1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	if !check.UpdateAvailable || check.Latest != "1.1.0" || check.Asset != HostAsset() || !strings.Contains(check.Notes, "a change") {
		t.Fatalf("check: %+v", check)
	}
	var asked stackops.Confirmation
	res, err := Update(ctx, UpdateOptions{Source: srv.source(pub), Current: "1.0.0", Executable: exe, Runner: noPackageManager{},
		Confirm: func(_ context.Context, c stackops.Confirmation) (bool, error) { asked = c; return true, nil }})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Updated || res.To != "1.1.0" || res.From != "1.0.0" || res.PreviousPath != PreviousPath(exe) {
		t.Fatalf("%+v", res)
	}
	if !strings.Contains(asked.Action, "1.0.0 → 1.1.0") || !strings.Contains(strings.Join(asked.Details, "\n"), "- a change") {
		t.Fatalf("confirmation does not show the versions and notes: %+v", asked)
	}
	assertContent(t, exe, fakeBinary("1.1.0"))
	assertContent(t, PreviousPath(exe), fakeBinary("1.0.0"))
	if st, _ := os.Stat(exe); st.Mode().Perm() != 0o755 {
		t.Fatalf("mode %v", st.Mode())
	}

	// Up to date now: nothing to do, nothing asked.
	res, err = Update(ctx, UpdateOptions{Source: srv.source(pub), Current: "1.1.0", Executable: exe, Runner: noPackageManager{}})
	if err != nil || res.Updated {
		t.Fatalf("second update: %+v %v", res, err)
	}

	rb, err := Rollback(ctx, RollbackOptions{Current: "1.1.0", Executable: exe, Runner: noPackageManager{}, Confirm: stackops.AlwaysConfirm})
	if err != nil {
		t.Fatal(err)
	}
	if rb.From != "1.1.0" || rb.To != "1.0.0" {
		t.Fatalf("%+v", rb)
	}
	assertContent(t, exe, fakeBinary("1.0.0"))
	assertContent(t, PreviousPath(exe), fakeBinary("1.1.0"))
	// A second rollback undoes the first.
	if _, err := Rollback(ctx, RollbackOptions{Current: "1.0.0", Executable: exe, Runner: noPackageManager{}, Confirm: stackops.AlwaysConfirm}); err != nil {
		t.Fatal(err)
	}
	assertContent(t, exe, fakeBinary("1.1.0"))
}

func assertContent(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s holds %q, want %q", path, got, want)
	}
}

// Every refusal leaves the directory exactly as it was: the binary
// byte-identical, no temporary or previous file.
func TestUpdateRefusalsChangeNothing(t *testing.T) {
	pub, priv := newTestKey(t)
	otherPub, otherPriv := newTestKey(t)
	good := hostRelease(priv, "1.1.0")
	tamperedAsset := hostRelease(priv, "1.1.0")
	tamperedAsset.files[HostAsset()] = fakeBinary("6.6.6")
	wrongVersionInside := makeRelease(priv, "1.1.0", map[string][]byte{HostAsset(): fakeBinary("1.0.9")})
	noSig := hostRelease(priv, "1.1.0")
	delete(noSig.files, SignatureFile)
	foreignSig := hostRelease(otherPriv, "1.1.0")
	badSig := hostRelease(priv, "1.1.0")
	badSig.files[SumsFile] = bytes.Replace(badSig.files[SumsFile], []byte("  "+HostAsset()), []byte("  "+HostAsset()+"x"), 1)
	otherPlatformOnly := makeRelease(priv, "1.1.0", map[string][]byte{AssetName("plan9", "mips"): fakeBinary("1.1.0")})
	mislabelled := hostRelease(priv, "1.2.0") // signed as 1.2.0, served as 1.1.0
	mislabelled.version = "1.1.0"

	cases := []struct {
		name    string
		rel     *testRelease
		current string
		version string
		runner  stackops.Runner
		fault   func(w http.ResponseWriter, r *http.Request, name string) bool
		confirm stackops.ConfirmFunc
		want    error
		says    string
	}{
		{name: "signature missing", rel: noSig, want: ErrSignatureMissing},
		{name: "signed by an untrusted key", rel: foreignSig, want: ErrBadSignature, says: "does not trust"},
		{name: "SHA256SUMS altered", rel: badSig, want: ErrBadSignature, says: "altered"},
		{name: "asset altered", rel: tamperedAsset, want: ErrChecksumMismatch},
		{name: "signed as another version", rel: mislabelled, version: "1.1.0", want: ErrBadSignature, says: "signed as release 1.2.0"},
		{name: "binary reports another version", rel: wrongVersionInside, want: ErrBrokenBinary, says: `"1.0.9"`},
		{name: "no binary for this platform", rel: otherPlatformOnly, want: ErrNoAsset, says: "plan9/mips"},
		{name: "downgrade without a version", rel: good, current: "1.2.0", want: ErrDowngrade, says: "older than this stackpilot 1.2.0"},
		{name: "installed by dpkg", rel: good, runner: noPackageManager{owner: "stackpilot:amd64"}, want: ErrManaged, says: "apt-get install --only-upgrade stackpilot"},
		{name: "declined", rel: good, confirm: func(context.Context, stackops.Confirmation) (bool, error) { return false, nil }, want: stackops.ErrNotConfirmed},
		{name: "nobody to ask", rel: good, confirm: stackops.NeverConfirm, want: stackops.ErrConfirmationRequired},
		{name: "truncated download", rel: good, want: ErrTruncated, fault: func(w http.ResponseWriter, r *http.Request, name string) bool {
			if name != HostAsset() {
				return false
			}
			data := good.files[name]
			w.Header().Set("Content-Length", fmt.Sprint(len(data)))
			_, _ = w.Write(data[:len(data)/2])
			hijackClose(w)
			return true
		}},
		{name: "server stalls mid-download", rel: good, want: ErrTimeout, says: "sent nothing for", fault: func(w http.ResponseWriter, r *http.Request, name string) bool {
			if name != HostAsset() {
				return false
			}
			w.Header().Set("Content-Length", "1000")
			_, _ = w.Write([]byte("#!/bin/sh\n"))
			w.(http.Flusher).Flush()
			<-r.Context().Done()
			return true
		}},
		{name: "server never answers", rel: good, want: ErrTimeout, fault: func(w http.ResponseWriter, r *http.Request, name string) bool {
			<-r.Context().Done()
			return true
		}},
		{name: "asset too large", rel: good, want: ErrTooLarge, fault: func(w http.ResponseWriter, r *http.Request, name string) bool {
			if name != HostAsset() {
				return false
			}
			w.Header().Set("Content-Length", fmt.Sprint(maxBinarySize+1))
			w.WriteHeader(http.StatusOK)
			return true
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := newReleaseServer(t, "1.1.0", c.rel)
			srv.fault = c.fault
			current := c.current
			if current == "" {
				current = "1.0.0"
			}
			exe := installed(t, current)
			before := dirState(t, exe)
			runner := c.runner
			if runner == nil {
				runner = noPackageManager{}
			}
			confirm := c.confirm
			if confirm == nil {
				confirm = stackops.AlwaysConfirm
			}
			src := srv.source(pub, otherPub)
			if c.name == "signed by an untrusted key" {
				src = srv.source(pub)
			}
			src.IdleTimeout = 300 * time.Millisecond
			start := time.Now()
			_, err := Update(context.Background(), UpdateOptions{Source: src, Current: current, Version: c.version, Executable: exe, Runner: runner, Confirm: confirm})
			if !errors.Is(err, c.want) || !strings.Contains(fmt.Sprint(err), c.says) {
				t.Fatalf("err = %v; want %v saying %q", err, c.want, c.says)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Fatalf("took %s", d)
			}
			if after := dirState(t, exe); after != before {
				t.Fatalf("directory changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

func hijackClose(w http.ResponseWriter) {
	w.(http.Flusher).Flush()
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

func TestUpdateRefusesUnwritableDirectoryBeforeDownloading(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root writes everywhere; wizard/self_update_release_test.go runs this as another user")
	}
	pub, priv := newTestKey(t)
	srv := newReleaseServer(t, "1.1.0", hostRelease(priv, "1.1.0"))
	downloads := 0
	srv.fault = func(w http.ResponseWriter, r *http.Request, name string) bool {
		if name == HostAsset() {
			downloads++
		}
		return false
	}
	exe := installed(t, "1.0.0")
	dir := filepath.Dir(exe)
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o755)
	_, err := Update(context.Background(), UpdateOptions{Source: srv.source(pub), Current: "1.0.0", Executable: exe, Runner: noPackageManager{}, Confirm: stackops.AlwaysConfirm})
	if !errors.Is(err, ErrNotWritable) || !strings.Contains(err.Error(), "rerun with sudo") || downloads != 0 {
		t.Fatalf("err %v, %d downloads", err, downloads)
	}
}

func TestUpdateRefusesWhileAnotherUpdateHoldsTheDirectory(t *testing.T) {
	pub, priv := newTestKey(t)
	srv := newReleaseServer(t, "1.1.0", hostRelease(priv, "1.1.0"))
	exe := installed(t, "1.0.0")
	unlock, err := lockDir(filepath.Dir(exe))
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	before := dirState(t, exe)
	_, err = Update(context.Background(), UpdateOptions{Source: srv.source(pub), Current: "1.0.0", Executable: exe, Runner: noPackageManager{}, Confirm: stackops.AlwaysConfirm})
	if !errors.Is(err, ErrBusy) || dirState(t, exe) != before {
		t.Fatalf("err %v", err)
	}
}

func TestUpdateToNamedVersionDowngrades(t *testing.T) {
	pub, priv := newTestKey(t)
	srv := newReleaseServer(t, "1.1.0", hostRelease(priv, "1.0.0"), hostRelease(priv, "1.1.0"))
	exe := installed(t, "1.1.0")
	res, err := Update(context.Background(), UpdateOptions{Source: srv.source(pub), Current: "1.1.0", Version: "v1.0.0", Executable: exe, Runner: noPackageManager{}, Confirm: stackops.AlwaysConfirm})
	if err != nil || !res.Downgrade || res.To != "1.0.0" {
		t.Fatalf("%+v %v", res, err)
	}
	assertContent(t, exe, fakeBinary("1.0.0"))
	if _, err := Update(context.Background(), UpdateOptions{Source: srv.source(pub), Current: "1.0.0", Version: "3.0.0", Executable: exe, Runner: noPackageManager{}, Confirm: stackops.AlwaysConfirm}); !errors.Is(err, ErrNoRelease) {
		t.Fatalf("unknown version: %v", err)
	}
}

func TestUpdateFollowsSymlinkToTheBinary(t *testing.T) {
	pub, priv := newTestKey(t)
	srv := newReleaseServer(t, "1.1.0", hostRelease(priv, "1.1.0"))
	exe := installed(t, "1.0.0")
	link := filepath.Join(t.TempDir(), "stackpilot")
	if err := os.Symlink(exe, link); err != nil {
		t.Fatal(err)
	}
	res, err := Update(context.Background(), UpdateOptions{Source: srv.source(pub), Current: "1.0.0", Executable: link, Runner: noPackageManager{}, Confirm: stackops.AlwaysConfirm})
	if err != nil || res.Path != exe {
		t.Fatalf("%+v %v", res, err)
	}
	if target, _ := os.Readlink(link); target != exe {
		t.Fatalf("the link was replaced: %q", target)
	}
	assertContent(t, link, fakeBinary("1.1.0"))
}

func TestUnreachableServerIsAnErrorNotAHang(t *testing.T) {
	pub, _ := newTestKey(t)
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	start := time.Now()
	_, err := Check(context.Background(), CheckOptions{Source: &Source{BaseURL: url, TrustedKeys: []minisign.PublicKey{pub}}, Current: "1.0.0"})
	if !errors.Is(err, ErrUnreachable) || time.Since(start) > 5*time.Second {
		t.Fatalf("%v after %s", err, time.Since(start))
	}
}

func TestRollbackWithoutPreviousBinary(t *testing.T) {
	exe := installed(t, "1.0.0")
	before := dirState(t, exe)
	_, err := Rollback(context.Background(), RollbackOptions{Current: "1.0.0", Executable: exe, Runner: noPackageManager{}, Confirm: stackops.AlwaysConfirm})
	if !errors.Is(err, ErrNoPrevious) || dirState(t, exe) != before {
		t.Fatalf("%v", err)
	}
}

// A rollback killed between its two renames leaves the newer binary in
// the temporary previous file; the next run puts it back as the previous one.
func TestTidyKeepsAPreviousCaughtBetweenRenames(t *testing.T) {
	exe := installed(t, "1.0.0")
	files := filesFor(exe)
	if err := os.WriteFile(files.previousTemp(), fakeBinary("1.1.0"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(files.newTemp(), []byte("half a bin"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := files.tidy(); err != nil {
		t.Fatal(err)
	}
	assertContent(t, files.previous(), fakeBinary("1.1.0"))
	for _, p := range []string{files.newTemp(), files.previousTemp()} {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s left behind", p)
		}
	}
}

func TestManagedBy(t *testing.T) {
	ctx := context.Background()
	cellar := "/opt/homebrew/Cellar/stackpilot/1.0.0/bin/stackpilot"
	err := managedBy(ctx, noPackageManager{}, cellar)
	var me *ManagedError
	if !errors.As(err, &me) || me.Command != "brew upgrade stackpilot" {
		t.Fatalf("homebrew: %v", err)
	}
	if err := managedBy(ctx, noPackageManager{}, "/usr/local/bin/stackpilot"); err != nil {
		t.Fatalf("not managed: %v", err)
	}
	if got := dpkgOwner("diversion by x from: /usr/bin/stackpilot\nstackpilot, other: /usr/bin/stackpilot\n", "/usr/bin/stackpilot"); got != "stackpilot" {
		t.Fatalf("dpkgOwner %q", got)
	}
	if got := dpkgOwner("dpkg-query: no path found matching pattern /x\n", "/x"); got != "" {
		t.Fatalf("dpkgOwner %q", got)
	}
	if got := strings.Join(dpkgCandidates("/usr/bin/stackpilot"), " "); got != "/usr/bin/stackpilot /bin/stackpilot" {
		t.Fatalf("candidates %s", got)
	}
}

func TestNoticeState(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache", "update-check.json")
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	s := LoadNotice(path)
	if !s.CheckDue(now) || s.NoticeDue("1.0.0", now) {
		t.Fatalf("zero state: %+v", s)
	}
	s = NoticeState{CheckedAt: now.Add(-time.Hour), Latest: "1.1.0", Notes: "stackpilot 1.1.0\n\x1b[2J- x"}
	if err := s.Save(path); err != nil {
		t.Fatal(err)
	}
	s = LoadNotice(path)
	if s.CheckDue(now) || !s.NoticeDue("1.0.0", now) || s.NoticeDue("1.1.0", now) || s.NoticeDue("1.2.0", now) || strings.Contains(s.Notes, "\x1b") {
		t.Fatalf("%+v", s)
	}
	s.NotifiedAt = now.Add(-23 * time.Hour)
	if s.NoticeDue("1.0.0", now) || !s.NoticeDue("1.0.0", now.Add(2*time.Hour)) {
		t.Fatal("notice more than once a day")
	}
	if !s.CheckDue(now.Add(24*time.Hour)) || !s.CheckDue(now.Add(-2*time.Hour)) {
		t.Fatal("check not due after a day, or after the clock went back")
	}
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := LoadNotice(path); got.Latest != "" || !got.CheckDue(now) {
		t.Fatalf("corrupt file: %+v", got)
	}
}

func TestPlatformsAndAssetNames(t *testing.T) {
	_, priv := newTestKey(t)
	rel := makeRelease(priv, "1.0.0", map[string][]byte{"stackpilot_linux_amd64": nil, "stackpilot_darwin_arm64": nil, NotesFile: nil})
	sums, _ := ParseSums(rel.files[SumsFile])
	r := &Release{Sums: sums}
	if got := strings.Join(r.Platforms(), " "); got != "darwin/arm64 linux/amd64" {
		t.Fatal(got)
	}
	if HostAsset() != "stackpilot_"+runtime.GOOS+"_"+runtime.GOARCH {
		t.Fatal(HostAsset())
	}
}

// What the notice costs a command that shows nothing: reading the state.
func BenchmarkLoadNotice(b *testing.B) {
	path := filepath.Join(b.TempDir(), "update-check.json")
	s := NoticeState{CheckedAt: time.Now(), Latest: "1.1.0", Notes: "stackpilot 1.1.0\n- a change\n- another", NotifiedAt: time.Now()}
	if err := s.Save(path); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if st := LoadNotice(path); st.NoticeDue("1.0.0", time.Now()) || st.CheckDue(time.Now()) {
			b.Fatal("due")
		}
	}
}
