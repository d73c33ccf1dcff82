package backup

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/stackops/internal/engine"
)

// RestoreOptions configures RestoreBackup.
type RestoreOptions struct {
	// Ref is a backup id, id prefix, file name, path, or "latest".
	Ref string
	// Services limits the restore to these services' volumes and dumps (all when empty).
	Services []string
	// IdentityFile is the age identity of an encrypted archive.
	IdentityFile string
	// NoSafetyBackup skips the backup of the current state taken first.
	NoSafetyBackup bool
	// NoReadBack skips reading each replaced volume back against the
	// backup's checksum (one pass less over the data: shorter downtime for
	// large volumes, and less proof).
	NoReadBack bool
	// KeepSpecialBits restores setuid/setgid bits and extended attributes
	// (security.capability …) as the archive has them; by default they are
	// removed, since an archive from elsewhere could grant privileges with them.
	KeepSpecialBits bool
	// AllowOutsideLinks restores symlinks whose target is absolute (outside
	// the volume's mount point) or leads out of the volume; by default a
	// restore of a volume holding one is refused before anything changes.
	AllowOutsideLinks bool
	// LockWait is how long to wait for the stack lock.
	LockWait time.Duration
	// Timeout bounds the health gate after the restore (DefaultGateTimeout when zero).
	Timeout time.Duration
	// Confirm is asked, with the plan, before anything changes.
	Confirm stackops.ConfirmFunc
	// ToolVersion is recorded in the safety backup.
	ToolVersion string
	Sink        stackops.EventSink
	// Swarm reaches the volumes of a stack on a Docker Swarm (nil: one engine).
	Swarm *OnSwarm
}

// RestoredVolume is one volume a restore replaced.
type RestoredVolume struct {
	Volume       string   `json:"volume"`
	EngineVolume string   `json:"engine_volume"`
	Services     []string `json:"services"`
	Files        int      `json:"files"`
	Size         int64    `json:"size"`
	// Checked is true when the volume was read back and matched the backup's checksum.
	Checked bool `json:"checked"`
	// DurationMS is how long emptying, extracting and reading back took;
	// ReadBackMS the reading back alone.
	DurationMS int64 `json:"duration_ms"`
	ReadBackMS int64 `json:"read_back_ms"`
	// Special are the volume's special files and what was done with them.
	Special *SpecialFiles `json:"special_files,omitempty"`
}

// RestoredDump is one dump a restore loaded.
type RestoredDump struct {
	Service string   `json:"service"`
	Name    string   `json:"name"`
	Size    int64    `json:"size"`
	Command []string `json:"command"`
}

// RestoreResult is what a restore did.
type RestoreResult struct {
	Backup       Info                       `json:"backup"`
	SafetyBackup *Info                      `json:"safety_backup"`
	Volumes      []RestoredVolume           `json:"volumes"`
	Dumps        []RestoredDump             `json:"dumps"`
	Skipped      []string                   `json:"skipped"`
	Started      []string                   `json:"started"`
	Health       *stackops.HealthGateResult `json:"health,omitempty"`
	// VerifyMS is how long verifying the archive took, before anything changed.
	VerifyMS   int64 `json:"verify_ms"`
	DurationMS int64 `json:"duration_ms"`
}

// restorePlan is what a restore will do, worked out before anything changes.
type restorePlan struct {
	volumes []plannedVolume
	dumps   []plannedDump
	skipped []string
	// stop are services to stop (volume users and the config's stop list, minus dump-only services).
	stop []string
	// remove are services whose containers go (they mount a replaced volume).
	remove []string
	// oneOffs are stopped one-off containers (compose run) using a replaced volume.
	oneOffs []*engine.ContainerSummary
}

type plannedVolume struct {
	entry    ManifestEntry
	vol      backupVolume
	existing *engine.Volume
	image    string
	special  *SpecialFiles
}

type plannedDump struct {
	entry   ManifestEntry
	restore []string
	user    string
	env     []string // names, from the compose file
}

// Restore puts a backup back. It verifies the whole archive first and
// refuses a damaged one before touching anything; asks (opts.Confirm) with
// the plan; takes a safety backup of the current state (unless
// NoSafetyBackup); stops the affected services; replaces each volume's
// content exactly — the volume is removed and created again (same name,
// driver, options and labels) and the backup's files are extracted into it
// through the engine's archive API, so files created since are gone and
// modes, owners, symlinks and empty directories come back — then reads the
// volume back and checks it against the backup's checksum; loads each dump
// with its restore command; and starts the services again through the
// health gate. Services whose volume is replaced get new containers
// (created by Compose). If a volume cannot be replaced, it is rolled back
// from the safety backup. It takes the stack lock.
func Restore(ctx context.Context, st *stackops.Stack, opts RestoreOptions) (*RestoreResult, error) {
	lock, err := st.LockStack(ctx, "backup restore", opts.LockWait)
	if err != nil {
		return nil, err
	}
	defer lock.Release()
	sink := stackops.SinkOrNop(opts.Sink)
	sink.Start("restore")
	res, err := restoreBackup(ctx, st, opts, sink)
	sink.Done("restore", err)
	return res, err
}

