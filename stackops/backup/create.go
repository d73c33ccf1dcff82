package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/stackops/internal/atomicfile"
	"github.com/stackpilot/stackpilot/stackops/internal/engine"
)

// ErrNothingToBackUp means the selected services have no named volume (that
// exists) and no dump.
var ErrNothingToBackUp = errors.New("nothing to back up")

// CreateOptions configures CreateBackup.
type CreateOptions struct {
	// Services limits the backup to these services' volumes and dumps
	// (every service when empty).
	Services []string
	// Tag is a label kept in the archive and its file name ("pre-upgrade").
	Tag string
	// EncryptTo are age recipients, added to x-stackpilot.backup.encrypt_to.
	EncryptTo []string
	// LockWait is how long to wait for the stack lock (0: fail at once).
	LockWait time.Duration
	// ToolVersion is recorded in the archive.
	ToolVersion string
	// Sink receives progress.
	Sink stackops.EventSink
	// Swarm reaches the volumes of a stack on a Docker Swarm (nil: one engine).
	Swarm *OnSwarm
	// holdPause, on a Swarm, receives the resume of the pause this backup
	// made, instead of resuming (a restore goes on in the same pause);
	// left nil when the backup did not pause or failed.
	holdPause *func(context.Context) error
	// pauseOp names the run that paused the services in the Swarm marker
	// ("backup create" when empty; a restore's safety backup pauses for it).
	pauseOp string
}

// CreateResult describes the archive written.
type CreateResult struct {
	Backup  Info            `json:"backup"`
	Entries []ManifestEntry `json:"entries"`
	// Skipped are volumes that do not exist (the stack was never deployed, or they were removed).
	Skipped []string `json:"skipped"`
	// Stopped are the services stopped while volumes were read (and started again).
	Stopped []string `json:"stopped"`
	// Warnings are what the archive leaves out or what a restore of it will
	// ask for (device nodes, symlinks pointing outside their volume).
	Warnings   []string `json:"warnings,omitempty"`
	DurationMS int64    `json:"duration_ms"`
}

// Create writes one archive of the stack: the compose files and env
// files, every selected named volume (read through the engine's archive API,
// which needs nothing inside the image), and every dump (run inside its
// service's container, output streamed into the archive). Services listed in
// x-stackpilot.backup.stop are stopped while the volumes are read and always
// started again — on failure and interruption too, and if this process is
// killed, by the next stackpilot command (see Recover). The
// archive is written to a temporary name and renamed once complete and on
// disk. It takes the stack lock.
func Create(ctx context.Context, st *stackops.Stack, opts CreateOptions) (*CreateResult, error) {
	lock, err := st.LockStack(ctx, "backup create", opts.LockWait)
	if err != nil {
		return nil, err
	}
	defer lock.Release()
	sink := stackops.SinkOrNop(opts.Sink)
	sink.Start("backup")
	res, err := createBackup(ctx, st, opts, sink)
	sink.Done("backup", err)
	return res, err
}

