package main

import (
	"os"
	"runtime/debug"
	"testing"
)

// A command runs with GOGC=400 until Parallel restores the setting it
// replaced; GOGC from the environment is left as it is.
func TestRoomyGC(t *testing.T) {
	if v, ok := os.LookupEnv("GOGC"); ok {
		t.Setenv("GOGC", v) // restored after the test
		os.Unsetenv("GOGC")
	}
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	restore := roomyGC()
	if got := debug.SetGCPercent(gcPercent); got != gcPercent {
		t.Fatalf("GOGC after roomyGC = %d, want %d", got, gcPercent)
	}
	restore()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("GOGC after restore = %d, want 100", got)
	}
	t.Setenv("GOGC", "150")
	debug.SetGCPercent(150)
	roomyGC()()
	if got := debug.SetGCPercent(100); got != 150 {
		t.Fatalf("with GOGC=150 in the environment: %d", got)
	}
}
