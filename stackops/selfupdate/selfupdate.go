// Package selfupdate finds, verifies and installs stackpilot releases: the
// operations behind `stackpilot self-update`.
//
// A release is a directory of files laid out as GitHub publishes release
// assets (BASE/download/vX.Y.Z/ASSET, and BASE/latest/download/ASSET for the
// newest), so a GitHub release page or any static file server can host it:
//
//	stackpilot_linux_amd64 …     one static binary per platform (no version in
//	                              the name, so …/latest/download/ASSET always works)
//	RELEASE_NOTES.md             what changed
//	SHA256SUMS                   sha256sum's format, one line per file above
//	SHA256SUMS.minisig           minisign signature of SHA256SUMS
//
// Nothing downloaded is trusted until it is checked: the signature over
// SHA256SUMS must verify with one of the trusted keys (compiled into the
// binary, so keys can be rotated by listing two), its signed (trusted) comment
// must name the version being installed, and every file must match its
// SHA-256 in SHA256SUMS. Only then is the installed binary touched, and then
// only by an atomic rename in its own directory, the previous binary kept
// beside it for Rollback.
//
// The package never prints or prompts: consent comes through a
// stackops.ConfirmFunc, progress through a stackops.EventSink.
package selfupdate

import (
	"errors"
	"fmt"
	"runtime"
)

// DefaultBaseURL is where releases are published. STACKPILOT_UPDATE_URL
// replaces it (a mirror, or a local server in tests).
const DefaultBaseURL = "https://github.com/stackpilot/stackpilot/releases"

// Release file names.
const (
	SumsFile      = "SHA256SUMS"
	SignatureFile = "SHA256SUMS.minisig"
	NotesFile     = "RELEASE_NOTES.md"
)

// AssetName is the release file holding the binary for goos/goarch.
func AssetName(goos, goarch string) string {
	return fmt.Sprintf("stackpilot_%s_%s", goos, goarch)
}

// HostAsset is the release file holding the binary for this platform.
func HostAsset() string { return AssetName(runtime.GOOS, runtime.GOARCH) }

// Sentinel errors, matched with errors.Is. The wrapped messages say what
// failed; the caller adds which flag or command helps.
var (
	// ErrNoRelease means the release (or its SHA256SUMS) is not published.
	ErrNoRelease = errors.New("release not found")
	// ErrSignatureMissing means SHA256SUMS has no signature beside it.
	ErrSignatureMissing = errors.New("release signature missing")
	// ErrBadSignature means the signature does not verify with a trusted key,
	// or what it signs is not the release asked for.
	ErrBadSignature = errors.New("release signature invalid")
	// ErrBadChecksums means SHA256SUMS is malformed.
	ErrBadChecksums = errors.New("malformed SHA256SUMS")
	// ErrChecksumMismatch means a downloaded file is not the one SHA256SUMS names.
	ErrChecksumMismatch = errors.New("checksum mismatch")
	// ErrTruncated means a download ended before the size the server announced.
	ErrTruncated = errors.New("download truncated")
	// ErrTooLarge means a download exceeded the size allowed for its kind.
	ErrTooLarge = errors.New("download too large")
	// ErrNoAsset means the release has no binary for this platform.
	ErrNoAsset = errors.New("no binary for this platform")
	// ErrUnreachable means the release server could not be reached.
	ErrUnreachable = errors.New("release server unreachable")
	// ErrTimeout means the release server stopped answering, or a download
	// took longer than allowed.
	ErrTimeout = errors.New("release server timed out")
	// ErrNotWritable means the binary's directory cannot be written by this user.
	ErrNotWritable = errors.New("cannot replace the binary")
	// ErrManaged means a package manager installed the binary; it updates it.
	ErrManaged = errors.New("installed by a package manager")
	// ErrDowngrade means the release found is older than the running binary
	// and was not asked for by version.
	ErrDowngrade = errors.New("refusing to downgrade")
	// ErrBrokenBinary means the new binary did not run or reported another version.
	ErrBrokenBinary = errors.New("new binary does not run")
	// ErrNoPrevious means there is no previous binary to roll back to.
	ErrNoPrevious = errors.New("no previous binary")
	// ErrBusy means another self-update is replacing a binary in the same directory.
	ErrBusy = errors.New("another self-update is running")
)