// createBackup is CreateBackup without the lock (a restore's safety backup
// runs under the restore's lock).
func createBackup(ctx context.Context, st *stackops.Stack, opts CreateOptions, sink stackops.EventSink) (res *CreateResult, err error) {
	start := time.Now()
	cfg, err := ConfigOf(st)
	if err != nil {
		return nil, err
	}
	if err := validTag(opts.Tag); err != nil {
		return nil, err
	}
	services, err := st.ResolveServices(opts.Services)
	if err != nil {
		return nil, err
	}
	recipients, err := ParseRecipients(append(append([]string{}, cfg.EncryptTo...), opts.EncryptTo...))
	if err != nil {
		return nil, fmt.Errorf("--encrypt-to: %w", err)
	}
	var recipientStrs []string
	for _, r := range recipients {
		if st, ok := r.(fmt.Stringer); ok {
			recipientStrs = append(recipientStrs, st.String())
		}
	}
	eng, err := st.Engine()
	if err != nil {
		return nil, err
	}
	eng = swarmEngine(opts.Swarm, eng)

	// What to read.
	vols := filterVolumes(stackVolumes(st, services), cfg.Volumes)
	var dumps []DumpConfig
	for _, d := range cfg.Dumps {
		if contains(services, d.Service) {
			dumps = append(dumps, d)
		}
	}
	removeHelpers(ctx, st, eng)
	// containers are the project's on one host; on a Swarm, the running
	// task containers of the dumps' services on the node (the volumes are
	// read from helper containers there).
	var containers []*stackops.Container
	if opts.Swarm == nil {
		if containers, err = st.ProjectContainers(ctx, eng, st.ServiceNames()); err != nil {
			return nil, err
		}
	} else if len(dumps) > 0 {
		if containers, err = swarmTasks(ctx, opts.Swarm, dumpServices(dumps)); err != nil {
			return nil, err
		}
	}
	res = &CreateResult{Skipped: []string{}, Stopped: []string{}, Entries: []ManifestEntry{}}
	var present []backupVolume
	for _, v := range vols {
		if _, err := eng.InspectVolume(ctx, v.EngineName); err != nil {
			if errors.Is(err, engine.ErrNotFound) {
				res.Skipped = append(res.Skipped, v.Key)
				sink.Event(stackops.Event{Op: "backup", Service: "volume " + v.Key, Phase: "skipped", Message: "volume " + v.EngineName + " does not exist (never deployed?)", Time: time.Now(), Final: true})
				continue
			}
			return nil, fmt.Errorf("volume %s: %w", v.EngineName, stackops.DockerError(err))
		}
		present = append(present, v)
	}
	if len(present) == 0 && len(dumps) == 0 {
		msg := fmt.Sprintf("the stack's services mount no named volume and have no dump in %s.backup.dumps", stackops.ConfigExtension)
		if len(services) == 1 {
			msg = fmt.Sprintf("%s mounts no named volume and has no dump in %s.backup.dumps", services[0], stackops.ConfigExtension)
		} else if len(opts.Services) > 0 {
			msg = fmt.Sprintf("%s mount no named volume and have no dump in %s.backup.dumps", strings.Join(services, ", "), stackops.ConfigExtension)
		}
		if len(res.Skipped) > 0 {
			msg = fmt.Sprintf("volume %s does not exist yet — deploy the stack first", strings.Join(res.Skipped, ", "))
		}
		return nil, fmt.Errorf("%w: %s", ErrNothingToBackUp, msg)
	}
	// A dump runs in its service's running container: check before stopping anything.
	for _, d := range dumps {
		if runningContainer(containers, d.Service) == nil && opts.Swarm != nil {
			return nil, swarmDumpDown(opts.Swarm, d.Service, d.Name)
		}
		if runningContainer(containers, d.Service) == nil {
			return nil, fmt.Errorf("dump %s/%s needs %s running — start it (%s) or leave it out (--service)", d.Service, d.Name, d.Service, st.CommandLine("deploy", d.Service))
		}
	}

	dir := backupDir(st, cfg)
	if err := ensureBackupDir(st, dir); err != nil {
		return nil, err
	}
	removeStaleTemps(dir, st.Name)
	now := time.Now().UTC().Truncate(time.Second)
	id := newBackupID(dir, st.Name, now)
	host, _ := os.Hostname()
	h := ArchiveHeader{Tool: "stackpilot", ToolVersion: orDefault(opts.ToolVersion, "dev"), ID: id, Project: st.Name, Created: now,
		Tag: opts.Tag, Host: host, Services: services, Volumes: []string{}, Dumps: []string{}, Files: []string{}, Recipients: recipientStrs}
	for _, v := range present {
		h.Volumes = append(h.Volumes, v.Key)
	}
	for _, d := range dumps {
		h.Dumps = append(h.Dumps, d.Service+"/"+d.Name)
	}
	files := backupFiles(st)
	for _, f := range files {
		h.Files = append(h.Files, f.Source)
	}
	finalPath := filepath.Join(dir, backupFileName(st.Name, id, opts.Tag, len(recipients) > 0))
	w, err := createArchive(finalPath, h, recipients)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			w.abort()
		}
	}()

	for _, f := range files {
		data, err := os.ReadFile(f.abs)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", f.Source, err)
		}
		if err := w.addFile(f.ManifestEntry, f.mode, data); err != nil {
			return nil, fmt.Errorf("write backup file: %w", err)
		}
	}

	if len(present) > 0 && opts.Swarm != nil {
		// The volumes are read with their services at 0, and a dump needs
		// its service running: the dumps are taken first, into a spool,
		// and written after the volumes (the order a restore loads them in).
		var spool *dumpSpool
		if len(dumps) > 0 {
			if spool, err = newDumpSpool(); err != nil {
				return nil, err
			}
			defer spool.remove()
			for _, d := range dumps {
				if err := captureDump(ctx, st, eng, d, containers, func(e ManifestEntry, r io.Reader, _ func(int64)) error {
					return spool.store(dir, st.Name, id, e, r)
				}, sink); err != nil {
					return nil, err
				}
			}
			dumps = nil
		}
		// (err below is the function's result: the deferred resume reads
		// and sets it.)
		var resume func(context.Context) error
		if resume, err = pauseSwarm(ctx, st, opts.Swarm, orDefault(opts.pauseOp, "backup create")); err != nil {
			return nil, err
		}
		defer func() {
			if err == nil && opts.holdPause != nil {
				*opts.holdPause = resume
				return
			}
			if rerr := resume(context.WithoutCancel(ctx)); rerr != nil && err == nil {
				err = fmt.Errorf("after the backup: %w", rerr)
			}
		}()
		if _, err := captureVolumes(ctx, st, eng, cfg, present, nil, w, id, sink, func(msg string) { res.Warnings = append(res.Warnings, msg) }, swarmHelperImage(opts.Swarm)); err != nil {
			return nil, err
		}
		if spool != nil {
			if err := spool.writeTo(w); err != nil {
				return nil, err
			}
		}
	} else if len(present) > 0 {
		stopped, err := captureVolumes(ctx, st, eng, cfg, present, containers, w, id, sink, func(msg string) { res.Warnings = append(res.Warnings, msg) }, swarmHelperImage(opts.Swarm))
		res.Stopped = stopped
		if err != nil {
			return nil, err
		}
		// Dumps may need a service that was just started again to be ready.
		if len(stopped) > 0 && len(dumps) > 0 {
			if containers, err = st.ProjectContainers(ctx, eng, st.ServiceNames()); err != nil {
				return nil, err
			}
		}
	}

	for _, d := range dumps {
		if err := captureDump(ctx, st, eng, d, containers, w.addDump, sink); err != nil {
			return nil, err
		}
	}

	size, err := w.commit()
	if err != nil {
		return nil, err
	}
	info, ierr := readBackupInfo(finalPath)
	if ierr != nil {
		return nil, ierr
	}
	info.Size = size
	res.Backup = *info
	res.Entries = w.manifest.Entries
	res.DurationMS = time.Since(start).Milliseconds()
	sink.Event(stackops.Event{Op: "backup", Service: "archive", Phase: "written", Message: fmt.Sprintf("%s (%s)", filepath.Base(finalPath), humanBytes(size)), Time: time.Now(), Final: true})
	return res, nil
}