func restoreBackup(ctx context.Context, st *stackops.Stack, opts RestoreOptions, sink stackops.EventSink) (*RestoreResult, error) {
	start := time.Now()
	info, err := Find(ctx, st, opts.Ref)
	if err != nil {
		return nil, err
	}
	identities, err := archiveIdentities(st, info, opts.IdentityFile)
	if err != nil {
		return nil, err
	}
	if info.Encrypted && len(identities) == 0 {
		return nil, ErrIdentityRequired
	}
	cfg, err := ConfigOf(st)
	if err != nil {
		return nil, err
	}
	selected, err := st.ResolveServices(opts.Services)
	if err != nil {
		return nil, err
	}
	eng, err := st.Engine()
	if err != nil {
		return nil, err
	}
	eng = swarmEngine(opts.Swarm, eng)

	// 1. Verify everything before touching anything, through the one
	// handle the restore then reads again: what is restored is the file
	// that was verified, never one put in its place.
	a, err := openArchive(info.Path)
	if err != nil {
		return nil, err
	}
	defer a.Close()
	stamp, err := a.stamp()
	if err != nil {
		return nil, err
	}
	vres, scan, err := verifyOpened(ctx, st, info, a, identities, scanOptions{linkRoots: volumeLinkRoots(st)}, sink)
	if err != nil {
		if errors.Is(err, ErrDamaged) {
			return nil, fmt.Errorf("refusing to restore, nothing was changed: %w", err)
		}
		return nil, err
	}
	manifest := scan.Manifest.safe()
	res := &RestoreResult{Backup: vres.Backup, Volumes: []RestoredVolume{}, Dumps: []RestoredDump{}, Skipped: []string{}, Started: []string{}, VerifyMS: vres.DurationMS}

	// 2. The plan.
	removeHelpers(ctx, st, eng)
	var containers []*stackops.Container
	if opts.Swarm == nil {
		if containers, err = st.ProjectContainers(ctx, eng, st.ServiceNames()); err != nil {
			return nil, err
		}
	}
	plan, err := planRestore(ctx, st, eng, cfg, manifest, selected, containers, opts.Swarm)
	if err != nil {
		return nil, err
	}
	res.Skipped = plan.skipped
	if len(plan.volumes) == 0 && len(plan.dumps) == 0 {
		return nil, fmt.Errorf("nothing to restore: backup %s holds no volume or dump of %s%s", info.ID, strings.Join(selected, ", "), skippedNote(plan.skipped))
	}
	for i := range plan.volumes {
		plan.volumes[i].special = scan.Specials[plan.volumes[i].entry.Path]
		if sp := plan.volumes[i].special; sp != nil && sp.OutsideLinks.Count > 0 && !opts.AllowOutsideLinks {
			return nil, fmt.Errorf("%w, nothing was changed: volume %s holds %d symlink(s) pointing outside the volume (%s) — a service following one reaches files outside the volume; pass --allow-outside-links if you trust this backup",
				ErrRefused, plan.volumes[i].vol.Key, sp.OutsideLinks.Count, sp.OutsideLinks)
		}
	}

	// On a Swarm a dump is loaded into its service's running task on the
	// node (after the service is scaled back, when it was paused): it must
	// run now, or a scale-back would not bring it either.
	if opts.Swarm != nil && len(plan.dumps) > 0 {
		var svcs []string
		for _, d := range plan.dumps {
			svcs = append(svcs, d.entry.Services[0])
		}
		tasks, err := swarmTasks(ctx, opts.Swarm, svcs)
		if err != nil {
			return nil, err
		}
		for _, d := range plan.dumps {
			if runningContainer(tasks, d.entry.Services[0]) == nil {
				return nil, fmt.Errorf("%w, nothing was changed", swarmDumpDown(opts.Swarm, d.entry.Services[0], d.entry.Dump))
			}
		}
	}

	// 3. Consent.
	confirm := opts.Confirm
	if confirm == nil {
		confirm = stackops.NeverConfirm
	}
	ok, err := confirm(ctx, restoreConfirmation(st, info, plan, opts, containers))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, stackops.ErrNotConfirmed
	}
	var scope []string
	for _, v := range plan.volumes {
		scope = append(scope, v.vol.Services...)
	}
	for _, d := range plan.dumps {
		scope = append(scope, d.entry.Services[0])
	}
	scope = dedupe(scope)
	var resume func(context.Context) error
	// 4. A safety backup of what is there now. On a Swarm the services are
	// paused (scaled to 0) from here until the volumes are replaced: the
	// safety backup pauses them (taking its dumps first, while they run)
	// and hands the pause on; the replacement sees the volumes at rest,
	// and the services come back through the Swarm health gate.
	if !opts.NoSafetyBackup {
		var held func(context.Context) error
		sb, err := createBackup(ctx, st, CreateOptions{Services: scope, Tag: "pre-restore", ToolVersion: opts.ToolVersion, Swarm: opts.Swarm, holdPause: &held, pauseOp: "backup restore"}, sink)
		resume = held
		if resume != nil {
			defer func() {
				if resume != nil {
					_ = resume(context.WithoutCancel(ctx))
				}
			}()
		}
		switch {
		case err == nil:
			res.SafetyBackup = &sb.Backup
		case errors.Is(err, ErrNothingToBackUp):
			sink.Event(stackops.Event{Op: "restore", Service: "safety backup", Phase: "skipped", Message: "nothing there yet to save", Time: time.Now(), Final: true})
		default:
			if ctx.Err() != nil {
				return nil, context.Cause(ctx)
			}
			return nil, fmt.Errorf("safety backup failed, nothing was restored: %w — fix it, or pass --no-safety-backup", err)
		}
		// The safety backup may have stopped and started services.
		if opts.Swarm == nil {
			if containers, err = st.ProjectContainers(ctx, eng, st.ServiceNames()); err != nil {
				return nil, err
			}
		}
	}
	if opts.Swarm != nil && len(plan.volumes) > 0 && resume == nil {
		if resume, err = pauseSwarm(ctx, st, opts.Swarm, "backup restore"); err != nil {
			return nil, err
		}
		defer func() {
			if resume != nil {
				_ = resume(context.WithoutCancel(ctx))
			}
		}()
	}
	// swarmUp scales the paused services back, through the gate: before
	// the first dump is loaded (dumps follow the volumes in the archive),
	// or once the volumes are replaced.
	var swarmStarted []string
	swarmUp := func(ctx context.Context) error {
		if resume == nil {
			return nil
		}
		r := resume
		resume = nil
		if err := r(ctx); err != nil {
			return err
		}
		for _, v := range plan.volumes {
			swarmStarted = append(swarmStarted, v.vol.Services...)
		}
		return nil
	}

	// The file read again must be the file verified: any change since —
	// written to in place, renamed over or removed, all of which move its
	// change time — is refused before anything is stopped; a change during
	// the pass fails the entry's checksum before it counts as restored.
	if now, err := a.stamp(); err != nil || now != stamp {
		return res, fmt.Errorf("%w, nothing was restored: %s changed since it was verified (written to, replaced or removed meanwhile) — verify it again and retry", ErrRefused, info.File)
	}
	expect := map[string]ManifestEntry{}
	for _, e := range scan.Manifest.Entries {
		expect[e.Path] = e
	}
	if testBeforeRestorePass != nil {
		testBeforeRestorePass()
	}

	if opts.Swarm != nil {
		// The paused services' old task containers still mount the volumes.
		var svcs []string
		for _, v := range plan.volumes {
			svcs = append(svcs, v.vol.Services...)
		}
		if err := removeTaskContainers(ctx, opts.Swarm, dedupe(svcs)); err != nil {
			return res, fmt.Errorf("nothing was restored: %w", stackops.DockerError(err))
		}
	}
	run := &restoreRun{st: st, eng: eng, cfg: cfg, plan: plan, sink: sink, res: res, identities: identities, containers: containers, noReadBack: opts.NoReadBack,
		keepSpecial: opts.KeepSpecialBits, swarm: opts.Swarm, swarmUp: swarmUp}
	if res.SafetyBackup != nil {
		run.safetyPath = res.SafetyBackup.Path
	}
	err = run.execute(ctx, info, a, scanOptions{expect: expect, linkRoots: volumeLinkRoots(st)})
	res.DurationMS = time.Since(start).Milliseconds()
	if err != nil {
		return res, err
	}
	// 5. Healthy again?
	if gerr := swarmUp(ctx); gerr != nil {
		return res, fmt.Errorf("restored, but: %w", gerr)
	}
	if len(swarmStarted) > 0 {
		// (scaled back and through the Swarm gate, before a dump or now)
		res.Started = dedupe(append(res.Started, swarmStarted...))
	}
	if len(run.gate) > 0 {
		gate, gerr := st.WaitHealthy(ctx, stackops.HealthGateOptions{Services: run.gate, Op: "restore", Sink: quietGate(sink), Since: start, Timeout: opts.Timeout})
		res.Health = gate
		if gerr != nil {
			return res, fmt.Errorf("restored, but: %w", gerr)
		}
	}
	res.DurationMS = time.Since(start).Milliseconds()
	return res, nil
}

