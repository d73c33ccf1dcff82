package stackops

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/stackpilot/stackpilot/stackops/envfile"
	"github.com/stackpilot/stackpilot/stackops/internal/lazyre"
)

// Redactor hides known secret values in what stackpilot shows of a command
// line or a command's output: progress events, errors, --json results,
// -v traces, a backup's manifest. A hook or dump written with a secret in
// its arguments (an interpolated ${SLACK_TOKEN}, a --token flag) is shown
// with ******** in its place; the command itself runs with the real value.
type Redactor struct {
	values   []string // longest first
	isSecret func(string) bool
}

// minSecretLen is the shortest value hidden: a shorter one would hide every
// such substring of every command line, and says too little to be a secret.
const minSecretLen = 4

// notSecretValues are values of secret-looking keys that are settings, not secrets.
var notSecretValues = map[string]bool{"true": true, "false": true, "null": true, "none": true, "yes": true, "on": true, "off": true}

// SecretRules returns the project's rules for secret-looking keys
// (x-stackpilot.env.secrets and not_secret; the default rules when unset):
// what `env list` masks, and whose values a Redactor hides.
func (s *Stack) SecretRules() func(key string) bool {
	var rules struct {
		Secrets   []string `json:"secrets"`
		NotSecret []string `json:"not_secret"`
	}
	if raw, ok := s.config.raw["env"]; ok {
		_ = json.Unmarshal(raw, &rules) // package env decodes it strictly and reports errors
	}
	if len(rules.Secrets) == 0 {
		rules.Secrets = nil
	}
	return func(key string) bool { return envfile.IsSecret(key, rules.Secrets, rules.NotSecret) }
}

// ComposeEnv looks key up in the environment Compose interpolates the
// project with: the process environment first, then the env files (.env).
func (s *Stack) ComposeEnv(key string) (string, bool) {
	if s.Project != nil && s.Project.Environment != nil {
		v, ok := s.Project.Environment[key]
		return v, ok
	}
	return s.LookupEnv(key)
}

// Redactor collects the secrets this stack knows: the values of every
// secret-looking variable Compose would interpolate with (.env and the
// process environment), and the credentials of every URL among those values.
func (s *Stack) Redactor() *Redactor {
	isSecret := s.SecretRules()
	env := map[string]string{}
	if s.Project != nil && s.Project.Environment != nil {
		for k, v := range s.Project.Environment {
			env[k] = v
		}
	} else {
		for k, v := range environMap(s.environ) {
			env[k] = v
		}
	}
	seen := map[string]bool{}
	r := &Redactor{isSecret: isSecret}
	add := func(v string) {
		if len(v) < minSecretLen || notSecretValues[strings.ToLower(v)] || seen[v] {
			return
		}
		seen[v] = true
		r.values = append(r.values, v)
	}
	if s.unsealed != nil {
		for _, v := range s.unsealed.values {
			add(v) // a decrypted value is a secret, whatever its key is called
		}
	}
	for k, v := range env {
		if isSecret(k) {
			add(v)
		}
		for _, c := range envfile.URLCredentials(v) {
			add(c)
		}
	}
	sort.Slice(r.values, func(i, j int) bool {
		if len(r.values[i]) != len(r.values[j]) {
			return len(r.values[i]) > len(r.values[j])
		}
		return r.values[i] < r.values[j]
	})
	return r
}

// NewRedactor hides the given values (tests, and callers with secrets of their own).
func NewRedactor(values ...string) *Redactor {
	r := &Redactor{isSecret: func(k string) bool { return envfile.IsSecret(k, nil, nil) }}
	for _, v := range values {
		if len(v) >= minSecretLen {
			r.values = append(r.values, v)
		}
	}
	sort.Slice(r.values, func(i, j int) bool { return len(r.values[i]) > len(r.values[j]) })
	return r
}

var authHeaderRe = lazyre.New(`(?i)(authorization:\s*[a-z]+\s+)[^\s'"]+`)

// Text hides every known secret in s, the credentials of every URL, and the
// credentials of an Authorization header.
func (r *Redactor) Text(s string) string {
	if r == nil || s == "" {
		return s
	}
	for _, v := range r.values {
		if strings.Contains(s, v) {
			s = strings.ReplaceAll(s, v, envfile.Mask)
		}
	}
	s, _ = envfile.MaskURLCredentials(s)
	if strings.Contains(strings.ToLower(s), "authorization:") {
		s = authHeaderRe().ReplaceAllString(s, "${1}"+envfile.Mask)
	}
	return s
}

