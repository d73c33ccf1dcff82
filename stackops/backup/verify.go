package backup

import (
	"context"
	"errors"
	"fmt"
	"time"

	"filippo.io/age"

	"github.com/stackpilot/stackpilot/stackops"
)

// VerifyOptions configures VerifyBackup.
type VerifyOptions struct {
	// Ref is a backup id, id prefix, file name or path; "latest" (or empty with Latest) is the newest.
	Ref    string
	Latest bool
	// IdentityFile is the age identity for an encrypted archive.
	IdentityFile string
	Sink         stackops.EventSink
}

// VerifyResult is the outcome of a verification.
type VerifyResult struct {
	Backup Info `json:"backup"`
	OK     bool `json:"ok"`
	// Entries are the checked entries with their sizes and checksums (when OK).
	Entries []ManifestEntry `json:"entries"`
	// Error says what is damaged (when not OK).
	Error string `json:"error,omitempty"`
	// BrokenEntry names the damaged entry, when the damage is inside one.
	BrokenEntry string `json:"broken_entry,omitempty"`
	DurationMS  int64  `json:"duration_ms"`
	// Warnings are what went wrong beside the check (its record not kept).
	Warnings []string `json:"warnings,omitempty"`
}

// Verify re-reads a whole archive and recomputes every checksum: the
// file's own (against its end marker), every entry's (against the manifest),
// and the compressor's and age's integrity checks. A damaged archive gives a
// result with OK false and an error matching ErrDamaged that names the
// broken entry. The outcome is remembered for `backup list`.
func Verify(ctx context.Context, st *stackops.Stack, opts VerifyOptions) (*VerifyResult, error) {
	ref := opts.Ref
	if ref == "" && opts.Latest {
		ref = "latest"
	}
	info, err := Find(ctx, st, ref)
	if err != nil {
		return nil, err
	}
	identities, err := archiveIdentities(st, info, opts.IdentityFile)
	if err != nil {
		return nil, err
	}
	sink := stackops.SinkOrNop(opts.Sink)
	sink.Start("verify")
	res, err := verifyArchive(ctx, st, info, identities, sink)
	sink.Done("verify", err)
	return res, err
}

func verifyArchive(ctx context.Context, st *stackops.Stack, info *Info, identities []age.Identity, sink stackops.EventSink) (*VerifyResult, error) {
	a, err := openArchive(info.Path)
	if err != nil {
		return nil, err
	}
	defer a.Close()
	res, _, err := verifyOpened(ctx, st, info, a, identities, scanOptions{}, sink)
	return res, err
}

// verifyOpened verifies an archive already open (a restore then reads the
// same handle again) and returns the scan too: its manifest as read and the
// volumes' special files.
func verifyOpened(ctx context.Context, st *stackops.Stack, info *Info, a *archiveFile, identities []age.Identity, opts scanOptions, sink stackops.EventSink) (*VerifyResult, *ScanResult, error) {
	start := time.Now()
	res := &VerifyResult{Backup: *info, Entries: []ManifestEntry{}}
	sink.Event(stackops.Event{Op: "verify", Service: info.ID, Phase: "reading", Message: fmt.Sprintf("%s (%s)", info.File, humanBytes(info.Size)), Time: time.Now()})
	scan, err := a.scan(ctx, identities, opts, func(g *archiveGroup) error {
		sink.Event(stackops.Event{Op: "verify", Service: info.ID, Phase: "reading", Message: g.Label(), Time: time.Now()})
		return nil
	})
	res.DurationMS = time.Since(start).Milliseconds()
	if err != nil {
		if ctx.Err() != nil || errors.Is(err, ErrIdentityRequired) || errors.Is(err, ErrWrongIdentity) {
			return nil, nil, err
		}
		var de *DamagedError
		if errors.As(err, &de) {
			res.Error, res.BrokenEntry = err.Error(), stackops.SafeText(de.Entry)
			if rerr := recordVerification(st, info.Path, err); rerr != nil {
				res.Warnings = append(res.Warnings, rerr.Error())
			}
			sink.Event(stackops.Event{Op: "verify", Service: info.ID, Phase: "damaged", Message: err.Error(), Time: time.Now(), Final: true, Failed: true})
			return res, nil, err
		}
		return nil, nil, err
	}
	res.OK = true
	res.Entries = scan.Manifest.safe().Entries
	if rerr := recordVerification(st, info.Path, nil); rerr != nil {
		res.Warnings = append(res.Warnings, rerr.Error())
	}
	v := loadVerifyRecords(st).lookup(info.Path)
	res.Backup.Verified = v
	sink.Event(stackops.Event{Op: "verify", Service: info.ID, Phase: "ok", Message: fmt.Sprintf("%d entries, every checksum matches", len(scan.Entries)), Time: time.Now(), Final: true})
	return res, scan, nil
}

// VerifyArchiveFile verifies one archive file with no stack around it (a
// copy on another machine, tests): it returns the manifest when every
// checksum matches, else an error matching ErrDamaged.
func VerifyArchiveFile(ctx context.Context, path, identityFile string) (*Manifest, error) {
	ids, err := LoadIdentities(identityFile)
	if err != nil {
		return nil, err
	}
	a, err := openArchive(path)
	if err != nil {
		return nil, err
	}
	defer a.Close()
	res, err := a.scan(ctx, ids, scanOptions{}, nil)
	if err != nil {
		return nil, err
	}
	return res.Manifest.safe(), nil
}
