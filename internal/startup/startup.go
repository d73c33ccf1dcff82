// Package startup runs a stackpilot process on one processor (GOMAXPROCS=1)
// until it knows what it will do. Most commands run for milliseconds and
// spend them waiting on files, Docker or Compose; with more processors the
// Go runtime wakes and starts extra threads while the packages initialise,
// which on a small VM costs more than the parallelism brings. Commands that
// compress, hash or parse a lot (backups, logs) call Parallel first.
//
// main imports it first, and it imports nothing but runtime, so it runs
// before nearly every other package's init.
package startup

import "runtime"

// parallelism is what the runtime chose (GOMAXPROCS from the environment,
// else the CPUs this process may use).
var parallelism = runtime.GOMAXPROCS(1)

// Parallel gives the process back every processor the runtime chose for it.
func Parallel() {
	if runtime.GOMAXPROCS(0) != parallelism {
		runtime.GOMAXPROCS(parallelism)
	}
}

// Processors is the parallelism Parallel restores.
func Processors() int { return parallelism }