// Lines is Text of each line.
func (r *Redactor) Lines(lines []string) []string {
	if r == nil || lines == nil {
		return lines
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = r.Text(l)
	}
	return out
}

// Args is argv as it may be shown: Text of every argument, and the value of
// a flag whose name looks secret (--token X, --password=X, --api-key X)
// hidden even when the value is not a known one.
func (r *Redactor) Args(argv []string) []string {
	if argv == nil {
		return nil
	}
	out := make([]string, len(argv))
	hideNext := false
	for i, a := range argv {
		switch {
		case hideNext && !strings.HasPrefix(a, "-"):
			out[i] = envfile.Mask
			hideNext = false
			continue
		case hideNext:
			hideNext = false
		}
		out[i] = r.Text(a)
		if i == 0 || !strings.HasPrefix(a, "-") || a == "-" || a == "--" {
			continue
		}
		name, val, hasVal := strings.Cut(a, "=")
		if !r.flagLooksSecret(name) {
			continue
		}
		if hasVal {
			if val != "" {
				out[i] = name + "=" + envfile.Mask
			}
		} else {
			hideNext = true
		}
	}
	return out
}

func (r *Redactor) flagLooksSecret(flag string) bool {
	name := strings.ToUpper(strings.ReplaceAll(strings.TrimLeft(flag, "-"), "-", "_"))
	if name == "" {
		return false
	}
	if r == nil || r.isSecret == nil {
		return envfile.IsSecret(name, nil, nil)
	}
	return r.isSecret(name)
}

// Writer passes what is written to w line by line (at \n or \r), each
// line through Text: a command's live output shown with the secrets this
// stack knows hidden. Flush writes a last line that has no end.
func (r *Redactor) Writer(w io.Writer) *RedactingWriter {
	return &RedactingWriter{w: w, r: r}
}

// RedactingWriter is Redactor.Writer.
type RedactingWriter struct {
	w   io.Writer
	r   *Redactor
	buf []byte
}

func (rw *RedactingWriter) Write(p []byte) (int, error) {
	rw.buf = append(rw.buf, p...)
	for {
		i := bytes.IndexAny(rw.buf, "\r\n")
		if i < 0 {
			break
		}
		line := rw.r.Text(string(rw.buf[:i])) + string(rw.buf[i])
		rw.buf = rw.buf[i+1:]
		if _, err := io.WriteString(rw.w, line); err != nil {
			return len(p), err
		}
	}
	if len(rw.buf) > 64<<10 { // a very long line goes out in pieces
		_, err := io.WriteString(rw.w, rw.r.Text(string(rw.buf)))
		rw.buf = rw.buf[:0]
		return len(p), err
	}
	return len(p), nil
}

// Flush writes what is left of a line without an end.
func (rw *RedactingWriter) Flush() {
	if len(rw.buf) > 0 {
		_, _ = io.WriteString(rw.w, rw.r.Text(string(rw.buf)))
		rw.buf = nil
	}
}

// Command is argv rendered for people (quoted as a shell would need), secrets hidden.
func (r *Redactor) Command(argv []string) string {
	return Cmd{Args: r.Args(argv)}.String()
}

// EnvValues returns KEY=VALUE for each of keys, from the environment Compose
// interpolates with (.env and the process environment): what a hook or a
// dump asked for with `env: [KEY]`. A key set nowhere is an error naming
// where it was asked for.
func (s *Stack) EnvValues(keys []string, where string) ([]string, error) {
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		v, ok := s.ComposeEnv(k)
		if !ok {
			return nil, fmt.Errorf("%s asks for %s in its environment (env: [%s]), but it is set neither in .env nor in the environment — set it with: %s", where, k, k, s.CommandLine("env", "set", k, "--value-stdin"))
		}
		out = append(out, k+"="+v)
	}
	return out, nil
}

// CheckEnvKeys checks the names of an `env:` list.
func CheckEnvKeys(keys []string) error {
	for _, k := range keys {
		if err := envfile.ValidKey(k); err != nil {
			return fmt.Errorf("env: %w", err)
		}
	}
	return nil
}
