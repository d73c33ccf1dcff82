package itest

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os/exec"
	"sort"
	"strings"
	"testing"
)

// VolumeSnapshot describes every entry of a directory in a container —
// type, permission bits, owner, size, link target (a hard link's relative
// to dir), time, content hash and extended attributes — read through
// `docker cp` (the engine's archive API, independent of stackpilot's code).
// Keys are paths relative to dir ("" for dir itself).
func VolumeSnapshot(t testing.TB, container, dir string) map[string]string {
	t.Helper()
	cmd := exec.Command("docker", "cp", container+":"+dir, "-")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(out)
	snap := map[string]string{}
	root := ""
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(h.Name, "/")
		if root == "" {
			root = name
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(name, root), "/")
		sum := sha256.New()
		_, _ = io.Copy(sum, tr)
		link := h.Linkname
		if h.Typeflag == tar.TypeLink {
			link = strings.TrimPrefix(strings.TrimPrefix(link, root), "/")
		}
		var xattrs []string
		for k, v := range h.PAXRecords {
			if strings.HasPrefix(k, "SCHILY.xattr.") {
				xattrs = append(xattrs, k+"="+hex.EncodeToString([]byte(v)))
			}
		}
		sort.Strings(xattrs)
		snap[rel] = fmt.Sprintf("type=%c mode=%o uid=%d gid=%d size=%d link=%q mtime=%d sha=%s xattrs=%v", h.Typeflag, h.Mode&0o7777, h.Uid, h.Gid, h.Size, link,
			h.ModTime.Unix(), hex.EncodeToString(sum.Sum(nil))[:16], xattrs)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("docker cp %s:%s: %v", container, dir, err)
	}
	return snap
}

// SnapshotDiff lists how b differs from a, sorted.
func SnapshotDiff(a, b map[string]string) []string {
	var out []string
	for k, v := range a {
		if b[k] != v {
			out = append(out, fmt.Sprintf("%q: was %s, now %s", k, v, b[k]))
		}
	}
	for k, v := range b {
		if _, ok := a[k]; !ok {
			out = append(out, fmt.Sprintf("%q: new: %s", k, v))
		}
	}
	sort.Strings(out)
	return out
}
