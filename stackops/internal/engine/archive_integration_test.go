package engine_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stackpilot/stackpilot/internal/itest"
	"github.com/stackpilot/stackpilot/stackops/internal/engine"
)

// The archive, exec, volume and helper-container endpoints against the real
// engine, on the FROM scratch fixture image (no shell, no tar inside).
func TestIntegrationEngineArchiveExecVolumes(t *testing.T) {
	itest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := engine.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	name := itest.UniqueName("spit-engine")
	if _, err := c.CreateVolume(ctx, engine.VolumeCreate{Name: name, Labels: map[string]string{"io.stackpilot.test": "1"}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.RemoveVolume(context.Background(), name) })
	v, err := c.InspectVolume(ctx, name)
	if err != nil || v.Labels["io.stackpilot.test"] != "1" {
		t.Fatalf("inspect volume: %v %+v", err, v)
	}
	if _, err := c.InspectVolume(ctx, name+"-missing"); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("missing volume: %v, want ErrNotFound", err)
	}

	// A running container with the volume at /data.
	var cfg engine.ContainerCreate
	cfg.Image = itest.FixtureImage
	cfg.Cmd = []string{"wait"}
	cfg.HostConfig.Mounts = []engine.MountSpec{{Type: "volume", Source: name, Target: "/data"}}
	id, err := c.CreateContainer(ctx, name, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.RemoveContainer(context.Background(), id, true, true) })
	if err := c.StartContainer(ctx, id); err != nil {
		t.Fatal(err)
	}

	// PUT a tar with a file, a symlink and an empty directory.
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	_ = tw.WriteHeader(&tar.Header{Name: "data/", Typeflag: tar.TypeDir, Mode: 0o755})
	_ = tw.WriteHeader(&tar.Header{Name: "data/hello.txt", Typeflag: tar.TypeReg, Mode: 0o640, Size: 5, Uid: 123, Gid: 456})
	_, _ = tw.Write([]byte("hello"))
	_ = tw.WriteHeader(&tar.Header{Name: "data/link", Typeflag: tar.TypeSymlink, Linkname: "hello.txt", Mode: 0o777})
	_ = tw.WriteHeader(&tar.Header{Name: "data/empty/", Typeflag: tar.TypeDir, Mode: 0o700})
	_ = tw.Close()
	if err := c.CopyToContainer(ctx, id, "/", &buf, engine.CopyToOptions{}); err != nil {
		t.Fatal(err)
	}

	// GET it back: content, owner, mode, symlink and empty dir survive.
	rc, st, err := c.CopyFromContainer(ctx, id, "/data")
	if err != nil {
		t.Fatal(err)
	}
	if st == nil || st.Name != "data" || !st.Mode.IsDir() {
		t.Errorf("path stat = %+v", st)
	}
	got := map[string]*tar.Header{}
	tr := tar.NewReader(rc)
	var hello []byte
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got[h.Name] = h
		if h.Name == "data/hello.txt" {
			hello, _ = io.ReadAll(tr)
		}
	}
	rc.Close()
	if string(hello) != "hello" || got["data/hello.txt"].Mode&0o777 != 0o640 || got["data/hello.txt"].Uid != 123 || got["data/hello.txt"].Gid != 456 {
		t.Errorf("hello.txt: %q %+v", hello, got["data/hello.txt"])
	}
	if h := got["data/link"]; h == nil || h.Typeflag != tar.TypeSymlink || h.Linkname != "hello.txt" {
		t.Errorf("symlink: %+v", h)
	}
	if h := got["data/empty/"]; h == nil || h.Mode&0o777 != 0o700 {
		t.Errorf("empty dir: %+v", h)
	}

	// exec: stdin in, stdout and stderr out, exit code.
	eid, err := c.ExecCreate(ctx, id, engine.ExecConfig{Cmd: []string{"/fixture", "cat=/data/hello.txt", "eprint=to-stderr", "exit=3"}, AttachStdout: true, AttachStderr: true})
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	code, err := c.ExecRun(ctx, eid, nil, &out, &errOut)
	if err != nil || code != 3 || out.String() != "hello" || strings.TrimSpace(errOut.String()) != "to-stderr" {
		t.Fatalf("exec: code %d err %v out %q err %q", code, err, out.String(), errOut.String())
	}

	// A helper container, created and never started, reads the same volume.
	var hcfg engine.ContainerCreate
	hcfg.Image = itest.FixtureImage
	hcfg.Entrypoint = []string{"/never-started"}
	hcfg.NetworkDisabled = true
	hcfg.HostConfig.NetworkMode = "none"
	hcfg.HostConfig.Mounts = []engine.MountSpec{{Type: "volume", Source: name, Target: "/volume"}}
	hid, err := c.CreateContainer(ctx, "", hcfg)
	if err != nil {
		t.Fatal(err)
	}
	rc, _, err = c.CopyFromContainer(ctx, hid, "/volume")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	tr = tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		if strings.HasPrefix(h.Name, "volume/") {
			n++
		}
	}
	rc.Close()
	if n != 4 {
		t.Errorf("helper saw %d entries, want 4", n)
	}
	if err := c.RemoveContainer(ctx, hid, true, true); err != nil {
		t.Fatal(err)
	}
	// The volume cannot go while a container uses it.
	if err := c.RemoveVolume(ctx, name); !errors.Is(err, engine.ErrConflict) {
		t.Errorf("remove volume in use: %v, want ErrConflict", err)
	}

	// exec with stdin: a large input reaches the process, and end of input closes it.
	var bcfg engine.ContainerCreate
	bcfg.Image = itest.BusyboxImage
	bcfg.Cmd = []string{"sleep", "300"}
	bid, err := c.CreateContainer(ctx, "", bcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.RemoveContainer(context.Background(), bid, true, true) })
	if err := c.StartContainer(ctx, bid); err != nil {
		t.Fatal(err)
	}
	eid, err = c.ExecCreate(ctx, bid, engine.ExecConfig{Cmd: []string{"sha256sum"}, AttachStdin: true, AttachStdout: true, AttachStderr: true})
	if err != nil {
		t.Fatal(err)
	}
	input := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	out.Reset()
	code, err = c.ExecRun(ctx, eid, bytes.NewReader(input), &out, io.Discard)
	sum := sha256Hex(input)
	if err != nil || code != 0 || !strings.HasPrefix(out.String(), sum) {
		t.Fatalf("exec with stdin: code %d err %v out %q want %s", code, err, out.String(), sum)
	}
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