func skippedNote(skipped []string) string {
	if len(skipped) == 0 {
		return ""
	}
	return " (skipped: " + strings.Join(skipped, "; ") + ")"
}

// planRestore maps the backup's entries onto the current stack and checks
// that every volume can be replaced.
func planRestore(ctx context.Context, st *stackops.Stack, eng *engine.Client, cfg *Config, m *Manifest, selected []string, containers []*stackops.Container, sw *OnSwarm) (*restorePlan, error) {
	plan := &restorePlan{skipped: []string{}}
	current := map[string]backupVolume{}
	for _, v := range stackVolumes(st, st.ServiceNames()) {
		current[v.Key] = v
	}
	removeSet, stopSet := map[string]bool{}, map[string]bool{}
	for _, e := range m.Entries {
		switch e.Kind {
		case EntryVolume:
			v, ok := current[e.Volume]
			if !ok {
				if overlaps(e.Services, selected) {
					plan.skipped = append(plan.skipped, fmt.Sprintf("volume %s: no service of the compose file mounts it now", e.Volume))
				}
				continue
			}
			if !overlaps(v.Services, selected) && !overlaps(e.Services, selected) {
				continue
			}
			existing, err := eng.InspectVolume(ctx, v.EngineName)
			if err != nil && !errors.Is(err, engine.ErrNotFound) {
				return nil, fmt.Errorf("volume %s: %w", v.EngineName, stackops.DockerError(err))
			}
			if err != nil {
				existing = nil
			}
			if existing != nil {
				if existing.Driver != "local" || existing.Options["device"] != "" {
					return nil, fmt.Errorf("volume %s (driver %s, options %v) keeps its data outside docker's volume store: stackpilot replaces a volume by removing and re-creating it, which would not empty that storage — restore it by hand from the archive (zstd -dc FILE | tar x volumes/%s/)",
						v.EngineName, existing.Driver, existing.Options, e.Volume)
				}
				users, err := eng.ListContainers(ctx, true, engine.Filters{"volume": {v.EngineName}})
				if err != nil {
					return nil, fmt.Errorf("volume %s: %w", v.EngineName, stackops.DockerError(err))
				}
				for i := range users {
					u := &users[i]
					switch {
					case u.Labels[labelHelperProject] == st.Name:
					case sw != nil && slices.ContainsFunc(v.Services, func(s string) bool { return u.Labels[sw.TaskLabel] == sw.SwarmService(s) }):
						// A task of the service on the node: removed once the service is paused.
					case u.Labels[stackops.LabelProject] == st.Name && contains(v.Services, u.Labels[stackops.LabelService]) && !strings.EqualFold(u.Labels[stackops.LabelOneOff], "true"):
					case u.Labels[stackops.LabelProject] == st.Name && strings.EqualFold(u.Labels[stackops.LabelOneOff], "true") && u.State != stackops.StateRunning:
						plan.oneOffs = append(plan.oneOffs, u)
					default:
						return nil, fmt.Errorf("volume %s is also used by container %s (%s), which is not part of this restore — stop and remove it first", v.EngineName, containerName(u), u.State)
					}
				}
			}
			image := swarmHelperImage(sw)
			for _, svc := range v.Services {
				if image != "" {
					break
				}
				if img, err := serviceImage(ctx, st, eng, svc, containers); err == nil {
					image = img
					break
				}
			}
			if image == "" {
				return nil, fmt.Errorf("volume %s: no local image of %s to create a helper container from — deploy the stack first", e.Volume, strings.Join(v.Services, ", "))
			}
			plan.volumes = append(plan.volumes, plannedVolume{entry: e, vol: v, existing: existing, image: image})
			for _, svc := range v.Services {
				removeSet[svc] = true
				stopSet[svc] = true
			}
		case EntryDump:
			svc := e.Services[0]
			if !contains(selected, svc) {
				continue
			}
			if _, ok := st.Project.Services[svc]; !ok {
				plan.skipped = append(plan.skipped, fmt.Sprintf("dump %s/%s: no service %s in the compose file", svc, e.Dump, svc))
				continue
			}
			// Only the compose file the user has says what runs: the
			// archive's manifest records the commands it was made with, but
			// an archive is data from elsewhere and is never executed.
			var restore, env []string
			user := ""
			for _, d := range cfg.Dumps {
				if d.Service == svc && d.Name == e.Dump && len(d.Restore) > 0 {
					restore, user, env = d.Restore, d.User, d.Env
				}
			}
			if len(restore) == 0 {
				plan.skipped = append(plan.skipped, fmt.Sprintf("dump %s/%s: refused — the compose file defines no restore command for it (set %s.backup.dumps[].restore for service %s, name %s; a command recorded in the archive is never run)",
					svc, e.Dump, stackops.ConfigExtension, svc, e.Dump))
				continue
			}
			plan.dumps = append(plan.dumps, plannedDump{entry: e, restore: restore, user: user, env: env})
		}
	}
	if len(plan.volumes) > 0 {
		for _, svc := range cfg.Stop {
			if _, ok := st.Project.Services[svc]; ok {
				stopSet[svc] = true
			}
		}
	}
	// A dump's service must run for its restore command, unless its volume is replaced (it comes back first).
	for _, d := range plan.dumps {
		if svc := d.entry.Services[0]; !removeSet[svc] {
			delete(stopSet, svc)
		}
	}
	plan.stop, plan.remove = sortedKeys(stopSet), sortedKeys(removeSet)
	return plan, nil
}