// captureVolumes stops the configured services, reads every volume into the
// archive, and starts the services again whatever happens. It returns the
// services it stopped.
func captureVolumes(ctx context.Context, st *stackops.Stack, eng *engine.Client, cfg *Config, vols []backupVolume,
	containers []*stackops.Container, w *archiveWriter, id string, sink stackops.EventSink, warn func(string), image string) (stoppedServices []string, err error) {
	var toStop []*stackops.Container
	for _, c := range containers {
		if contains(cfg.Stop, c.Service) && c.Running() {
			toStop = append(toStop, c)
		}
	}
	var marker *opMarker
	if len(toStop) > 0 {
		marker, err = beginMarker(st, "backup create", id)
		if err != nil {
			return nil, err
		}
	}
	var stopped []*stackops.Container
	restarted := false
	restart := func() error {
		if restarted {
			return nil
		}
		restarted = true
		// Whatever happened to ctx (Ctrl-C, SIGTERM), the services come back.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		var errs []string
		for i := len(stopped) - 1; i >= 0; i-- {
			c := stopped[i]
			svc := c.Service
			if err := eng.StartContainer(rctx, c.ID); err != nil {
				errs = append(errs, fmt.Sprintf("%s: %v", svc, stackops.DockerError(err)))
				sink.Event(stackops.Event{Op: "backup", Service: svc, Phase: "failed", Message: "start again: " + err.Error(), Time: time.Now(), Final: true, Failed: true})
				continue
			}
			sink.Event(stackops.Event{Op: "backup", Service: svc, Phase: "started", Message: "running again", Time: time.Now(), Final: true})
		}
		if len(errs) > 0 {
			// The marker stays: the next stackpilot command tries again.
			marker.keep()
			return fmt.Errorf("could not start again: %s — start them with %s", strings.Join(errs, "; "), st.CommandLine("deploy"))
		}
		marker.finish()
		return nil
	}
	defer func() {
		if rerr := restart(); rerr != nil && err == nil {
			err = rerr
		}
	}()
	for _, c := range toStop {
		svc := c.Service
		if err := marker.update(func(d *markerData) {
			d.Stopped = append(d.Stopped, markerContainer{Service: svc, ID: c.ID, Name: c.Name, Stopping: true})
		}); err != nil {
			return serviceNames(stopped), fmt.Errorf("marker: %w", err)
		}
		stopped = append(stopped, c)
		sink.Event(stackops.Event{Op: "backup", Service: svc, Phase: "stopping", Message: "for a consistent copy", Time: time.Now()})
		if err := eng.StopContainer(ctx, c.ID, stopTimeout(st, cfg, svc)); err != nil {
			if ctx.Err() != nil {
				return serviceNames(stopped), context.Cause(ctx)
			}
			return serviceNames(stopped), fmt.Errorf("stop %s: %w", svc, stackops.DockerError(err))
		}
		if err := marker.update(func(d *markerData) { d.markStopped(c.ID) }); err != nil {
			return serviceNames(stopped), fmt.Errorf("marker: %w", err)
		}
		sink.Event(stackops.Event{Op: "backup", Service: svc, Phase: "stopped", Time: time.Now()})
	}
	for _, v := range vols {
		if err := captureVolume(ctx, st, eng, v, containers, w, sink, warn, image); err != nil {
			if ctx.Err() != nil {
				return serviceNames(stopped), context.Cause(ctx)
			}
			return serviceNames(stopped), err
		}
	}
	if err := restart(); err != nil {
		return serviceNames(stopped), err
	}
	// Wait until the restarted services are up again, so the backup leaves
	// the stack as it found it (and dumps find their service ready).
	if len(stopped) > 0 {
		_, gerr := st.WaitHealthy(ctx, stackops.HealthGateOptions{Services: dedupe(serviceNames(stopped)), Op: "backup", Sink: quietGate(sink), Settle: 2 * time.Second, Timeout: 2 * time.Minute})
		if gerr != nil {
			return serviceNames(stopped), fmt.Errorf("after the backup: %w", gerr)
		}
	}
	return dedupe(serviceNames(stopped)), nil
}

