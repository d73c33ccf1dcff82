package selfupdate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"aead.dev/minisign"
)

// Default limits. A release server is untrusted until its bytes are
// checked, so nothing it sends may make stackpilot wait or allocate without
// bound.
const (
	DefaultConnectTimeout = 10 * time.Second
	DefaultIdleTimeout    = 30 * time.Second
	DefaultMaxDuration    = 10 * time.Minute

	maxSumsSize      = 64 << 10
	maxSignatureSize = 4 << 10
	maxNotesSize     = 256 << 10
	maxBinarySize    = 200 << 20
)

// Source is where releases come from and which keys make them trusted.
type Source struct {
	// BaseURL is the releases URL, laid out as GitHub's (DefaultBaseURL when empty).
	BaseURL string
	// TrustedKeys are the minisign public keys a release must be signed with.
	TrustedKeys []minisign.PublicKey
	// ConnectTimeout bounds connecting, TCP and TLS (DefaultConnectTimeout when 0).
	ConnectTimeout time.Duration
	// IdleTimeout is how long the server may stay silent, before its answer or
	// in the middle of one (DefaultIdleTimeout when 0).
	IdleTimeout time.Duration
	// MaxDuration bounds each request, body included (DefaultMaxDuration when 0).
	MaxDuration time.Duration
	// Transport overrides the HTTP transport (proxies from the environment otherwise).
	Transport http.RoundTripper
}

// Release is a release whose SHA256SUMS signature verified.
type Release struct {
	Version  string    `json:"version"`
	SignedAt time.Time `json:"signed_at"`
	KeyID    string    `json:"key_id"`
	// URL is the directory the release's files are downloaded from.
	URL string `json:"url"`
	// Notes are the release notes (checked against SHA256SUMS), "" when the
	// release has none.
	Notes string `json:"notes,omitempty"`
	// Sums lists every file of the release with its SHA-256.
	Sums Sums `json:"-"`
}

// HasAsset reports whether the release has the file name.
func (r *Release) HasAsset(name string) bool {
	_, ok := r.Sums[name]
	return ok
}

// Platforms lists the OS/architecture pairs the release has binaries for.
func (r *Release) Platforms() []string {
	var out []string
	for _, n := range r.Sums.Names() {
		if rest, ok := strings.CutPrefix(n, "stackpilot_"); ok {
			out = append(out, strings.Replace(rest, "_", "/", 1))
		}
	}
	return out
}

func (s *Source) base() string {
	b := s.BaseURL
	if b == "" {
		b = DefaultBaseURL
	}
	return strings.TrimRight(b, "/")
}

// Latest finds the newest release (BASE/latest/download/) and verifies it.
func (s *Source) Latest(ctx context.Context) (*Release, error) {
	return s.release(ctx, s.base()+"/latest/download", "")
}

// Release finds the release of version (BASE/download/vVERSION/) and
// verifies it is that version's.
func (s *Source) Release(ctx context.Context, version string) (*Release, error) {
	v, ok := ParseVersion(version)
	if !ok {
		return nil, fmt.Errorf("%q is not a release version (want e.g. 1.4.2)", version)
	}
	return s.release(ctx, s.versionURL(v.String()), v.String())
}

func (s *Source) versionURL(version string) string {
	return s.base() + "/download/v" + url.PathEscape(version)
}

// release fetches and verifies SHA256SUMS and its signature from dir, then
// the notes from the versioned directory (latest/ may move meanwhile).
func (s *Source) release(ctx context.Context, dir, want string) (*Release, error) {
	if len(s.TrustedKeys) == 0 {
		return nil, fmt.Errorf("%w: no trusted release key configured", ErrBadSignature)
	}
	sums, err := s.fetch(ctx, dir+"/"+SumsFile, maxSumsSize)
	if errors.Is(err, errNotFound) {
		if want == "" {
			return nil, fmt.Errorf("%w: no release published at %s (no %s)", ErrNoRelease, s.base(), SumsFile)
		}
		return nil, fmt.Errorf("%w: no release %s at %s (no %s)", ErrNoRelease, want, s.base(), SumsFile)
	}
	if err != nil {
		return nil, err
	}
	sig, err := s.fetch(ctx, dir+"/"+SignatureFile, maxSignatureSize)
	if errors.Is(err, errNotFound) {
		return nil, fmt.Errorf("%w: %s has no %s — refusing a release that cannot be verified", ErrSignatureMissing, dir, SignatureFile)
	}
	if err != nil {
		return nil, err
	}
	signed, err := VerifySums(s.TrustedKeys, sums, sig)
	if err != nil {
		return nil, err
	}
	if want != "" && signed.Version != want {
		return nil, fmt.Errorf("%w: the files published as %s are signed as release %s", ErrBadSignature, want, signed.Version)
	}
	parsed, err := ParseSums(sums)
	if err != nil {
		return nil, err
	}
	rel := &Release{Version: signed.Version, SignedAt: signed.SignedAt, KeyID: signed.KeyID, URL: s.versionURL(signed.Version), Sums: parsed}
	if rel.HasAsset(NotesFile) {
		notes, err := s.Download(ctx, rel, NotesFile, maxNotesSize)
		if err != nil {
			return nil, err
		}
		rel.Notes = string(notes)
	}
	return rel, nil
}

