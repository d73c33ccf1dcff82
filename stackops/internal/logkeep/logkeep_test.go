package logkeep

import (
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func container(id string, removed time.Time) Container {
	return Container{ID: strings.Repeat(id, 64/len(id)), Name: "p-worker-1", Service: "worker", Number: 1,
		State: "restarting", ExitCode: 1, RestartCount: 7, RemovedAt: removed, By: "deploy 20261207T145440Z-5283"}
}

// What is saved reads back: the header and the lines, oldest first; a log
// longer than MaxLines keeps its end and says it was cut.
func TestSaveListRead(t *testing.T) {
	dir := filepath.Join(t.TempDir(), Dir)
	now := time.Now().UTC()
	lines := make([]Line, MaxLines+3)
	for i := range lines {
		lines[i] = Line{TS: int64(i), Stream: 1, Text: "line " + strings.Repeat("x", i%3)}
	}
	lines[len(lines)-1].Text = strings.Repeat("y", MaxLineBytes+10)
	if err := Save(dir, container("a", now.Add(-time.Minute)), lines); err != nil {
		t.Fatal(err)
	}
	if err := Save(dir, container("b", now), []Line{{TS: 1, Stream: 2, Text: "ERROR: cannot reach the database"}}); err != nil {
		t.Fatal(err)
	}
	list, bad, err := List(dir)
	if err != nil || bad != 0 || len(list) != 2 {
		t.Fatalf("list %+v bad %d err %v", list, bad, err)
	}
	if list[0].ID[0] != 'b' || list[1].Lines != MaxLines || !list[1].Truncated || list[0].Truncated || list[1].RestartCount != 7 {
		t.Fatalf("headers %+v", list)
	}
	var got []Line
	if err := Read(list[1], func(l Line) error { got = append(got, l); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != MaxLines || got[0].TS != 3 || len(got[len(got)-1].Text) != MaxLineBytes {
		t.Fatalf("read %d lines, first %+v, last %d bytes", len(got), got[0], len(got[len(got)-1].Text))
	}
	if fi, err := os.Stat(filepath.Join(dir, fileName(list[0]))); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("file mode %v %v", fi, err)
	}
}

// A file that is not one stackpilot wrote is skipped and counted; a bad id is refused.
func TestListSkipsDamagedFiles(t *testing.T) {
	dir := t.TempDir()
	now := time.Now().UTC()
	if err := Save(dir, container("c", now), nil); err != nil {
		t.Fatal(err)
	}
	_ = os.WriteFile(filepath.Join(dir, "1-garbage.ndjson.gz"), []byte("not gzip"), 0o600)
	f, _ := os.Create(filepath.Join(dir, "2-notours.ndjson.gz"))
	zw := gzip.NewWriter(f)
	_, _ = zw.Write([]byte(`{"id":"../../etc","service":"x"}` + "\n"))
	_ = zw.Close()
	_ = f.Close()
	list, bad, err := List(dir)
	if err != nil || bad != 2 || len(list) != 1 {
		t.Fatalf("list %+v bad %d err %v", list, bad, err)
	}
	if err := Save(dir, Container{ID: "../x", Service: "s"}, nil); err == nil {
		t.Fatal("a bad id was saved")
	}
}

// Prune keeps the newest MaxFiles and nothing older than MaxAge.
func TestPrune(t *testing.T) {
	dir := t.TempDir()
	now := time.Now().UTC()
	for i := 0; i < MaxFiles+2; i++ {
		c := container("d", now.Add(-time.Duration(i)*time.Minute))
		c.ID = c.ID[:60] + strings.Repeat(string("0123456789abcdef"[i%16]), 4)
		if err := Save(dir, c, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := Save(dir, container("e", now.Add(-MaxAge-time.Hour)), nil); err != nil {
		t.Fatal(err)
	}
	if err := Prune(dir, now); err != nil {
		t.Fatal(err)
	}
	list, _, _ := List(dir)
	if len(list) != MaxFiles {
		t.Fatalf("%d kept, want %d", len(list), MaxFiles)
	}
	for _, c := range list {
		if now.Sub(c.RemovedAt) > MaxAge {
			t.Fatalf("kept one older than MaxAge: %v", c.RemovedAt)
		}
	}
}
