package logs

import (
	"strings"
	"testing"
)

func TestDetectLogLevel(t *testing.T) {
	cases := []struct {
		line string
		want Level
	}{
		// JSON: level / severity / levelname, strings in any case, pino numbers, nested ECS.
		{`{"time":"2025-01-01T00:00:00Z","level":"error","msg":"disk full"}`, LevelError},
		{`{"level":"WARN","msg":"slow"}`, LevelWarn},
		{`{"severity":"INFO","message":"ok"}`, LevelInfo},
		{`{"levelname": "DEBUG", "message": "x"}`, LevelDebug},
		{`{"level":50,"msg":"pino error"}`, LevelError},
		{`{"level":30,"msg":"pino info"}`, LevelInfo},
		{`{"log":{"level":"warning"},"message":"ecs"}`, LevelWarn},
		{`{"msg":"the level of \"level\": error is in a string","x":1}`, LevelNone},
		{`{"msg":"no level here"}`, LevelNone},
		// logfmt (Go slog's TextHandler, logrus text).
		{`time=2025-01-01T00:00:00Z level=error msg="disk full"`, LevelError},
		{`time="2025-01-01" level=warning msg=slow`, LevelWarn},
		{`ts=1 lvl=info msg=ok`, LevelInfo},
		{`time=2025-01-01T00:00:00.000Z level=INFO msg=hello count=3`, LevelInfo},
		{`user level=admin logged in`, LevelNone},
		// Brackets, any case.
		{`[ERROR] disk full`, LevelError},
		{`2025-01-01 12:00:00 [warn] slow query`, LevelWarn},
		{`[Info] started`, LevelInfo},
		// LEVEL: — Python's default logger, uvicorn, PostgreSQL.
		{`ERROR:root:disk full`, LevelError},
		{`WARNING:app.db:slow`, LevelWarn},
		{`INFO:     127.0.0.1:5000 - "GET / HTTP/1.1" 200 OK`, LevelInfo},
		{`2025-01-01 12:00:00.000 UTC [1] ERROR:  duplicate key value`, LevelError},
		{`error: could not connect`, LevelError},
		// Bare upper-case words: Go's slog default logger, log4j, zap, zerolog.
		{`2025/01/01 12:00:00 INFO hello count=3`, LevelInfo},
		{`2025/01/01 12:00:00 ERROR failed to connect`, LevelError},
		{`2025-01-01 12:00:00.000 WARN 1 --- [main] c.e.App : low memory`, LevelWarn},
		{"2025-01-01T00:00:00.000Z\tERROR\tmain.go:12\tboom", LevelError},
		{`3:04PM ERR failed component=db`, LevelError},
		{`3:04PM WRN slow`, LevelWarn},
		{`npm ERR! code E404`, LevelError},
		{"\x1b[31mERROR\x1b[0m colored", LevelError},
		{`WARN slow query took 12ms`, LevelWarn},
		// klog / glog.
		{`E0102 15:04:05.123456       1 main.go:12] boom`, LevelError},
		{`I0102 15:04:05.123456       1 main.go:12] fine`, LevelInfo},
		{`W0102 15:04:05.123456       1 main.go:12] hmm`, LevelWarn},
		// Go panics and Python tracebacks.
		{`panic: runtime error: index out of range`, LevelError},
		{`fatal error: all goroutines are asleep - deadlock!`, LevelError},
		{`Traceback (most recent call last):`, LevelError},
		// Plain lines: no level, even with level-like words in the message.
		{`handled request id=3 path=/items/3`, LevelNone},
		{`listening on :8080`, LevelNone},
		{`the error rate is fine`, LevelNone},
		{`INFORMATIONAL nonsense ERRORS`, LevelNone},
		{`2025/01/01 12:00:00 plain go log line`, LevelNone},
		{``, LevelNone},
	}
	for _, c := range cases {
		if got := DetectLevel([]byte(c.line)); got != c.want {
			t.Errorf("DetectLevel(%q) = %q, want %q", c.line, got, c.want)
		}
	}
}

func TestLevelWordOnlyInHeader(t *testing.T) {
	long := "request handled by the upstream proxy after several retries with backoff and jitter, " +
		"and finally the response came back; it said ERROR in its body, which is the peer's business"
	if i := strings.Index(long, "ERROR"); i < headerScan {
		t.Fatalf("test line too short: ERROR at %d", i)
	}
	if got := DetectLevel([]byte(long)); got != LevelNone {
		t.Errorf("a level word far into a message set the level: %q", got)
	}
}

func TestParseLogLevel(t *testing.T) {
	for in, want := range map[string]Level{"error": LevelError, "ERR": LevelError, "warn": LevelWarn, "Warning": LevelWarn, "info": LevelInfo, "debug": LevelDebug} {
		got, err := ParseLevel(in)
		if err != nil || got != want {
			t.Errorf("ParseLevel(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseLevel("loud"); err == nil {
		t.Error("ParseLevel accepted an unknown level")
	}
}

func TestDetectLogLevelDoesNotAllocate(t *testing.T) {
	lines := [][]byte{
		[]byte(`{"time":"2025-01-01T00:00:00Z","level":"error","msg":"disk full"}`),
		[]byte(`time=2025-01-01T00:00:00Z level=error msg="disk full"`),
		[]byte(`[ERROR] request 9 failed`),
		[]byte(`handled request id=3 path=/items/3`),
	}
	allocs := testing.AllocsPerRun(100, func() {
		for _, l := range lines {
			DetectLevel(l)
		}
	})
	if allocs != 0 {
		t.Errorf("DetectLevel allocated %.1f times per run", allocs)
	}
}
