package wizard

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stackpilot/stackpilot/internal/itest"
)

// servicesCompose is n busybox services, each with the keys a real one has.
func servicesCompose(n int) string {
	var b strings.Builder
	b.WriteString("services:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  svc%03d:\n    image: %s\n    command: [\"sleep\", \"3600\"]\n    environment:\n      NAME: svc%03d\n      LEVEL: ${LEVEL:-info}\n    labels:\n      app: demo%d\n    restart: unless-stopped\n", i, itest.BusyboxImage, i, i)
	}
	return b.String()
}

// status --json prints the same with the compose-model cache off, on a
// miss (the model built and stored) and on a hit (the model decoded), for
// 1 and 200 services, one of them running.
func TestIntegrationStatusJSONSameWithModelCache(t *testing.T) {
	t.Parallel()
	itest.Require(t)
	for _, n := range []int{1, 200} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			p := itest.NewProject(t, servicesCompose(n), map[string]string{".env": "LEVEL=debug"})
			p.Compose("up", "-d", "svc000")
			cache := t.TempDir()
			models := filepath.Join(cache, "models")
			status := func(env ...string) (string, time.Duration) {
				t.Helper()
				start := time.Now()
				res := itest.Run(t, p.Dir, append([]string{"STACKPILOT_CACHE_DIR=" + cache}, env...), "status", "--json")
				took := time.Since(start)
				if (n == 1 && res.Code != 0) || (n > 1 && res.Code != 3) {
					t.Fatalf("status: exit %d\n%s", res.Code, res.Combined())
				}
				var rows []map[string]any
				if err := json.Unmarshal([]byte(res.Stdout), &rows); err != nil || len(rows) != n {
					t.Fatalf("status --json: %d rows, %v\n%s", len(rows), err, res.Stdout)
				}
				for _, r := range rows {
					delete(r, "uptime_seconds") // the only field that moves between runs
				}
				out, _ := json.Marshal(rows)
				return string(out), took
			}
			off, _ := status("STACKPILOT_MODEL_CACHE=off")
			if entries, _ := os.ReadDir(models); len(entries) != 0 {
				t.Fatalf("STACKPILOT_MODEL_CACHE=off stored %d entries", len(entries))
			}
			miss, _ := status()
			entries, _ := filepath.Glob(filepath.Join(models, "*"))
			if len(entries) != 1 {
				t.Fatalf("entries after the first run: %v", entries)
			}
			before, _ := os.Stat(entries[0])
			hit, _ := status()
			after, _ := os.Stat(entries[0])
			if !os.SameFile(before, after) || !after.ModTime().Equal(before.ModTime()) {
				t.Fatal("the second run did not use the stored model (the entry was rewritten)")
			}
			if miss != off || hit != off {
				t.Fatalf("status --json differs with the model cache:\noff:  %.400s\nmiss: %.400s\nhit:  %.400s", off, miss, hit)
			}
			if !strings.Contains(hit, `"state":"running"`) {
				t.Fatalf("unexpected output: %.400s", hit)
			}
		})
	}
}
