package selfupdate

import (
	"context"
	"runtime"
	"time"
)

// CheckOptions says what Check compares.
type CheckOptions struct {
	Source *Source
	// Current is the running binary's version ("dev" and other non-release
	// versions count as older than any release).
	Current string
	// GOOS and GOARCH choose the platform (runtime's when empty).
	GOOS, GOARCH string
}

// CheckResult is what Check found. JSON field names are stable.
type CheckResult struct {
	Current         string    `json:"current_version"`
	Latest          string    `json:"latest_version"`
	UpdateAvailable bool      `json:"update_available"`
	ReleasedAt      time.Time `json:"released_at"`
	// Asset is the file this platform would download, "" when the release
	// has none for it (then no update is available here).
	Asset string `json:"asset"`
	URL   string `json:"url"`
	Notes string `json:"notes,omitempty"`
	// Release is the verified release.
	Release *Release `json:"-"`
}

// Check finds the newest release and says whether it is newer than Current.
// It changes nothing.
func Check(ctx context.Context, opts CheckOptions) (*CheckResult, error) {
	rel, err := opts.Source.Latest(ctx)
	if err != nil {
		return nil, err
	}
	res := &CheckResult{Current: opts.Current, Latest: rel.Version, ReleasedAt: rel.SignedAt, URL: rel.URL, Notes: rel.Notes, Release: rel}
	asset := AssetName(orDefault(opts.GOOS, runtime.GOOS), orDefault(opts.GOARCH, runtime.GOARCH))
	if rel.HasAsset(asset) {
		res.Asset = asset
		res.UpdateAvailable = Newer(rel.Version, opts.Current)
	}
	return res, nil
}

// Newer reports whether release version latest is newer than current; a
// current that is not a release version (a development build) is older
// than every release.
func Newer(latest, current string) bool {
	l, ok := ParseVersion(latest)
	if !ok {
		return false
	}
	c, ok := ParseVersion(current)
	if !ok {
		return true
	}
	return l.Compare(c) > 0
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
