//go:build linux

package prefault

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

const sampleMaps = `00400000-00a48000 r-xp 00000000 fe:00 1316273                            /usr/local/bin/stack pilot
00a48000-010e2000 r--p 00648000 fe:00 1316273                            /usr/local/bin/stack pilot
010e2000-01160000 rw-p 00ce2000 fe:00 1316273                            /usr/local/bin/stack pilot
c000000000-c000400000 rw-p 00000000 00:00 0
7f1c2a000000-7f1c2a021000 rw-p 00000000 00:00 0
7ffd6bd5c000-7ffd6bd7d000 rw-p 00000000 00:00 0                          [stack]
7ffd6bdb4000-7ffd6bdb6000 r-xp 00000000 00:00 0                          [vdso]
`

func TestTextRangeFindsTheMappingHoldingTheCode(t *testing.T) {
	for _, tc := range []struct {
		name       string
		pc         uintptr
		start, end uintptr
		ok         bool
	}{
		{"first byte of text", 0x400000, 0x400000, 0xa48000, true},
		{"inside text", 0x512345, 0x400000, 0xa48000, true},
		{"vdso is another executable mapping", 0x7ffd6bdb5000, 0x7ffd6bdb4000, 0x7ffd6bdb6000, true},
		{"end is exclusive", 0xa48000, 0, 0, false},
		{"read-only data is not code", 0xa50000, 0, 0, false},
		{"heap", 0xc000001000, 0, 0, false},
	} {
		s, ok := textRange([]byte(sampleMaps), tc.pc)
		if ok != tc.ok || s.start != tc.start || s.end != tc.end {
			t.Errorf("%s: textRange(%#x) = %#x-%#x %v, want %#x-%#x %v", tc.name, tc.pc, s.start, s.end, ok, tc.start, tc.end, tc.ok)
		}
	}
}

func TestTextRangeSkipsWhatItCannotRead(t *testing.T) {
	maps := "\n" + // empty line
		"zz-00a48000 r-xp 00000000 fe:00 1 /bin/x\n" + // not hex
		"00a48000-00400000 r-xp 00000000 fe:00 1 /bin/x\n" + // end before start
		"00400000 r-xp 00000000 fe:00 1 /bin/x\n" + // no dash
		"00400000-00a48000\n" + // no permissions
		"00400000-00a48000 r-xp 00000000 fe:00 1 /bin/x" // no newline: cut by the buffer
	if s, ok := textRange(completeLines([]byte(maps)), 0x500000); ok {
		t.Fatalf("textRange found %#x-%#x in lines it should have skipped", s.start, s.end)
	}
	if s, ok := textRange([]byte(maps+"\n"), 0x500000); !ok || s.start != 0x400000 || s.end != 0xa48000 {
		t.Fatalf("the complete last line was not read: %#x-%#x %v", s.start, s.end, ok)
	}
}

// TestTextRangeOfThisProcess reads this test binary's own maps.
func TestTextRangeOfThisProcess(t *testing.T) {
	var buf [16 << 10]byte
	n := readFile("/proc/self/maps", buf[:])
	if n <= 0 {
		t.Skip("no /proc/self/maps")
	}
	pc := codeAddress()
	text, ok := textRange(completeLines(buf[:n]), pc)
	if !ok {
		t.Fatalf("no executable mapping holds %#x in /proc/self/maps:\n%s", pc, buf[:n])
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The mapping is this binary's code: its first line in maps, r-xp.
	for _, line := range strings.Split(string(buf[:n]), "\n") {
		first, _, _ := strings.Cut(line, " ")
		if s, ok := parseRange([]byte(first)); ok && s == text {
			if !strings.Contains(line, " r-xp ") || !strings.HasSuffix(line, exe) {
				t.Fatalf("textRange chose %q, want the r-xp mapping of %s", line, exe)
			}
			return
		}
	}
	t.Fatalf("textRange returned %#x-%#x, which is not a line of maps", text.start, text.end)
}

// TestPopulateMapsEveryPage maps a 16 MiB file that nothing reads: before
// populate none of it is resident in this process, after it all of it is.
func TestPopulateMapsEveryPage(t *testing.T) {
	const size = 16 << 20
	f, err := os.CreateTemp(t.TempDir(), "text")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ, syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(b)
	s := span{uintptr(unsafe.Pointer(&b[0])), uintptr(unsafe.Pointer(&b[0])) + size}

	if kb := smapsRss(t, s.start); kb != 0 {
		t.Fatalf("before populate %d KiB are resident, want 0", kb)
	}
	if err := populate(s); err == syscall.EINVAL {
		t.Skip("this kernel has no MADV_POPULATE_READ (Linux 5.14)")
	} else if err != nil {
		t.Fatalf("populate: %v", err)
	}
	if kb := smapsRss(t, s.start); kb != size/1024 {
		t.Fatalf("after populate %d KiB are resident, want %d", kb, size/1024)
	}
}

// smapsRss is the Rss, in KiB, of the mapping starting at start.
func smapsRss(t *testing.T, start uintptr) uint64 {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skipf("no /proc/self/smaps: %v", err)
	}
	defer f.Close()
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		first, _, _ := strings.Cut(line, " ")
		if s, ok := parseRange([]byte(first)); ok {
			in = s.start == start
			continue
		}
		if in && strings.HasPrefix(line, "Rss:") {
			kb, err := strconv.ParseUint(strings.Fields(line)[1], 10, 64)
			if err != nil {
				t.Fatalf("smaps: %q: %v", line, err)
			}
			return kb
		}
	}
	t.Fatalf("no mapping at %#x in /proc/self/smaps", start)
	return 0
}

// TestPopulateWritableMapsEveryPage maps 4 MiB of fresh anonymous memory:
// before populateWritable no page is resident, after it every page is, and
// reads zero.
func TestPopulateWritableMapsEveryPage(t *testing.T) {
	const size = 4 << 20
	b, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(b)
	s := span{uintptr(unsafe.Pointer(&b[0])), uintptr(unsafe.Pointer(&b[0])) + size}
	if n := resident(t, s); n != 0 {
		t.Fatalf("before populateWritable %d pages are resident, want 0", n)
	}
	if err := populateWritable(s); err == syscall.EINVAL {
		t.Skip("this kernel has no MADV_POPULATE_WRITE (Linux 5.14)")
	} else if err != nil {
		t.Fatalf("populateWritable: %v", err)
	}
	if n, want := resident(t, s), size/syscall.Getpagesize(); n != want {
		t.Fatalf("after populateWritable %d pages are resident, want %d", n, want)
	}
	for i, c := range b {
		if c != 0 {
			t.Fatalf("byte %d is %d after populateWritable, want 0", i, c)
		}
	}
}

// resident counts the pages of s that mincore reports resident.
func resident(t *testing.T, s span) int {
	t.Helper()
	page := uintptr(syscall.Getpagesize())
	vec := make([]byte, (s.end-s.start+page-1)/page)
	if _, _, errno := syscall.Syscall(syscall.SYS_MINCORE, s.start, s.end-s.start, uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		t.Fatalf("mincore: %v", errno)
	}
	n := 0
	for _, v := range vec {
		n += int(v & 1)
	}
	return n
}