func overlaps(a, b []string) bool {
	for _, x := range a {
		if contains(b, x) {
			return true
		}
	}
	return false
}

func containerName(c *engine.ContainerSummary) string {
	if len(c.Names) > 0 {
		return strings.TrimPrefix(c.Names[0], "/")
	}
	return engine.ShortID(c.ID)
}

// restoreConfirmation says what will be replaced.
func restoreConfirmation(st *stackops.Stack, info *Info, plan *restorePlan, opts RestoreOptions, containers []*stackops.Container) stackops.Confirmation {
	details := []string{fmt.Sprintf("backup %s of %s, taken %s (%s), %s", info.ID, info.Project, info.Created.Local().Format("2006-01-02 15:04"), agoText(info.Created), humanBytes(info.Size))}
	if info.Project != st.Name {
		details = append(details, fmt.Sprintf("note: the backup is of project %s; restoring into %s", info.Project, st.Name))
	}
	for _, v := range plan.volumes {
		state := "created"
		if v.existing != nil {
			state = "replaced: everything in it now is deleted"
		}
		details = append(details, fmt.Sprintf("volume %s (%s, used by %s) %s, then filled with the backup's %d entries (%s)",
			v.vol.Key, v.vol.EngineName, strings.Join(v.vol.Services, ", "), state, v.entry.Files, humanBytes(v.entry.Size)))
		details = append(details, SpecialDetails(v.vol.Key, v.special, opts)...)
	}
	for _, d := range plan.dumps {
		details = append(details, fmt.Sprintf("dump %s/%s (%s) loaded into %s with: %s", d.entry.Services[0], d.entry.Dump, humanBytes(d.entry.Size), d.entry.Services[0], st.Redactor().Command(d.restore)))
	}
	var running []string
	for _, svc := range plan.stop {
		if runningContainer(containers, svc) != nil {
			running = append(running, svc)
		}
	}
	if len(running) > 0 {
		details = append(details, fmt.Sprintf("services stopped during the restore and started again: %s", strings.Join(running, ", ")))
	}
	if len(plan.remove) > 0 {
		details = append(details, fmt.Sprintf("containers of %s are re-created (a volume in use cannot be replaced)", strings.Join(plan.remove, ", ")))
	}
	for _, o := range plan.oneOffs {
		details = append(details, fmt.Sprintf("stopped one-off container %s uses a replaced volume and is removed", containerName(o)))
	}
	for _, sk := range plan.skipped {
		details = append(details, "skipped: "+sk)
	}
	if opts.NoSafetyBackup {
		details = append(details, "no safety backup (--no-safety-backup): what is there now cannot be brought back")
	} else {
		details = append(details, "a safety backup of the current state is taken first (tag pre-restore)")
	}
	return stackops.Confirmation{
		Action:      "Restore " + info.ID + " into " + st.Name,
		Prompt:      "This overwrites data.",
		Details:     details,
		Destructive: true,
		TypeBack:    st.Name,
	}
}

// SpecialDetails lists a volume's special files, and what a restore with
// opts does with each kind: lines for the confirmation and the summary.
func SpecialDetails(volume string, sp *SpecialFiles, opts RestoreOptions) []string {
	if !sp.Any() {
		return nil
	}
	var out []string
	line := func(l SpecialList, what string) {
		if l.Count > 0 {
			out = append(out, fmt.Sprintf("  volume %s: %d %s: %s", volume, l.Count, what, l))
		}
	}
	if opts.KeepSpecialBits {
		line(sp.SetID, "setuid/setgid file(s), bits kept (--keep-special-bits)")
		line(sp.Xattrs, "extended attribute(s), kept (--keep-special-bits)")
	} else {
		line(sp.SetID, "setuid/setgid file(s), restored without those bits (--keep-special-bits keeps them)")
		line(sp.Xattrs, "extended attribute(s) such as capabilities, left out (--keep-special-bits keeps them)")
	}
	line(sp.Fifos, "fifo(s)")
	line(sp.OutsideLinks, "symlink(s) pointing outside the volume, restored (--allow-outside-links)")
	return out
}

// testBeforeRestorePass, set only by tests, runs once the file was found
// unchanged, just before the restore pass reads it again.
var testBeforeRestorePass func()

// ErrRefused means a restore would not go ahead with what the archive
// holds or what happened to it; nothing was changed.
var ErrRefused = errors.New("refusing to restore")

// volumeLinkRoots are, by archive path, the absolute paths that lie inside
// each volume of the stack: its mount point, when every service that mounts
// it mounts it at the same place.
func volumeLinkRoots(st *stackops.Stack) map[string][]string {
	out := map[string][]string{}
	for _, v := range stackVolumes(st, st.ServiceNames()) {
		target := ""
		for _, svc := range v.Services {
			t := mountTarget(st, svc, v.Key)
			if target != "" && t != target {
				target = ""
				break
			}
			target = t
		}
		if target != "" && path.IsAbs(target) {
			out["volumes/"+v.Key+"/"] = []string{path.Clean(target)}
		}
	}
	return out
}

// restoreRun is one restore in progress.
type restoreRun struct {
	st          *stackops.Stack
	eng         *engine.Client
	cfg         *Config
	plan        *restorePlan
	sink        stackops.EventSink
	res         *RestoreResult
	identities  []age.Identity
	containers  []*stackops.Container
	safetyPath  string
	ref         string // how a command names the archive (RefOf)
	marker      *opMarker
	noReadBack  bool
	keepSpecial bool
	// swarm is set on a Swarm, where swarmUp scales the paused services
	// back (through the gate) before a dump is loaded into its task.
	swarm   *OnSwarm
	swarmUp func(context.Context) error

	wasRunning map[string]bool
	stopped    []*stackops.Container // stopped, containers kept
	recreate   []string              // removed, were running
	recreateNS []string              // removed, were not running
	upNow      map[string]bool       // brought up early (for a dump)
	tempUp     map[string]bool       // started only for a dump
	gate       []string              // services to wait for at the end
}

