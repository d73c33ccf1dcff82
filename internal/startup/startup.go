// Package startup runs a stackpilot process on one processor (GOMAXPROCS=1)
// until it knows what it will do. Most commands run for milliseconds and
// spend them waiting on files, Docker or Compose; with more processors the
// Go runtime wakes and starts extra threads while the packages initialise,
// which on a small VM costs more than the parallelism brings. Commands that
// compress, hash or parse a lot (backups, logs) call Parallel first.
//
// When it runs: Go initialises packages in dependency order and, among those
// whose imports are done, takes the one whose import path sorts first — the
// order of main's import lines plays no part. This package imports runtime,
// strconv and syscall, so `GODEBUG=inittrace=1 stackpilot --version` shows it
// as the 15th of ~130 package inits, ~1 ms in: after the runtime and a dozen
// small ones (errors, sync, syscall, crc32's tables and the like, ~0.3 ms
// together), before every package with real init work (crypto, text,
// compose-go, yaml, net).
package startup

import (
	"runtime"
	"strconv"
	"syscall"
)

// chosen is what the runtime chose at start: GOMAXPROCS from the
// environment, else its default (the CPUs this process may use, capped by
// its cgroup's CPU quota).
var chosen = runtime.GOMAXPROCS(1)

// Parallel gives the process back the processors the runtime chose for it.
// Without GOMAXPROCS in the environment that is the runtime's default again,
// which goes on following the CPUs the process may use (affinity, cgroup
// quota) as if startup had never set a value; a fixed GOMAXPROCS would turn
// those updates off. A GOMAXPROCS from the environment is restored as given.
func Parallel() {
	if fromEnvironment() {
		runtime.GOMAXPROCS(chosen)
		return
	}
	runtime.SetDefaultGOMAXPROCS()
}

// fromEnvironment reports whether the runtime took GOMAXPROCS from the
// environment: it does when the variable is a positive whole number.
func fromEnvironment() bool {
	v, _ := syscall.Getenv("GOMAXPROCS")
	n, err := strconv.ParseInt(v, 10, 32)
	return err == nil && n > 0
}
