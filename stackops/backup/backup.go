// Package backup is the backup commands' job on a stack: create, list,
// verify, restore and prune archives, schedule them, and Recover what a
// killed backup or restore left stopped. Archives are stackpilot's own
// format (archive.go): zstd-compressed tar, optionally age-encrypted, with a
// manifest and checksums that are verified before anything is restored.
package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"filippo.io/age"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/stackops/envcrypt"
	"github.com/stackpilot/stackpilot/stackops/envfile"
	"github.com/stackpilot/stackpilot/stackops/internal/engine"
	"github.com/stackpilot/stackpilot/stackops/internal/lazyre"
)

// DefaultDir is where archives go when x-stackpilot.backup.dir is not set
// (relative to the project directory).
const DefaultDir = "backups"

// Config is x-stackpilot.backup:
//
//	x-stackpilot:
//	  backup:
//	    dir: ./backups                # where archives go (relative to the project directory)
//	    volumes:                      # which named volumes (default: every volume a service mounts)
//	      include: [db-data]
//	      exclude: [cache]
//	    stop: [api]                   # services stopped while volumes are read, started again after
//	    dumps:                        # logical dumps run inside a running service container
//	      - service: db
//	        name: notes
//	        dump: ["/demoapp", "db-dump"]     # argv; its stdout is the dump
//	        restore: ["/demoapp", "db-load"]  # argv; gets the dump on stdin
//	        env: [DB_PASSWORD]                # .env values both commands get in their environment
//	    retention:                    # prune's policy when no --keep-* flag is given
//	      keep_last: 3
//	      keep_daily: 7
//	    encrypt_to: [age1…]           # age recipients every archive is encrypted for
type Config struct {
	Dir       string              `json:"dir,omitempty"`
	Volumes   VolumesConfig       `json:"volumes,omitempty"`
	Stop      stackops.StringList `json:"stop,omitempty"`
	Dumps     []DumpConfig        `json:"dumps,omitempty"`
	Retention RetentionPolicy     `json:"retention,omitempty"`
	EncryptTo stackops.StringList `json:"encrypt_to,omitempty"`
	// StopTimeout is how long a stopped service gets to exit before it is killed
	// (default: the service's stop_grace_period, else 10s).
	StopTimeout stackops.Duration `json:"stop_timeout,omitempty"`
}

// VolumesConfig picks volumes by compose key.
type VolumesConfig struct {
	Include stackops.StringList `json:"include,omitempty"`
	Exclude stackops.StringList `json:"exclude,omitempty"`
}

// DumpConfig is one logical dump: Dump runs inside the service's running
// container and its stdout is stored; Restore gets that output on stdin.
type DumpConfig struct {
	Service string   `json:"service"`
	Name    string   `json:"name"`
	Dump    []string `json:"dump"`
	Restore []string `json:"restore,omitempty"`
	// User runs the commands as this user (default: the container's).
	User string `json:"user,omitempty"`
	// Env names variables whose values (as Compose reads them: the
	// environment, then .env) both commands get in their environment, so a
	// password need not be written into the command line.
	Env stackops.StringList `json:"env,omitempty"`
}