func (r *restoreRun) event(svc, phase, msg string, final, failed bool) {
	r.sink.Event(stackops.Event{Op: "restore", Service: svc, Phase: phase, Message: msg, Time: time.Now(), Final: final, Failed: failed})
}

func (r *restoreRun) execute(ctx context.Context, info *Info, a *archiveFile, opts scanOptions) (err error) {
	st, eng, plan := r.st, r.eng, r.plan
	r.wasRunning, r.upNow, r.tempUp = map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, c := range r.containers {
		if c.Running() {
			r.wasRunning[c.Service] = true
		}
	}
	r.ref = RefOf(ctx, st, info)
	r.marker, err = beginMarker(st, "backup restore", r.ref)
	if err != nil {
		return err
	}
	_ = r.marker.update(func(d *markerData) { d.SafetyBackup = baseOrEmpty(r.safetyPath) })
	r.adoptPending(ctx)
	defer func() {
		if err != nil {
			err = r.recover(ctx, err)
		}
	}()

	// Stop.
	for _, svc := range plan.stop {
		for _, c := range r.containers {
			if c.Service != svc || !c.Running() {
				continue
			}
			c := c
			if uerr := r.marker.update(func(d *markerData) {
				d.Stopped = append(d.Stopped, markerContainer{Service: svc, ID: c.ID, Name: c.Name, Stopping: true})
			}); uerr != nil {
				return uerr
			}
			r.stopped = append(r.stopped, c)
			r.event(svc, "stopping", "", false, false)
			if serr := eng.StopContainer(ctx, c.ID, stopTimeout(st, r.cfg, svc)); serr != nil {
				if ctx.Err() != nil {
					return context.Cause(ctx)
				}
				return fmt.Errorf("stop %s: %w", svc, stackops.DockerError(serr))
			}
			if uerr := r.marker.update(func(d *markerData) { d.markStopped(c.ID) }); uerr != nil {
				return uerr
			}
			r.event(svc, "stopped", "", false, false)
		}
	}
	// Remove the containers of services whose volume is replaced.
	for _, svc := range plan.remove {
		var ids []string
		for _, c := range r.containers {
			if c.Service == svc {
				ids = append(ids, c.ID)
			}
		}
		if len(ids) == 0 {
			continue
		}
		switch {
		case contains(r.recreate, svc) || contains(r.recreateNS, svc):
		case r.wasRunning[svc]:
			r.recreate = append(r.recreate, svc)
		default:
			r.recreateNS = append(r.recreateNS, svc)
		}
		if uerr := r.marker.update(func(d *markerData) { d.Recreate, d.RecreateStopped = r.recreate, r.recreateNS }); uerr != nil {
			return uerr
		}
		for _, id := range ids {
			// Anonymous volumes are kept (Compose cannot carry them over to
			// the new container, but their data is not deleted).
			if rerr := eng.RemoveContainer(ctx, id, true, false); rerr != nil && !errors.Is(rerr, engine.ErrNotFound) {
				return fmt.Errorf("remove the container of %s: %w", svc, stackops.DockerError(rerr))
			}
		}
	}
	for _, o := range plan.oneOffs {
		if rerr := eng.RemoveContainer(ctx, o.ID, false, false); rerr != nil && !errors.Is(rerr, engine.ErrNotFound) {
			return fmt.Errorf("remove one-off container %s: %w", containerName(o), stackops.DockerError(rerr))
		}
	}

	// Stream the archive: volumes, then dumps.
	byPath := map[string]*plannedVolume{}
	for i := range plan.volumes {
		byPath[plan.volumes[i].entry.Path] = &plan.volumes[i]
	}
	dumps := map[string]*plannedDump{}
	for i := range plan.dumps {
		dumps[plan.dumps[i].entry.Path] = &plan.dumps[i]
	}
	_, err = a.scan(ctx, r.identities, opts, func(g *archiveGroup) error {
		if v, ok := byPath[g.Path]; ok {
			return r.replaceVolume(ctx, v, g, "backup "+info.ID, false)
		}
		if d, ok := dumps[g.Path]; ok {
			return r.loadDump(ctx, d, g)
		}
		return nil
	})
	if err != nil {
		return err
	}

	// Everything back as it was.
	if err := r.bringUp(ctx); err != nil {
		return err
	}
	r.marker.finish()
	return nil
}

// adoptPending takes over what an earlier, interrupted restore left to do
// (its marker is now ours): services whose containers it removed are
// re-created by this run and containers it stopped are started — except the
// services of a volume it left incomplete that this run does not replace.
func (r *restoreRun) adoptPending(ctx context.Context) {
	d := &r.marker.data
	planned := map[string]bool{}
	for _, v := range r.plan.volumes {
		planned[v.vol.Key] = true
	}
	blocked := map[string]bool{}
	for _, key := range d.Incomplete {
		if planned[key] {
			continue
		}
		for _, bv := range stackVolumes(r.st, r.st.ServiceNames()) {
			if bv.Key == key {
				for _, svc := range bv.Services {
					blocked[svc] = true
				}
			}
		}
	}
	for _, svc := range d.Recreate {
		if !blocked[svc] && !contains(r.recreate, svc) {
			r.recreate = append(r.recreate, svc)
			r.wasRunning[svc] = true
		}
	}
	for _, svc := range d.RecreateStopped {
		if !blocked[svc] && !contains(r.recreateNS, svc) && !contains(r.recreate, svc) {
			r.recreateNS = append(r.recreateNS, svc)
		}
	}
	for _, mc := range d.Stopped {
		if blocked[mc.Service] {
			continue
		}
		if c, err := r.st.InspectContainer(ctx, r.eng, mc.ID); err == nil && !c.Running() {
			r.stopped = append(r.stopped, c)
			r.wasRunning[mc.Service] = true
		}
	}
}

func baseOrEmpty(p string) string {
	if p == "" {
		return ""
	}
	return strings.TrimSuffix(strings.TrimSuffix(p[strings.LastIndex(p, "/")+1:], encryptedArchiveExt), archiveExt)
}

