package backup

import (
	"os"
	"syscall"
)

// statIdentity is a file's change time, device and inode (zero where the
// platform does not say).
func statIdentity(fi os.FileInfo) (ctime int64, dev, ino uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ctim.Nano(), uint64(st.Dev), st.Ino
	}
	return 0, 0, 0
}
