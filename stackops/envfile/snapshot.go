package envfile

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// Snapshot is a .env file as read: its bytes and whether it existed.
type Snapshot struct {
	Data   []byte
	Exists bool
}

// ReadSnapshot reads the file at path; an absent file is a snapshot that
// does not exist. Data may be the buffer an earlier parse in this process
// holds (see ParseCached): it must not be changed.
func ReadSnapshot(path string) (*Snapshot, error) {
	data, err := readBytes(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &Snapshot{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("%s is a directory, not a .env file", path)
	}
	return &Snapshot{Data: data, Exists: true}, nil
}

// Revision names the content: the sha256 of its bytes, or "absent".
func (s *Snapshot) Revision() string {
	if !s.Exists {
		return "absent"
	}
	return Revision(s.Data)
}

// Revision is the sha256 of a content, as a Snapshot names it.
func Revision(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// Unchanged reports whether the file at path still holds exactly the
// snapshot's content (or is still absent). It compares as it reads,
// through one small buffer: the file is as large as the one already in
// memory, and fresh memory is what a short command pays most for.
func (s *Snapshot) Unchanged(path string) (bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return !s.Exists, nil
	}
	if err != nil {
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	if !s.Exists {
		return false, nil
	}
	same, err := readerHolds(f, s.Data)
	if err != nil {
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	return same, nil
}
