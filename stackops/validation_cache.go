package stackops

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"sync"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/loader"

	"github.com/stackpilot/stackpilot/stackops/internal/atomicfile"
	"github.com/stackpilot/stackpilot/stackops/internal/lazyre"
)

// Validating a compose file against the compose-spec JSON schema costs about
// 30 ms (compiling the schema), more than everything else `status` does. The
// result only depends on the files' bytes and the variables they interpolate,
// so a successful validation is remembered under a hash of exactly those, and
// the next load of the same input skips it. Any change to a file or to a
// referenced variable changes the hash and validates again. Files that pull in
// other files (include, extends) are always validated, since their
// dependencies are not hashed.

var varRefRe = lazyre.New(`\$\{?([A-Za-z_][A-Za-z0-9_]*)`)

// composeGoModule is the module whose schema validates compose files.
const composeGoModule = "github.com/compose-spec/compose-go/v2"

// composeGoVersion is the compose-go version built in: a newer one may
// validate more strictly, so a file validated by another version is
// validated again. Builds without module information (rare) use a constant.
var composeGoVersion = sync.OnceValue(func() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, d := range info.Deps {
			if d.Path == composeGoModule {
				if d.Replace != nil {
					d = d.Replace
				}
				return d.Version + " " + d.Sum
			}
		}
	}
	return "unknown-compose-go"
})

// validationCacheKey returns the key for the given compose files and
// environment, or "" when the input cannot be cached.
func validationCacheKey(files []string, env map[string]string) string {
	return validationCacheKeyFor(composeGoVersion(), files, env)
}

// validationCacheKeyFor is validationCacheKey for a given compose-go version.
func validationCacheKeyFor(composeGo string, files []string, env map[string]string) string {
	h := sha256.New()
	h.Write([]byte("stackpilot-validation-v1\x00"))
	h.Write([]byte(composeGo + "\x00"))
	names := map[string]bool{}
	for _, f := range files {
		if f == "-" {
			return ""
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return ""
		}
		s := string(b)
		if strings.Contains(s, "include") || strings.Contains(s, "extends") {
			return ""
		}
		h.Write([]byte(f + "\x00"))
		h.Write(b)
		h.Write([]byte{0})
		for _, m := range varRefRe().FindAllStringSubmatch(s, -1) {
			names[m[1]] = true
		}
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	hashValues(h, sorted, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	return hex.EncodeToString(h.Sum(nil))
}

// hashValues writes each name's value (or that it is unset) into h.
func hashValues(h hash.Hash, names []string, lookup func(string) (string, bool)) {
	for _, n := range names {
		if v, ok := lookup(n); ok {
			h.Write([]byte(n + "=" + v + "\x00"))
		} else {
			h.Write([]byte(n + "\x01\x00"))
		}
	}
}

// cacheDir is a directory of stackpilot's cache: sub under CacheDir
// ("" when there is none).
func cacheDir(sub string) string {
	d := CacheDir(nil)
	if d == "" {
		return ""
	}
	return filepath.Join(d, sub)
}

func validationCacheDir() string { return cacheDir("validated") }

// knownValid reports whether key was validated before.
func knownValid(key string) bool {
	dir := validationCacheDir()
	if key == "" || dir == "" {
		return false
	}
	_, err := os.Stat(filepath.Join(dir, key))
	return err == nil
}

// rememberValid records a successful validation; failures to write are ignored
// (the cache only saves time).
func rememberValid(key string) {
	dir := validationCacheDir()
	if key == "" || dir == "" {
		return
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return
	}
	_ = atomicfile.Write(filepath.Join(dir, key), nil, atomicfile.Options{Mode: 0o600})
}

// skipValidation is the load option used on a cache hit.
func skipValidation() cli.ProjectOptionsFn {
	return cli.WithLoadOptions(func(o *loader.Options) { o.SkipValidation = true })
}