func serviceNames(cs []*stackops.Container) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.Service)
	}
	return out
}

// captureVolume streams one volume into the archive, from a container that
// mounts it, or from a helper container when none exists.
func captureVolume(ctx context.Context, st *stackops.Stack, eng *engine.Client, v backupVolume, containers []*stackops.Container, w *archiveWriter, sink stackops.EventSink, warn func(string), image string) error {
	label := "volume " + v.Key
	sourceID, target := "", v.Target
	for _, c := range containers {
		for _, m := range c.Mounts {
			if m.Type == "volume" && m.Name == v.EngineName {
				sourceID, target = c.ID, m.Destination
				break
			}
		}
		if sourceID != "" {
			break
		}
	}
	from := "container"
	if sourceID == "" {
		var err error
		if image == "" {
			image, err = serviceImage(ctx, st, eng, v.Services[0], containers)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", label, err)
		}
		id, err := helperContainer(ctx, st, eng, image, v.EngineName, target)
		if err != nil {
			return fmt.Errorf("%s: %w", label, err)
		}
		defer func() {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			_ = eng.RemoveContainer(rctx, id, true, true)
		}()
		sourceID, from = id, "helper container"
	}
	sink.Event(stackops.Event{Op: "backup", Service: label, Phase: "reading", Message: fmt.Sprintf("%s (through a %s)", target, from), Time: time.Now()})
	rc, _, err := eng.CopyFromContainer(ctx, sourceID, target)
	if err != nil {
		return fmt.Errorf("%s: read %s: %w", label, target, stackops.DockerError(err))
	}
	defer rc.Close()
	entry := ManifestEntry{Kind: EntryVolume, Path: "volumes/" + v.Key + "/", Volume: v.Key, EngineVolume: v.EngineName, Target: target, Services: v.Services}
	lastReport := time.Now()
	special, err := w.addVolume(entry, rc, []string{target}, func(n int64) {
		if time.Since(lastReport) > 500*time.Millisecond {
			lastReport = time.Now()
			sink.Event(stackops.Event{Op: "backup", Service: label, Phase: "reading", Message: humanBytes(n), Time: time.Now()})
		}
	})
	if err != nil {
		return fmt.Errorf("%s: %w", label, err)
	}
	for _, msg := range createWarnings(v.Key, special) {
		warn(msg)
	}
	e := w.manifest.Entries[len(w.manifest.Entries)-1]
	sink.Event(stackops.Event{Op: "backup", Service: label, Phase: "done", Message: fmt.Sprintf("%d entries, %s", e.Files, humanBytes(e.Size)), Time: time.Now(), Final: true})
	return nil
}

