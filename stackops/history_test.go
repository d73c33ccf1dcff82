package stackops

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestHistoryAppendAndRead(t *testing.T) {
	st := loadDeployStack(t, deployStack)
	res, err := st.History(context.Background(), HistoryOptions{})
	if err != nil || len(res.Records) != 0 {
		t.Fatalf("empty history: %v %+v", err, res)
	}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i, result := range []string{ResultSuccess, ResultFailed, ResultCancelled} {
		r := HistoryRecord{ID: newRecordID(t0.Add(time.Duration(i) * time.Minute)), Op: "deploy", Time: t0.Add(time.Duration(i) * time.Minute),
			Services: []string{"api"}, ImagesBefore: map[string]string{"api": "sha256:a"}, ImagesAfter: map[string]string{"api": "sha256:b"}, Result: result}
		if err := st.appendHistory(r); err != nil {
			t.Fatal(err)
		}
	}
	// A damaged line (a crash mid-write, an editor) is skipped, not fatal.
	path := filepath.Join(st.Dir, ".stackpilot", HistoryFile)
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("{\"id\": \"broken\n")
	f.Close()
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("history file mode: %v %v", fi.Mode(), err)
	}
	res, err = st.History(context.Background(), HistoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Records) != 3 || res.Skipped != 1 {
		t.Fatalf("records %d skipped %d", len(res.Records), res.Skipped)
	}
	if res.Records[0].Result != ResultCancelled || res.Records[2].Result != ResultSuccess {
		t.Fatalf("not newest first: %s … %s", res.Records[0].Result, res.Records[2].Result)
	}
	if got := strings.Join(res.Records[0].Changed(), ","); got != "api" {
		t.Fatalf("changed %q", got)
	}
	res, _ = st.History(context.Background(), HistoryOptions{Limit: 2})
	if len(res.Records) != 2 || res.Records[0].Result != ResultCancelled {
		t.Fatalf("limit: %+v", res.Records)
	}
	if !strings.HasPrefix(res.Records[0].ID, "20260102T030605Z-") {
		t.Fatalf("id %q is not time-sortable", res.Records[0].ID)
	}
}

func TestRollbackTargetWalksBackThroughDeploys(t *testing.T) {
	rec := func(op, before, after string) HistoryRecord {
		return HistoryRecord{ID: op + before + after, Op: op, ImagesBefore: map[string]string{"api": before}, ImagesAfter: map[string]string{"api": after}}
	}
	// Newest first: deploy A→B, deploy B→C.
	recs := []HistoryRecord{rec("deploy", "B", "C"), rec("deploy", "A", "B")}
	if t1, ok := rollbackTarget(recs, "api", "C"); !ok || t1.TargetImage != "B" || t1.Deploy != "deployBC" {
		t.Fatalf("first rollback: %+v %v", t1, ok)
	}
	// After rolling back to B (recorded as a rollback C→B), the next rollback goes to A.
	recs = append([]HistoryRecord{rec("rollback", "C", "B")}, recs...)
	if t2, ok := rollbackTarget(recs, "api", "B"); !ok || t2.TargetImage != "A" {
		t.Fatalf("second rollback: %+v %v", t2, ok)
	}
	// At A there is nothing older.
	if t3, ok := rollbackTarget(recs, "api", "A"); ok {
		t.Fatalf("third rollback found %+v", t3)
	}
	// A deploy that changed nothing, or a service it did not touch, is skipped.
	if _, ok := rollbackTarget([]HistoryRecord{rec("deploy", "A", "A")}, "api", "A"); ok {
		t.Fatal("a deploy that changed nothing gave a target")
	}
	if _, ok := rollbackTarget(recs, "web", "X"); ok {
		t.Fatal("a service without history gave a target")
	}
	// An image changed outside stackpilot: back to the newest deploy's earlier image.
	if t4, ok := rollbackTarget(recs, "api", "Z"); !ok || t4.TargetImage != "B" {
		t.Fatalf("unknown current image: %+v %v", t4, ok)
	}
}
