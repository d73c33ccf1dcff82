package logs

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/stackpilot/stackpilot/stackops/internal/logstream"
)

func TestNormalizeMessage(t *testing.T) {
	cases := map[string]string{
		"request 17 failed: connection reset by peer 0x1f3a":         "request <n> failed: connection reset by peer <id>",
		"request 999999 failed: connection reset by peer 0xdeadbeef": "request <n> failed: connection reset by peer <id>",
		"user 550e8400-e29b-41d4-a716-446655440000 not found":        "user <uuid> not found",
		"user 123e4567-e89b-12d3-a456-426614174000 not found":        "user <uuid> not found",
		"slow query took 12ms":                                       "slow query took <n>ms",
		"GET /items/42 from 10.0.0.7:5432":                           "GET /items/<n> from <n>.<n>.<n>.<n>:<n>",
		"commit abc1234 and deadbeefdeadbeefdeadbeef rejected":       "commit <id> and <id> rejected",
		"  spaced \t out  ":                                          "spaced out",
		"job user42 failed":                                          "job <id> failed",
		"plain words stay":                                           "plain words stay",
	}
	for in, want := range cases {
		if got := string(normalizeMessage(nil, []byte(in))); got != want {
			t.Errorf("normalizeMessage(%q) = %q, want %q", in, got, want)
		}
	}
	long := strings.Repeat("word ", 100)
	if got := normalizeMessage(nil, []byte(long)); len(got) > maxPattern {
		t.Errorf("pattern not bounded: %d bytes", len(got))
	}
}

func TestErrorMessage(t *testing.T) {
	cases := map[string]string{
		`{"time":"x","level":"error","msg":"request 9 failed"}`:      "request 9 failed",
		`{"level":"error","message":"boom","error":"x"}`:             "boom",
		`{"level":"error","error":"only an error field"}`:            "only an error field",
		`time=x level=error msg="request 9 failed" id=3`:             "request 9 failed",
		`time=x level=error msg=unquoted id=3`:                       "unquoted",
		`[ERROR] request 9 failed`:                                   "request 9 failed",
		`ERROR request 9 failed`:                                     "request 9 failed",
		`2025/01/01 12:00:00 ERROR request 9 failed`:                 "request 9 failed",
		`ERROR:root:request 9 failed`:                                "root:request 9 failed",
		`E0102 15:04:05.123456       1 main.go:12] request 9 failed`: "request 9 failed",
		`panic: boom`: "boom",
	}
	for in, want := range cases {
		if got := string(errorMessage([]byte(in))); got != want {
			t.Errorf("errorMessage(%q) = %q, want %q", in, got, want)
		}
	}
}

// The same error written in four formats groups as one message.
func TestSummaryGroupsAcrossFormats(t *testing.T) {
	acc := newSummaryAcc()
	lines := []string{
		`{"time":"x","level":"error","msg":"request 9 failed: connection reset by peer 0x1"}`,
		`time=x level=error msg="request 19 failed: connection reset by peer 0x2"`,
		`[ERROR] request 29 failed: connection reset by peer 0x3`,
		`ERROR request 39 failed: connection reset by peer 0x4`,
		`[WARN] slow`,
		`hello`,
	}
	for i, l := range lines {
		_ = acc.add(int64(i+1), 1, DetectLevel([]byte(l)), []byte(l))
	}
	if acc.lines != 6 || acc.levels[LevelError] != 4 || acc.levels[LevelWarn] != 1 || acc.levels[LevelNone] != 1 {
		t.Errorf("counts: lines %d levels %v", acc.lines, acc.levels)
	}
	if len(acc.sketch.h) != 1 || acc.sketch.h[0].count != 4 || acc.sketch.h[0].key != "request <n> failed: connection reset by peer <id>" {
		for _, e := range acc.sketch.h {
			t.Logf("group %q ×%d", e.key, e.count)
		}
		t.Fatalf("the four formats of one error did not group into one")
	}
	if acc.firstTS != 1 || acc.lastTS != 4 || !strings.Contains(string(acc.last), "request 39") {
		t.Errorf("first/last error: %d %d %q", acc.firstTS, acc.lastTS, acc.last)
	}
}

// Space-Saving keeps the frequent messages when there are more distinct ones than it has room for.
func TestErrorSketchBounded(t *testing.T) {
	s := newErrorSketch(16)
	for i := 0; i < 10000; i++ {
		s.add([]byte("frequent A"), []byte("a"))
		if i%2 == 0 {
			s.add([]byte("frequent B"), []byte("b"))
		}
		s.add([]byte(fmt.Sprintf("rare %d", i)), []byte("r"))
	}
	if len(s.m) != 16 || len(s.h) != 16 {
		t.Fatalf("sketch grew to %d entries", len(s.m))
	}
	a, b := s.m["frequent A"], s.m["frequent B"]
	if a == nil || b == nil {
		t.Fatal("a frequent message was evicted")
	}
	if a.count != 10000 || b.count < 5000 {
		t.Errorf("counts: A %d (want 10000), B %d (want ≥5000)", a.count, b.count)
	}
}

func TestSummaryAccDoesNotAllocateForRepeats(t *testing.T) {
	acc := newSummaryAcc()
	l1 := []byte(`{"time":"x","level":"error","msg":"request 9 failed: connection reset by peer 0x1"}`)
	l2 := []byte(`{"time":"x","level":"info","msg":"handled request id=3 path=/items/3"}`)
	_ = acc.add(1, 1, LevelError, l1)
	allocs := testing.AllocsPerRun(100, func() {
		_ = acc.add(2, 1, DetectLevel(l1), l1)
		_ = acc.add(3, 1, DetectLevel(l2), l2)
	})
	if allocs != 0 {
		t.Errorf("summarising a repeated error allocated %.1f times", allocs)
	}
}

// Log lines are whatever a container wrote: classifying, extracting and
// normalising must never panic, and a pattern stays bounded.
func FuzzLogLine(f *testing.F) {
	for _, s := range []string{
		`{"level":"error","msg":"request 9 failed"}`, `{"level":`, `{"msg":"\`, `time=x level=error msg="unterminated`,
		`[ERROR] x`, `ERROR:root:x`, "E0102 15:04:05.1] x", "\x1b[31mERROR\x1b[0m", "level=", "msg=\"\\", "550e8400-e29b-41d4-a716-44665544000",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		DetectLevel(line)
		msg := errorMessage(line)
		if got := normalizeMessage(nil, msg); len(got) > maxPattern {
			t.Fatalf("pattern of %d bytes", len(got))
		}
		acc := newSummaryAcc()
		_ = acc.add(1, 1, LevelError, line)
		d := logstream.NewDecoder(false, true)
		_ = d.Decode(bytes.NewReader(line), func(int64, uint8, []byte) error { return nil })
		_ = logstream.NewDecoder(true, true).Decode(bytes.NewReader(line), func(int64, uint8, []byte) error { return nil })
	})
}