// captureDump runs a dump command inside the service's running container
// and streams its stdout into the archive.
func captureDump(ctx context.Context, st *stackops.Stack, eng *engine.Client, d DumpConfig, containers []*stackops.Container, store func(ManifestEntry, io.Reader, func(int64)) error, sink stackops.EventSink) error {
	label := "dump " + d.Service + "/" + d.Name
	c := runningContainer(containers, d.Service)
	if c == nil {
		return fmt.Errorf("%s: %s is not running", label, d.Service)
	}
	red := st.Redactor()
	env, err := st.EnvValues(d.Env, label)
	if err != nil {
		return err
	}
	sink.Event(stackops.Event{Op: "backup", Service: label, Phase: "dumping", Message: red.Command(d.Dump), Time: time.Now()})
	execID, err := eng.ExecCreate(ctx, c.ID, engine.ExecConfig{Cmd: d.Dump, User: d.User, Env: env, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return fmt.Errorf("%s: %w", label, stackops.DockerError(err))
	}
	pr, pw := io.Pipe()
	stderr := &tailBuffer{max: 4 << 10}
	var code int
	var runErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		code, runErr = eng.ExecRun(ctx, execID, nil, pw, stderr)
		pw.Close()
	}()
	// The manifest records the commands for people (a restore never runs
	// them), with known secrets hidden: an archive travels.
	entry := ManifestEntry{Kind: EntryDump, Path: "dumps/" + d.Service + "/" + d.Name + "/", Services: []string{d.Service}, Dump: d.Name,
		DumpCommand: red.Args(d.Dump), RestoreCommand: red.Args(d.Restore), User: d.User}
	lastReport := time.Now()
	counted := &countingReader{r: pr}
	addErr := store(entry, counted, func(n int64) {
		if time.Since(lastReport) > 500*time.Millisecond {
			lastReport = time.Now()
			sink.Event(stackops.Event{Op: "backup", Service: label, Phase: "dumping", Message: humanBytes(n), Time: time.Now()})
		}
	})
	if addErr != nil {
		pr.CloseWithError(addErr)
	}
	wg.Wait()
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	if addErr != nil {
		return fmt.Errorf("%s: %w", label, addErr)
	}
	if runErr != nil {
		return fmt.Errorf("%s: %w", label, stackops.DockerError(runErr))
	}
	if code != 0 {
		msg := fmt.Sprintf("%s: %s exited with status %d", label, red.Command(d.Dump), code)
		if t := strings.TrimSpace(stderr.String()); t != "" {
			msg += ": " + red.Text(lastLines(t, 5))
		}
		return errors.New(msg)
	}
	sink.Event(stackops.Event{Op: "backup", Service: label, Phase: "done", Message: humanBytes(counted.n), Time: time.Now(), Final: true})
	return nil
}