// Download fetches the release file name and checks its SHA-256 against the
// signed SHA256SUMS; nothing is returned that does not match.
func (s *Source) Download(ctx context.Context, rel *Release, name string, limit int64) ([]byte, error) {
	want, ok := rel.Sums[name]
	if !ok {
		return nil, fmt.Errorf("release %s has no file %s", rel.Version, name)
	}
	data, err := s.fetch(ctx, rel.URL+"/"+url.PathEscape(name), limit)
	if errors.Is(err, errNotFound) {
		return nil, fmt.Errorf("%w: %s is listed in release %s's %s but not published at %s", ErrNoRelease, name, rel.Version, SumsFile, rel.URL)
	}
	if err != nil {
		return nil, err
	}
	if got := sha256.Sum256(data); got != want {
		return nil, fmt.Errorf("%w: %s has SHA-256 %s, but the signed %s says %s — the download was altered or corrupted", ErrChecksumMismatch, name, hex.EncodeToString(got[:]), SumsFile, hex.EncodeToString(want[:]))
	}
	return data, nil
}

var (
	errNotFound = errors.New("not found")
	errStalled  = errors.New("stalled")
)

func (s *Source) client() *http.Client {
	rt := s.Transport
	if rt == nil {
		connect := durationOr(s.ConnectTimeout, DefaultConnectTimeout)
		rt = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   connect,
			ResponseHeaderTimeout: durationOr(s.IdleTimeout, DefaultIdleTimeout),
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          4,
			IdleConnTimeout:       30 * time.Second,
		}
	}
	return &http.Client{Transport: rt}
}

// fetch GETs u into memory, at most limit bytes, giving up when the server
// is silent for IdleTimeout or the whole request takes MaxDuration.
func (s *Source) fetch(ctx context.Context, u string, limit int64) ([]byte, error) {
	idle := durationOr(s.IdleTimeout, DefaultIdleTimeout)
	maxDur := durationOr(s.MaxDuration, DefaultMaxDuration)
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, maxDur)
	defer cancel()
	ctx, stall := context.WithCancelCause(ctx)
	defer stall(nil)
	timer := time.AfterFunc(idle, func() { stall(errStalled) })
	defer timer.Stop()

	fail := func(err error, got, total int64) error {
		switch {
		case parent.Err() != nil:
			return context.Cause(parent)
		case errors.Is(context.Cause(ctx), errStalled):
			return fmt.Errorf("%w: %s sent nothing for %s", ErrTimeout, hostOf(u), idle)
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			return fmt.Errorf("%w: %s took longer than %s", ErrTimeout, u, maxDur)
		case got >= 0 && (errors.Is(err, io.ErrUnexpectedEOF) || isConnectionLost(err)):
			if total > 0 {
				return fmt.Errorf("%w: %s ended after %d of %d bytes", ErrTruncated, u, got, total)
			}
			return fmt.Errorf("%w: %s ended after %d bytes: %v", ErrTruncated, u, got, err)
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return fmt.Errorf("%w: %s: %v", ErrTimeout, hostOf(u), err)
		}
		return fmt.Errorf("%w: %s: %v", ErrUnreachable, hostOf(u), err)
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("release URL %q: %w", u, err)
	}
	req.Header.Set("User-Agent", "stackpilot-self-update")
	resp, err := s.client().Do(req)
	if err != nil {
		return nil, fail(err, -1, 0)
	}
	defer resp.Body.Close()
	timer.Reset(idle)
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, errNotFound
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("%w: GET %s: %s", ErrUnreachable, u, resp.Status)
	case resp.ContentLength > limit:
		return nil, fmt.Errorf("%w: %s is %d bytes, more than the %d allowed", ErrTooLarge, u, resp.ContentLength, limit)
	}
	var buf bytes.Buffer
	if resp.ContentLength > 0 {
		buf.Grow(int(resp.ContentLength))
	}
	chunk := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(chunk)
		if n > 0 {
			timer.Reset(idle)
			if int64(buf.Len()+n) > limit {
				return nil, fmt.Errorf("%w: %s is more than the %d bytes allowed", ErrTooLarge, u, limit)
			}
			buf.Write(chunk[:n])
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fail(err, int64(buf.Len()), resp.ContentLength)
		}
	}
	if resp.ContentLength >= 0 && int64(buf.Len()) != resp.ContentLength {
		return nil, fmt.Errorf("%w: %s ended after %d of %d bytes", ErrTruncated, u, buf.Len(), resp.ContentLength)
	}
	return buf.Bytes(), nil
}

func isConnectionLost(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne) || strings.Contains(err.Error(), "connection reset")
}

func hostOf(u string) string {
	if p, err := url.Parse(u); err == nil && p.Host != "" {
		return p.Host
	}
	return u
}

func durationOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
