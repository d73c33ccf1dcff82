package backup

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// An archive's id is its header's word: a copy brought from elsewhere may
// carry the id of a backup already here, and a later date. Asked for that
// id, Find refuses and names both files instead of picking the one its
// header dates newest; each file is still found by its name or path, and
// RefOf names each so that it is found again.
func TestFindRefusesAnIDTwoFilesCarry(t *testing.T) {
	ctx := context.Background()
	st, paths := pruneStack(t, "2026-11-25T12:00:00Z", "2026-11-24T12:00:00Z")
	const id = "20261124-120000"
	twin := filepath.Join(filepath.Dir(paths[id]), "copied-in.tar.zst")
	w, err := createArchive(twin, ArchiveHeader{Tool: "stackpilot", ID: id, Project: st.Name, Created: ts("2026-11-26T00:00:00Z"), Services: []string{"db"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.addDump(ManifestEntry{Kind: EntryDump, Path: "dumps/db/x/", Services: []string{"db"}, Dump: "x"}, strings.NewReader("other data"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := w.commit(); err != nil {
		t.Fatal(err)
	}

	_, err = Find(ctx, st, id)
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "copied-in.tar.zst") || !strings.Contains(err.Error(), filepath.Base(paths[id])) {
		t.Fatalf("Find(%s) with two files carrying it: %v, want a refusal naming both files", id, err)
	}
	for ref, want := range map[string]string{"copied-in.tar.zst": twin, paths[id]: paths[id], "20261125-120000": paths["20261125-120000"]} {
		info, err := Find(ctx, st, ref)
		if err != nil || info.Path != want {
			t.Fatalf("Find(%s): %v %v, want %s", ref, info, err, want)
		}
		again := RefOf(ctx, st, info)
		if back, err := Find(ctx, st, again); err != nil || back.Path != want {
			t.Errorf("RefOf(%s) = %q, which finds %v (%v), not the same file", ref, again, back, err)
		}
		if wantID := ref == "20261125-120000"; (again == info.ID) != wantID {
			t.Errorf("RefOf(%s) = %q: the id only when it finds the file alone", ref, again)
		}
	}
}
