package backup

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"filippo.io/age"
)

// dumpSpool holds dumps taken before a Swarm backup pauses their services
// (a dump needs its service running; the volumes are read with it at 0),
// until they are written into the archive after the volumes — the order a
// restore needs. Each is written encrypted to a key that exists only in
// this process's memory, so the spool on disk never holds a dump in the
// clear, whatever the archive's encryption; the files are hidden
// temporaries of the project in the backup directory, removed when the
// backup ends (removeStaleTemps removes those a killed run left).
type dumpSpool struct {
	id      *age.X25519Identity
	entries []spooledDump
}

type spooledDump struct {
	entry ManifestEntry
	path  string
}

func newDumpSpool() (*dumpSpool, error) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return nil, err
	}
	return &dumpSpool{id: id}, nil
}

// store writes one dump's output to a spool file named after the archive.
func (s *dumpSpool) store(dir, project, id string, e ManifestEntry, r io.Reader) error {
	f, err := os.CreateTemp(dir, fmt.Sprintf(".%s_%s.dump-*.tmp", project, id))
	if err != nil {
		return fmt.Errorf("dump spool: %w", err)
	}
	s.entries = append(s.entries, spooledDump{entry: e, path: f.Name()})
	aw, err := age.Encrypt(f, s.id.Recipient())
	if err == nil {
		if _, err = io.Copy(aw, r); err == nil {
			err = aw.Close()
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("dump spool: %w", err)
	}
	return nil
}

// writeTo adds the spooled dumps to the archive, in the order taken.
func (s *dumpSpool) writeTo(w *archiveWriter) error {
	for _, d := range s.entries {
		f, err := os.Open(d.path)
		if err != nil {
			return fmt.Errorf("dump spool: %w", err)
		}
		r, err := age.Decrypt(f, s.id)
		if err == nil {
			err = w.addDump(d.entry, r, nil)
		}
		f.Close()
		if err != nil {
			return fmt.Errorf("dump %s: %w", filepath.Base(d.entry.Path), err)
		}
	}
	return nil
}

// remove deletes the spool files.
func (s *dumpSpool) remove() {
	for _, d := range s.entries {
		_ = os.Remove(d.path)
	}
}