// replaceVolume empties a volume by removing and re-creating it, extracts
// the group's entries into it through a helper container, checks that what
// was read is what was verified, and reads the volume back to check it holds
// what was written. Only then does the volume count as restored. exact
// restores special bits as they are (a rollback from the safety backup,
// which this process wrote a moment ago); otherwise the restore's policy
// applies (writeRestoreTar).
func (r *restoreRun) replaceVolume(ctx context.Context, v *plannedVolume, g *archiveGroup, from string, exact bool) error {
	eng, label := r.eng, "volume "+v.vol.Key
	began := time.Now()
	if err := r.marker.update(func(d *markerData) {
		if !contains(d.Incomplete, v.vol.Key) {
			d.Incomplete = append(d.Incomplete, v.vol.Key)
		}
	}); err != nil {
		return err
	}
	r.event(label, "replacing", fmt.Sprintf("%s from %s", v.vol.EngineName, from), false, false)
	// The volume is created again exactly as it was (or as the compose file
	// says, when it did not exist): Compose then sees its own volume.
	create := engine.VolumeCreate{Name: v.vol.EngineName, Driver: "local", Labels: map[string]string{stackops.LabelProject: r.st.Name, "com.docker.compose.volume": v.vol.Key}}
	if v.existing != nil {
		create.Driver, create.DriverOpts, create.Labels = v.existing.Driver, v.existing.Options, v.existing.Labels
	} else {
		model := r.st.Project.Volumes[v.vol.Key]
		if model.Driver != "" {
			create.Driver = model.Driver
		}
		create.DriverOpts = map[string]string(model.DriverOpts)
		for k, val := range model.Labels {
			create.Labels[k] = val
		}
	}
	if err := eng.RemoveVolume(ctx, v.vol.EngineName); err != nil && !errors.Is(err, engine.ErrNotFound) {
		if errors.Is(err, engine.ErrConflict) {
			return fmt.Errorf("%s: %s is still in use: %v", label, v.vol.EngineName, err)
		}
		return fmt.Errorf("%s: remove %s: %w", label, v.vol.EngineName, stackops.DockerError(err))
	}
	if _, err := eng.CreateVolume(ctx, create); err != nil {
		return fmt.Errorf("%s: create %s: %w", label, v.vol.EngineName, stackops.DockerError(err))
	}
	const mount = "/stackpilot-restore"
	helper, err := helperContainer(ctx, r.st, eng, v.image, v.vol.EngineName, mount)
	if err != nil {
		return fmt.Errorf("%s: %w", label, err)
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = eng.RemoveContainer(rctx, helper, true, true)
	}()
	pr, pw := io.Pipe()
	produced := make(chan error, 1)
	written := newContentDigest()
	keep := exact || r.keepSpecial
	go func() {
		err := writeRestoreTar(pw, "stackpilot-restore", g.NextEntry, keep, written)
		pw.CloseWithError(err)
		produced <- err
	}()
	putErr := eng.CopyToContainer(ctx, helper, "/", pr, engine.CopyToOptions{})
	pr.CloseWithError(errors.New("extraction ended"))
	prodErr := <-produced
	if prodErr != nil {
		return prodErr
	}
	if putErr != nil {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return fmt.Errorf("%s: extract into %s: %w", label, v.vol.EngineName, stackops.DockerError(putErr))
	}
	// What was read must be what was verified before anything changed.
	if err := g.verified(); err != nil {
		return err
	}
	files, size := written.files, written.size
	// Read it back: the volume must now hold exactly the backup.
	var readBack time.Duration
	if !r.noReadBack {
		rbStart := time.Now()
		rc, _, err := eng.CopyFromContainer(ctx, helper, mount)
		if err != nil {
			return fmt.Errorf("%s: read back: %w", label, stackops.DockerError(err))
		}
		sum, n, sz, err := digestEngineTar(rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("%s: read back: %w", label, err)
		}
		if sum != written.sum() || n != written.files || sz != written.size {
			// (an order-independent digest: the engine reads back in its own order)
			return fmt.Errorf("%s: after extraction it holds %d entries (%s) that do not match the backup's %d entries (%s)", label, n, humanBytes(sz), written.files, humanBytes(written.size))
		}
		readBack = time.Since(rbStart)
	}
	if err := r.marker.update(func(d *markerData) { d.Incomplete = remove(d.Incomplete, v.vol.Key) }); err != nil {
		return err
	}
	var special *SpecialFiles
	if v.special.Any() {
		special = v.special
	}
	r.res.Volumes = append(r.res.Volumes, RestoredVolume{Volume: v.vol.Key, EngineVolume: v.vol.EngineName, Services: v.vol.Services, Files: files, Size: size, Checked: !r.noReadBack,
		DurationMS: time.Since(began).Milliseconds(), ReadBackMS: readBack.Milliseconds(), Special: special})
	msg := fmt.Sprintf("%d entries, %s, read back: checksum matches", files, humanBytes(size))
	if r.noReadBack {
		msg = fmt.Sprintf("%d entries, %s (not read back)", files, humanBytes(size))
	}
	r.event(label, "restored", msg, true, false)
	return nil
}

