// Package prefault maps, in two system calls, the memory a short stackpilot
// command would otherwise fault in one page at a time: the program's code
// (MADV_POPULATE_READ over the executable mapping found in /proc/self/maps)
// and the next MiB of the Go heap (MADV_POPULATE_WRITE).
//
// Why: `stackpilot --version` or `env get` runs for ~15 ms, and most of what
// it does beyond an empty Go program is page faults while ~130 packages
// initialise, each touching its own corner of a 6 MiB text segment and
// allocating a few objects in size-class spans of their own. On the VMs
// this project is built and measured on (2 vCPU, a hypervisor with shadow
// page tables) each fault costs 15-25 µs; mapping in bulk costs well under
// 1 µs a page. Measured with `perf stat -e page-faults` and bench/startup.sh
// on `stackpilot --version`: 420 faults before, 263 after, and 17.0 → 14.6 ms
// median (interleaved runs, same minute); the code alone gave about 1 ms,
// the heap another 0.8. Mapping the read-only data, the initialised data or
// the bss as well measured no better, so it does not. Where a fault costs a
// microsecond or two (bare metal), the calls cost about what they save;
// that is not measured here.
//
// It runs from package initialisation, as early as its only dependency
// (syscall) allows. It never fails a command: without /proc, on a kernel
// older than 5.14, or if the heap range runs past what the runtime has
// mapped, the kernel maps what it can and the rest faults in on demand as
// before. The cost is resident memory: the code pages (shared with the page
// cache, not copied) and up to 1 MiB of heap count in RSS from the start.
package prefault
