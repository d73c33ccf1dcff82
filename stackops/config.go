package stackops

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ConfigExtension is the compose extension key holding stackpilot's settings.
// Compose ignores x- keys, so the block lives in the compose file itself.
const ConfigExtension = "x-stackpilot"

// Config is the x-stackpilot block. Each operation decodes its own section
// (see Section), so a typo in one key is reported with its path and an
// operation never depends on sections it does not use.
type Config struct {
	raw map[string]json.RawMessage
}

// configSections lists the known top-level keys, so an unknown one (a typo)
// fails loading instead of being ignored silently. Each is decoded by the
// package whose job it configures (env, backup, deploy hooks, probes), but
// Load checks them all here, whether or not that package is linked in.
var configSections = map[string]bool{"backup": true, "deploy": true, "env": true, "nodes": true, "orchestrator": true, "probes": true, "registry": true, "tasks": true}

func parseConfig(ext any) (*Config, error) {
	cfg := &Config{raw: map[string]json.RawMessage{}}
	if ext == nil {
		return cfg, nil
	}
	b, err := json.Marshal(ext)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ConfigExtension, err)
	}
	if err := json.Unmarshal(b, &cfg.raw); err != nil {
		return nil, fmt.Errorf("%w: %s must be a mapping", ErrInvalidConfig, ConfigExtension)
	}
	var unknown []string
	for k := range cfg.raw {
		if !configSections[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		var known []string
		for k := range configSections {
			known = append(known, k)
		}
		sort.Strings(known)
		return nil, fmt.Errorf("%w: unknown key %s in %s (known keys: %s)", ErrInvalidConfig,
			strings.Join(unknown, ", "), ConfigExtension, strings.Join(known, ", "))
	}
	return cfg, nil
}

// Section decodes the top-level key name into out. A missing section leaves
// out untouched (its defaults). Unknown keys inside the section are errors.
func (c *Config) Section(name string, out any) error {
	raw, ok := c.raw[name]
	if !ok || string(raw) == "null" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("%w: %s.%s: %s", ErrInvalidConfig, ConfigExtension, name, strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}

// Has reports whether the section is present.
func (c *Config) Has(name string) bool {
	_, ok := c.raw[name]
	return ok
}

// Duration is a time.Duration read from YAML as "30s", "2m" or a number of seconds.
type Duration time.Duration

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n float64
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("duration must be a string like \"30s\" or a number of seconds, got %s", string(b))
		}
		*d = Duration(time.Duration(n * float64(time.Second)))
		return nil
	}
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		*d = Duration(time.Duration(n * float64(time.Second)))
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("invalid duration %q (use e.g. 30s, 2m)", s)
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// Or returns d, or def when d is zero.
func (d Duration) Or(def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return time.Duration(d)
}

// StringList is a list of strings that also accepts a single string in YAML.
type StringList []string

// UnmarshalJSON implements json.Unmarshaler.
func (l *StringList) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*l = StringList{s}
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return fmt.Errorf("expected a string or a list of strings, got %s", string(b))
	}
	*l = list
	return nil
}