// writeRestoreTar writes the entries next yields as a tar rooted at root,
// for the engine to extract, and digests what it writes (the read-back
// compares the volume with that). Each header is built afresh from the
// fields a volume's entry needs, never copied whole from the archive.
// Unless keepSpecial, setuid and setgid bits are cleared on regular files
// and extended attributes (security.capability …) are left out: an archive
// from elsewhere must not grant privileges inside a container.
func writeRestoreTar(w io.Writer, root string, next func() (*VolumeEntry, error), keepSpecial bool, written *contentDigest) error {
	tw := tar.NewWriter(w)
	buf := make([]byte, 256<<10)
	for {
		e, err := next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		hdr := restoreHeader(e, root, keepSpecial)
		link := hdr.Linkname
		if hdr.Typeflag == tar.TypeLink {
			link = e.LinkRel
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		written.header(e.Rel, readBackView(hdr), link)
		if hdr.Typeflag == tar.TypeReg {
			if _, err := io.CopyBuffer(io.MultiWriter(tw, written), e, buf); err != nil {
				return err
			}
		}
	}
	return tw.Close()
}

// restoreHeader is the header written for an archive entry.
func restoreHeader(e *VolumeEntry, root string, keepSpecial bool) *tar.Header {
	src := e.Header
	h := &tar.Header{Typeflag: src.Typeflag, Mode: src.Mode & 0o7777, Uid: src.Uid, Gid: src.Gid, ModTime: src.ModTime, Format: tar.FormatPAX}
	if h.Typeflag == tar.TypeRegA {
		h.Typeflag = tar.TypeReg
	}
	h.Name = volumeEntryName(root+"/", e.Rel, h.Typeflag == tar.TypeDir)
	switch h.Typeflag {
	case tar.TypeReg:
		h.Size = src.Size
		if !keepSpecial {
			h.Mode &^= 0o6000
		}
	case tar.TypeSymlink:
		h.Linkname = src.Linkname
	case tar.TypeLink:
		h.Linkname = root + "/" + e.LinkRel
	}
	if keepSpecial {
		for _, k := range xattrKeys(src) {
			if h.PAXRecords == nil {
				h.PAXRecords = map[string]string{}
			}
			h.PAXRecords["SCHILY.xattr."+k] = src.PAXRecords["SCHILY.xattr."+k]
		}
	}
	return h
}

// readBackView is hdr as the engine's archive API will show the entry when
// the volume is read back: of the extended attributes it reports only
// security.capability.
func readBackView(hdr *tar.Header) *tar.Header {
	if len(hdr.PAXRecords) == 0 {
		return hdr
	}
	v := *hdr
	v.PAXRecords = nil
	if c, ok := hdr.PAXRecords["SCHILY.xattr.security.capability"]; ok {
		v.PAXRecords = map[string]string{"SCHILY.xattr.security.capability": c}
	}
	return &v
}

func remove(list []string, s string) []string {
	out := list[:0]
	for _, x := range list {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}

// loadDump runs a dump's restore command in its service's container with the
// dump on stdin, bringing the service up (healthy) first when it is not.
func (r *restoreRun) loadDump(ctx context.Context, d *plannedDump, in *archiveGroup) error {
	svc := d.entry.Services[0]
	label := "dump " + svc + "/" + d.entry.Dump
	var containers []*stackops.Container
	var err error
	if r.swarm != nil {
		// The service's task on the node, once a paused service is back —
		// never before every volume is replaced (stackpilot writes the
		// dumps after the volumes; an archive that does not is refused here).
		if len(r.res.Volumes) < len(r.plan.volumes) {
			return fmt.Errorf("%s comes before a volume in the archive: the services cannot be scaled back for it before their volumes are replaced", label)
		}
		if err := r.swarmUp(ctx); err != nil {
			return fmt.Errorf("%s: %w", label, err)
		}
		if containers, err = swarmTasks(ctx, r.swarm, []string{svc}); err != nil {
			return fmt.Errorf("%s: %w", label, err)
		}
		if runningContainer(containers, svc) == nil {
			return swarmDumpDown(r.swarm, svc, d.entry.Dump)
		}
	} else {
		if err := r.ensureUp(ctx, svc); err != nil {
			return fmt.Errorf("%s: %w", label, err)
		}
		if containers, err = r.st.ProjectContainers(ctx, r.eng, []string{svc}); err != nil {
			return err
		}
	}
	c := runningContainer(containers, svc)
	if c == nil {
		return fmt.Errorf("%s: %s is not running", label, svc)
	}
	red := r.st.Redactor()
	env, err := r.st.EnvValues(d.env, label)
	if err != nil {
		return err
	}
	r.event(label, "loading", red.Command(d.restore), false, false)
	execID, err := r.eng.ExecCreate(ctx, c.ID, engine.ExecConfig{Cmd: d.restore, User: d.user, Env: env, AttachStdin: true, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return fmt.Errorf("%s: %w", label, stackops.DockerError(err))
	}
	counter := &countingReader{r: in}
	out := &tailBuffer{max: 4 << 10}
	code, err := r.eng.ExecRun(ctx, execID, counter, out, out)
	if err != nil {
		var se *engine.StdinError
		if errors.As(err, &se) {
			return se.Err
		}
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return fmt.Errorf("%s: %w", label, stackops.DockerError(err))
	}
	if code != 0 {
		msg := fmt.Sprintf("%s: %s exited with status %d", label, red.Command(d.restore), code)
		if t := strings.TrimSpace(out.String()); t != "" {
			msg += ": " + red.Text(lastLines(t, 5))
		}
		return errors.New(msg)
	}
	// The command read what was verified, or the restore fails here.
	if err := in.verified(); err != nil {
		return err
	}
	r.res.Dumps = append(r.res.Dumps, RestoredDump{Service: svc, Name: d.entry.Dump, Size: counter.n, Command: red.Args(d.restore)})
	r.event(label, "loaded", humanBytes(counter.n), true, false)
	return nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// ensureUp brings svc up and healthy for a dump's restore command.
func (r *restoreRun) ensureUp(ctx context.Context, svc string) error {
	if r.upNow[svc] {
		return nil
	}
	switch {
	case contains(r.recreate, svc) || contains(r.recreateNS, svc):
		r.event(svc, "starting", "new container", false, false)
		if err := composeRecreate(ctx, r.st, []string{svc}, true); err != nil {
			return err
		}
	default:
		containers, err := r.st.ProjectContainers(ctx, r.eng, []string{svc})
		if err != nil {
			return err
		}
		if runningContainer(containers, svc) == nil {
			r.event(svc, "starting", "for its restore command", false, false)
			if len(containers) == 0 {
				if err := composeRecreate(ctx, r.st, []string{svc}, true); err != nil {
					return err
				}
			} else {
				for _, c := range containers {
					if err := r.eng.StartContainer(ctx, c.ID); err != nil {
						return fmt.Errorf("start %s: %w", svc, stackops.DockerError(err))
					}
				}
			}
		}
	}
	r.upNow[svc] = true
	if !r.wasRunning[svc] {
		r.tempUp[svc] = true
	}
	_, err := r.st.WaitHealthy(ctx, stackops.HealthGateOptions{Services: []string{svc}, Op: "restore", Sink: quietGate(r.sink), Settle: 2 * time.Second})
	return err
}

// bringUp puts every service back the way it was before the restore.
func (r *restoreRun) bringUp(ctx context.Context) error {
	st, eng := r.st, r.eng
	var errs []string
	var start, create []string
	for _, svc := range r.recreate {
		if !r.upNow[svc] {
			start = append(start, svc)
		}
	}
	for _, svc := range r.recreateNS {
		if !r.upNow[svc] {
			create = append(create, svc)
		}
	}
	if len(start) > 0 {
		for _, svc := range start {
			r.event(svc, "starting", "new container", false, false)
		}
		if err := composeRecreate(ctx, st, start, true); err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", strings.Join(start, ", "), err))
		}
	}
	if len(create) > 0 {
		if err := composeRecreate(ctx, st, create, false); err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", strings.Join(create, ", "), err))
		}
	}
	for i := len(r.stopped) - 1; i >= 0; i-- {
		c := r.stopped[i]
		svc := c.Service
		if contains(r.recreate, svc) || r.upNow[svc] {
			continue
		}
		r.event(svc, "starting", "", false, false)
		if err := eng.StartContainer(ctx, c.ID); err != nil && !errors.Is(err, engine.ErrNotFound) {
			errs = append(errs, fmt.Sprintf("%s: %v", svc, stackops.DockerError(err)))
			continue
		}
	}
	// Services that were down before and only started for a dump go down again.
	for svc := range r.tempUp {
		containers, err := st.ProjectContainers(ctx, eng, []string{svc})
		if err == nil {
			for _, c := range containers {
				_ = eng.StopContainer(ctx, c.ID, stopTimeout(st, r.cfg, svc))
			}
		}
	}
	if len(errs) > 0 {
		r.marker.keep()
		return fmt.Errorf("could not start again: %s", strings.Join(errs, "; "))
	}
	gate := map[string]bool{}
	for _, svc := range append(append([]string{}, r.plan.stop...), r.plan.remove...) {
		if r.wasRunning[svc] {
			gate[svc] = true
		}
	}
	for _, d := range r.plan.dumps {
		if svc := d.entry.Services[0]; r.wasRunning[svc] {
			gate[svc] = true
		}
	}
	r.gate = sortedKeys(gate)
	r.res.Started = r.gate
	return nil
}

// recover runs when the restore failed part way: a volume left half
// replaced is rolled back from the safety backup, then every service is
// brought back. What cannot be fixed stays in the marker, and the error says
// what to do.
func (r *restoreRun) recover(ctx context.Context, cause error) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
	defer cancel()
	incomplete := append([]string(nil), r.marker.data.Incomplete...)
	var notes []string
	if len(incomplete) > 0 && r.safetyPath != "" {
		if err := r.rollback(rctx, incomplete); err != nil {
			notes = append(notes, "rolling back from the safety backup failed too: "+err.Error())
		} else {
			notes = append(notes, fmt.Sprintf("volume %s was rolled back to its state before the restore", strings.Join(incomplete, ", ")))
		}
	}
	if len(r.marker.data.Incomplete) > 0 {
		// Leave services of a half-replaced volume down: starting a database
		// on part of its files does harm. The next command says what to do.
		blocked := map[string]bool{}
		for _, v := range r.plan.volumes {
			if contains(r.marker.data.Incomplete, v.vol.Key) {
				for _, svc := range v.vol.Services {
					blocked[svc] = true
				}
			}
		}
		r.recreate = filterOut(r.recreate, blocked)
		r.recreateNS = filterOut(r.recreateNS, blocked)
		var keep []*stackops.Container
		for _, c := range r.stopped {
			if !blocked[c.Service] {
				keep = append(keep, c)
			}
		}
		r.stopped = keep
		_ = r.marker.update(func(d *markerData) {
			d.Stopped, d.Recreate, d.RecreateStopped = nil, nil, nil
		})
		msg := fmt.Sprintf("volume %s may be incomplete; %s stay stopped — run %s again", strings.Join(r.marker.data.Incomplete, ", "), strings.Join(sortedKeys(blocked), ", "), r.st.CommandLine("backup", "restore", r.ref))
		if r.safetyPath != "" {
			msg += ", or restore the safety backup " + baseOrEmpty(r.safetyPath)
		}
		notes = append(notes, msg)
	}
	if err := r.bringUp(rctx); err != nil {
		notes = append(notes, err.Error())
	} else {
		r.marker.finish()
	}
	r.marker.keep()
	if len(notes) == 0 {
		return cause
	}
	return &stackops.NotedError{Err: cause, Notes: notes}
}

// rollback replaces the listed volumes with their content in the safety backup.
func (r *restoreRun) rollback(ctx context.Context, volumes []string) error {
	// A helper whose creation the interruption cut short may still have
	// been created by the engine (no id came back to remove it): it holds
	// the volume, which could then not be replaced.
	removeHelpers(ctx, r.st, r.eng)
	a, err := openArchive(r.safetyPath)
	if err != nil {
		return err
	}
	defer a.Close()
	ids := r.identities
	if a.Header.Encrypted && len(ids) == 0 {
		return errors.New("the safety backup is encrypted")
	}
	// The first pass verifies the safety backup; the second restores from
	// it, held to what the first read.
	scan, err := a.scan(ctx, ids, scanOptions{}, nil)
	if err != nil {
		return err
	}
	want := map[string]ManifestEntry{}
	expect := map[string]ManifestEntry{}
	for _, e := range scan.Manifest.Entries {
		expect[e.Path] = e
		if e.Kind == EntryVolume && contains(volumes, e.Volume) {
			want[e.Path] = e
		}
	}
	_, err = a.scan(ctx, ids, scanOptions{expect: expect}, func(g *archiveGroup) error {
		e, ok := want[g.Path]
		if !ok {
			return nil
		}
		for i := range r.plan.volumes {
			pv := r.plan.volumes[i]
			if pv.vol.Key == e.Volume {
				pv.entry, pv.special = e, nil
				if err := r.replaceVolume(ctx, &pv, g, "the safety backup", true); err != nil {
					return err
				}
				r.res.Volumes = r.res.Volumes[:len(r.res.Volumes)-1]
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(r.marker.data.Incomplete) > 0 {
		return fmt.Errorf("the safety backup holds no copy of volume %s", strings.Join(r.marker.data.Incomplete, ", "))
	}
	return nil
}

func filterOut(list []string, drop map[string]bool) []string {
	var out []string
	for _, s := range list {
		if !drop[s] {
			out = append(out, s)
		}
	}
	return out
}

// sortedKeys returns a set's members in order, never nil (JSON shows []).
func sortedKeys(m map[string]bool) []string {
	out := []string{}
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