var backupNameRe = lazyre.New(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ConfigOf returns the stack's x-stackpilot.backup, checked against the compose model.
func ConfigOf(st *stackops.Stack) (*Config, error) {
	var cfg Config
	if err := st.Config().Section("backup", &cfg); err != nil {
		return nil, err
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s.backup.%s", stackops.ErrInvalidConfig, stackops.ConfigExtension, fmt.Sprintf(format, a...))
	}
	for _, list := range []struct {
		key   string
		names []string
	}{{"volumes.include", cfg.Volumes.Include}, {"volumes.exclude", cfg.Volumes.Exclude}} {
		for _, v := range list.names {
			if _, ok := st.Project.Volumes[v]; !ok {
				return nil, bad("%s: no volume %q in the compose file (volumes: %s)", list.key, v, strings.Join(volumeKeys(st), ", "))
			}
		}
	}
	for _, svc := range cfg.Stop {
		if _, ok := st.Project.Services[svc]; !ok {
			if _, disabled := st.Project.DisabledServices[svc]; disabled {
				continue
			}
			return nil, bad("stop: no service %q (services: %s)", svc, strings.Join(st.ServiceNames(), ", "))
		}
	}
	seen := map[string]bool{}
	for i, d := range cfg.Dumps {
		where := fmt.Sprintf("dumps[%d]", i)
		if d.Service == "" || d.Name == "" || len(d.Dump) == 0 {
			return nil, bad("%s: service, name and dump are required", where)
		}
		if _, ok := st.Project.Services[d.Service]; !ok {
			if _, disabled := st.Project.DisabledServices[d.Service]; !disabled {
				return nil, bad("%s: no service %q (services: %s)", where, d.Service, strings.Join(st.ServiceNames(), ", "))
			}
		}
		if !backupNameRe().MatchString(d.Name) {
			return nil, bad("%s: name %q must be letters, digits, '.', '_' or '-'", where, d.Name)
		}
		if err := stackops.CheckEnvKeys(d.Env); err != nil {
			return nil, bad("%s: %v", where, err)
		}
		if seen[d.Service+"/"+d.Name] {
			return nil, bad("%s: %s/%s is declared twice", where, d.Service, d.Name)
		}
		seen[d.Service+"/"+d.Name] = true
	}
	if err := cfg.Retention.validate(); err != nil {
		return nil, bad("retention: %v", err)
	}
	if _, err := ParseRecipients(cfg.EncryptTo); err != nil {
		return nil, bad("encrypt_to: %v", err)
	}
	return &cfg, nil
}

// Dir is the directory archives are written to and listed from.
func Dir(st *stackops.Stack) (string, error) {
	cfg, err := ConfigOf(st)
	if err != nil {
		return "", err
	}
	return backupDir(st, cfg), nil
}

func backupDir(st *stackops.Stack, cfg *Config) string {
	dir := cfg.Dir
	if dir == "" {
		dir = DefaultDir
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(st.Dir, dir)
	}
	return filepath.Clean(dir)
}

func volumeKeys(st *stackops.Stack) []string {
	var keys []string
	for k := range st.Project.Volumes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// backupVolume is one named volume a backup reads or a restore replaces.
type backupVolume struct {
	Key        string   // compose key
	EngineName string   // the engine's volume name
	Services   []string // services (of the whole stack) that mount it
	Target     string   // the mount path in the first of them
	External   bool
}

// stackVolumes lists the named volumes the given services mount, in key
// order, with every service of the stack that mounts each.
func stackVolumes(st *stackops.Stack, services []string) []backupVolume {
	want := map[string]bool{}
	for _, svc := range services {
		for _, v := range st.Project.Services[svc].Volumes {
			if v.Type == "volume" && v.Source != "" {
				want[v.Source] = true
			}
		}
	}
	var out []backupVolume
	for _, key := range volumeKeys(st) {
		if !want[key] {
			continue
		}
		vc := st.Project.Volumes[key]
		bv := backupVolume{Key: key, EngineName: vc.Name, External: bool(vc.External)}
		if bv.EngineName == "" {
			bv.EngineName = st.Name + "_" + key
		}
		for _, svc := range st.ServiceNames() {
			for _, v := range st.Project.Services[svc].Volumes {
				if v.Type == "volume" && v.Source == key {
					if bv.Target == "" {
						bv.Target = v.Target
					}
					bv.Services = append(bv.Services, svc)
					break
				}
			}
		}
		out = append(out, bv)
	}
	return out
}

// Contents says what a backup of each service holds: the named volumes
// it mounts (after x-stackpilot.backup.volumes include/exclude) and its dumps,
// e.g. {"db": ["volume db-data", "dump notes"]}. Services with nothing to
// back up are left out.
func Contents(st *stackops.Stack) (map[string][]string, error) {
	cfg, err := ConfigOf(st)
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, svc := range st.ServiceNames() {
		for _, v := range filterVolumes(stackVolumes(st, []string{svc}), cfg.Volumes) {
			out[svc] = append(out[svc], "volume "+v.Key)
		}
	}
	for _, d := range cfg.Dumps {
		if _, ok := st.Project.Services[d.Service]; ok {
			out[d.Service] = append(out[d.Service], "dump "+d.Name)
		}
	}
	return out, nil
}

// mountTarget is where svc mounts the volume key ("" when it does not).
func mountTarget(st *stackops.Stack, svc, key string) string {
	for _, v := range st.Project.Services[svc].Volumes {
		if v.Type == "volume" && v.Source == key {
			return v.Target
		}
	}
	return ""
}

// ParseRecipients parses age recipients: "age1…" public keys, or paths to
// recipients files (one per line, # comments) — a .env whose encrypted
// values name recipients (`# stackpilot-recipient: age1…` lines, package
// envcrypt) is one too: its recipients are the archive's.
func ParseRecipients(list []string) ([]age.Recipient, error) {
	var out []age.Recipient
	for _, r := range list {
		r = strings.TrimSpace(r)
		if r == "" {
			continue
		}
		if strings.HasPrefix(r, "age1") {
			rec, err := age.ParseX25519Recipient(r)
			if err != nil {
				return nil, fmt.Errorf("recipient %q: %v", r, err)
			}
			out = append(out, rec)
			continue
		}
		if recs, ok, err := envRecipients(r); ok || err != nil {
			if err != nil {
				return nil, err
			}
			out = append(out, recs...)
			continue
		}
		f, err := os.Open(r)
		if err != nil {
			return nil, fmt.Errorf("recipient %q is neither an age1… key nor a readable recipients file: %v", r, err)
		}
		recs, err := age.ParseRecipients(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("recipients file %s: %v", r, err)
		}
		out = append(out, recs...)
	}
	return out, nil
}

// LoadIdentities reads an age identity file (AGE-SECRET-KEY-1… lines, as
// age-keygen writes them). A file that its group or others may read is
// refused, as ssh refuses such a private key: whoever can read it can read
// every backup encrypted for it.
func LoadIdentities(file string) ([]age.Identity, error) {
	if file == "" {
		return nil, nil
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("identity file: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s is readable by its group or others (mode %04o) — make it private: chmod 600 %s", ErrIdentityExposed, file, fi.Mode().Perm(), file)
	}
	ids, err := age.ParseIdentities(f)
	if err != nil {
		return nil, fmt.Errorf("identity file %s: %v", file, err)
	}
	return ids, nil
}

// envRecipients reads the recipients of a .env (ok false when path is not
// one that names any).
func envRecipients(path string) ([]age.Recipient, bool, error) {
	b, err := os.ReadFile(path)
	if err != nil || !bytes.Contains(b, []byte(envcrypt.RecipientTag)) {
		return nil, false, nil
	}
	d, err := envfile.Parse(b, nil)
	if err != nil {
		return nil, false, nil // not a .env: read as a recipients file
	}
	recs, err := envcrypt.AgeRecipients(d)
	if err != nil {
		return nil, true, fmt.Errorf("recipients of %s: %w", path, err)
	}
	return recs, len(recs) > 0, nil
}

// archiveIdentities are the identities to open an archive with: the file
// given, else — for an encrypted archive — the identities the encrypted
// .env values use (package envcrypt: STACKPILOT_IDENTITY, or the
// identities directory), so `backup create --encrypt-to .env` archives
// restore with the keys the team already has. None found is not an error
// here: the archive's own check says an identity is required.
func archiveIdentities(st *stackops.Stack, info *Info, file string) ([]age.Identity, error) {
	if file != "" || !info.Encrypted {
		return LoadIdentities(file)
	}
	ids, err := envcrypt.WhereFrom(st.LookupEnv).Load()
	switch {
	case errors.Is(err, envcrypt.ErrNoIdentity):
		return nil, nil
	case err != nil:
		return nil, err
	}
	return envcrypt.AgeIdentities(ids), nil
}

// ErrIdentityExposed means an age identity file may be read by others.
var ErrIdentityExposed = errors.New("the identity file is not private")

// Labels on stackpilot's helper containers: never Compose's, so Compose and
// status never mistake one for a service container.
const (
	labelHelper        = "io.stackpilot.helper"
	labelHelperProject = "io.stackpilot.project"
)

// helperContainer creates a container from image with the volume mounted at
// target, never started: the engine's archive API reads and writes a
// stopped container's volumes, so this works for any image, shell or not.
func helperContainer(ctx context.Context, st *stackops.Stack, eng *engine.Client, image, volume, target string) (string, error) {
	var cfg engine.ContainerCreate
	cfg.Image = image
	// Never started; if someone starts it anyway it exits at once.
	cfg.Entrypoint = []string{"/stackpilot-helper-never-started"}
	cfg.Labels = map[string]string{labelHelper: "backup", labelHelperProject: st.Name}
	cfg.NetworkDisabled = true
	cfg.HostConfig.NetworkMode = "none"
	cfg.HostConfig.Mounts = []engine.MountSpec{{Type: "volume", Source: volume, Target: target}}
	name := fmt.Sprintf("%s-stackpilot-helper-%d", st.Name, time.Now().UnixNano()%1e9)
	id, err := eng.CreateContainer(ctx, name, cfg)
	if err != nil {
		return "", fmt.Errorf("create a helper container from %s: %w", image, stackops.DockerError(err))
	}
	return id, nil
}

// removeHelpers removes helper containers of this project left behind by a
// stackpilot that was killed.
func removeHelpers(ctx context.Context, st *stackops.Stack, eng *engine.Client) {
	list, err := eng.ListContainers(ctx, true, engine.Filters{"label": {labelHelper, labelHelperProject + "=" + st.Name}})
	if err != nil {
		return
	}
	for _, c := range list {
		_ = eng.RemoveContainer(ctx, c.ID, true, true)
	}
}

// serviceImage finds a local image to build a helper container for svc: its
// container's image when one exists, else the compose model's image name,
// else the names Compose v2 and v1 give built images.
func serviceImage(ctx context.Context, st *stackops.Stack, eng *engine.Client, svc string, containers []*stackops.Container) (string, error) {
	for _, c := range containers {
		if c.Service == svc && c.ImageID != "" {
			return c.ImageID, nil
		}
	}
	model := st.Project.Services[svc]
	candidates := []string{}
	if model.Image != "" {
		candidates = append(candidates, model.Image)
	}
	candidates = append(candidates, st.Name+"-"+svc, st.Name+"_"+svc)
	for _, ref := range candidates {
		if id, err := eng.ImageID(ctx, ref); err == nil {
			return id, nil
		} else if !errors.Is(err, engine.ErrNotFound) {
			return "", stackops.DockerError(err)
		}
	}
	return "", fmt.Errorf("no local image for service %s (tried %s) — build or pull it first (%s)", svc, strings.Join(candidates, ", "), st.CommandLine("deploy", svc))
}

// stopTimeout is how long svc gets to stop.
func stopTimeout(st *stackops.Stack, cfg *Config, svc string) time.Duration {
	if cfg.StopTimeout != 0 {
		return time.Duration(cfg.StopTimeout)
	}
	if g := st.Project.Services[svc].StopGracePeriod; g != nil && *g > 0 {
		return time.Duration(*g)
	}
	return 10 * time.Second
}

// backupFileName is "<project>_<id>[_<tag>].tar.zst[.age]".
func backupFileName(project, id, tag string, encrypted bool) string {
	name := project + "_" + id
	if tag != "" {
		name += "_" + tag
	}
	if encrypted {
		return name + encryptedArchiveExt
	}
	return name + archiveExt
}

var tagRe = lazyre.New(`^[A-Za-z0-9][A-Za-z0-9.-]{0,39}$`)

// validTag checks a --tag: letters, digits, '.', '-' (it is part of the file name).
func validTag(tag string) error {
	if tag == "" || tagRe().MatchString(tag) {
		return nil
	}
	return fmt.Errorf("tag %q: use up to 40 letters, digits, '.' or '-'", tag)
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// agoText renders how long ago t was, as people say it.
func agoText(t time.Time) string {
	d := time.Since(t)
	n, unit := 0, ""
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		n, unit = int(d.Minutes()), "minute"
	case d < 48*time.Hour:
		n, unit = int(d.Hours()), "hour"
	default:
		n, unit = int(d.Hours()/24), "day"
	}
	if n != 1 {
		unit += "s"
	}
	return fmt.Sprintf("%d %s ago", n, unit)
}

// HumanBytes formats a size for people (1.5 MiB).
func HumanBytes(n int64) string { return humanBytes(n) }

// settleQuiet passes the health gate's events on, but only the first
// "running for …, settling" line of each service: the gate rewords it on
// every look, which a plain (non-terminal) log would print five times a second.
type settleQuiet struct {
	stackops.EventSink
	mu   sync.Mutex
	seen map[string]bool
}

func quietGate(sink stackops.EventSink) stackops.EventSink {
	return &settleQuiet{EventSink: stackops.SinkOrNop(sink), seen: map[string]bool{}}
}

// Event implements EventSink.
func (q *settleQuiet) Event(e stackops.Event) {
	if e.Phase == "waiting" && strings.HasSuffix(e.Message, "settling") {
		q.mu.Lock()
		dup := q.seen[e.Service]
		q.seen[e.Service] = true
		q.mu.Unlock()
		if dup {
			return
		}
	}
	q.EventSink.Event(e)
}