// createWarnings says what a backup of a volume left out (device nodes:
// a restore never creates one) and what restoring it will ask for.
func createWarnings(volume string, sp *SpecialFiles) []string {
	var out []string
	if sp.Devices.Count > 0 {
		out = append(out, fmt.Sprintf("volume %s: %d device node(s) not backed up (%s): a restore never creates device nodes", volume, sp.Devices.Count, sp.Devices))
	}
	if sp.OutsideLinks.Count > 0 {
		out = append(out, fmt.Sprintf("volume %s: %d symlink(s) point outside the volume (%s): restoring this backup will need --allow-outside-links", volume, sp.OutsideLinks.Count, sp.OutsideLinks))
	}
	return out
}

func runningContainer(containers []*stackops.Container, svc string) *stackops.Container {
	for _, c := range containers {
		if c.Service == svc && c.Running() {
			return c
		}
	}
	return nil
}

// backupFile is a compose or env file to store.
type backupFile struct {
	ManifestEntry
	abs  string
	mode int64
}

// backupFiles lists the compose files and env files, with archive paths
// relative to the project directory (files outside it go under _outside/).
func backupFiles(st *stackops.Stack) []backupFile {
	var out []backupFile
	seen := map[string]bool{}
	add := func(kind, abs string) {
		fi, err := os.Stat(abs)
		if err != nil || fi.IsDir() {
			return
		}
		rel, err := filepath.Rel(st.Dir, abs)
		if err != nil || strings.HasPrefix(rel, "..") {
			rel = filepath.Join("_outside", filepath.Base(abs))
		}
		rel = filepath.ToSlash(rel)
		p := kind + "/" + rel
		for i := 2; seen[p]; i++ {
			p = fmt.Sprintf("%s/%s.%d", kind, rel, i)
		}
		seen[p] = true
		out = append(out, backupFile{ManifestEntry: ManifestEntry{Kind: kind, Path: p, Source: rel}, abs: abs, mode: int64(fi.Mode().Perm())})
	}
	for _, f := range st.ComposeFiles {
		add(EntryCompose, f)
	}
	envs := st.EnvFiles
	if len(envs) == 0 {
		envs = []string{st.DotEnvPath()}
	}
	for _, f := range envs {
		add(EntryEnv, f)
	}
	return out
}

func filterVolumes(vols []backupVolume, sel VolumesConfig) []backupVolume {
	var out []backupVolume
	for _, v := range vols {
		if len(sel.Include) > 0 && !contains(sel.Include, v.Key) {
			continue
		}
		if contains(sel.Exclude, v.Key) {
			continue
		}
		out = append(out, v)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// ensureBackupDir creates the backup directory (0700). One inside the
// project directory (./backups by default) gets a .gitignore, as
// .stackpilot/ does: archives hold .env in plain text and must never be
// committed with the project.
func ensureBackupDir(st *stackops.Stack, dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("backup directory: %w", err)
	}
	rel, err := filepath.Rel(st.Dir, dir)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || rel == "." {
		return nil
	}
	gi := filepath.Join(dir, ".gitignore")
	if _, err := os.Lstat(gi); errors.Is(err, os.ErrNotExist) {
		_ = atomicfile.Write(gi, []byte("# stackpilot backups: archives hold .env in plain text — never commit them\n*\n"), atomicfile.Options{Mode: 0o600})
	}
	return nil
}

// newBackupID is the UTC time to the second, with -2, -3 … when taken.
func newBackupID(dir, project string, t time.Time) string {
	base := t.UTC().Format("20060102-150405")
	id := base
	for i := 2; ; i++ {
		matches, _ := filepath.Glob(filepath.Join(dir, project+"_"+id+"*"))
		taken := false
		for _, m := range matches {
			rest := strings.TrimPrefix(filepath.Base(m), project+"_"+id)
			if strings.HasPrefix(rest, "_") || strings.HasPrefix(rest, ".tar") {
				taken = true
			}
		}
		if !taken {
			return id
		}
		id = fmt.Sprintf("%s-%d", base, i)
	}
}

// removeStaleTemps deletes temporary archives of this project that a killed
// stackpilot left (the caller holds the stack lock, so none is being
// written): atomicfile's names, and the ".NAME.tmp" older versions used.
func removeStaleTemps(dir, project string) {
	matches, _ := filepath.Glob(filepath.Join(dir, "."+project+"_*.tmp"))
	sort.Strings(matches)
	for _, m := range matches {
		_ = os.Remove(m)
	}
}

// tailBuffer keeps the last max bytes written.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append([]byte(nil), t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
