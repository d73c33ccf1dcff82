package stackops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/stackpilot/stackpilot/stackops/internal/engine"
)

// RollbackRepoPrefix starts the names under which stackpilot keeps earlier
// images: stackpilot-rollback/PROJECT/SERVICE:IMAGEID. A tag keeps an image
// out of `docker image prune` and survives Compose moving the service's own
// tag to a new build.
const RollbackRepoPrefix = "stackpilot-rollback"

// ErrNothingToRollBack means no earlier deploy left an image to go back to.
var ErrNothingToRollBack = errors.New("nothing to roll back")

// RollbackOptions configures Rollback.
type RollbackOptions struct {
	// Services to roll back; every service with an earlier image when empty.
	Services []string
	// Timeout bounds the health gate (x-stackpilot deploy.timeout, else DefaultGateTimeout, when zero).
	Timeout time.Duration
	// NoWait skips the health gate.
	NoWait bool
	// LockWait is how long to wait for another operation's stack lock.
	LockWait time.Duration
	// Sink receives progress.
	Sink EventSink
	// Output, when set, receives Compose's and the hooks' output (-v).
	Output io.Writer
}

// RollbackTarget is one service's way back: the image it runs now and the
// one it ran before the deploy being undone.
type RollbackTarget struct {
	Service      string `json:"service"`
	CurrentImage string `json:"current_image"`
	TargetImage  string `json:"target_image"`
	// Deploy is the history record whose earlier image is the target.
	Deploy     string    `json:"deploy"`
	DeployTime time.Time `json:"deploy_time"`
	// Available is false when the target image no longer exists.
	Available bool   `json:"available"`
	Problem   string `json:"problem,omitempty"`
}

// RollbackPlan works out, per service, the image to go back to: the image
// the service ran before the deploy that brought in the image it runs now.
// Rollbacks themselves are not counted, so each rollback goes one deploy
// further back; deploy again to return to the newest build.
// Services without such a deploy are left out; named ones make it an error.
func (s *Stack) RollbackPlan(ctx context.Context, services []string) ([]RollbackTarget, error) {
	named := len(services) > 0
	services, err := s.ResolveServices(services)
	if err != nil {
		return nil, err
	}
	if err := s.EnvironmentErr(services); err != nil {
		return nil, err
	}
	eng, err := s.Engine()
	if err != nil {
		return nil, err
	}
	recs, _, err := readHistory(filepath.Join(s.Dir, ".stackpilot", HistoryFile))
	if err != nil {
		return nil, err
	}
	now, err := s.takeSnapshot(ctx, eng, services)
	if err != nil {
		return nil, err
	}
	current := now.images(services)
	var out []RollbackTarget
	var missing []string
	for _, svc := range services {
		t, ok := rollbackTarget(recs, svc, current[svc])
		if !ok {
			missing = append(missing, svc)
			continue
		}
		if _, err := eng.InspectImage(ctx, t.TargetImage); err != nil {
			if !isNotFound(err) {
				return nil, fmt.Errorf("inspect image %s: %w", shortImage(t.TargetImage), DockerError(err))
			}
			t.Problem = fmt.Sprintf("the image %s ran before deploy %s no longer exists (removed with docker rmi or image prune -a)", shortImage(t.TargetImage), t.Deploy)
		} else {
			t.Available = true
		}
		out = append(out, t)
	}
	if named && len(missing) > 0 {
		return nil, fmt.Errorf("%w for %s: no deploy in %s changed its image from an earlier one — nothing to go back to",
			ErrNothingToRollBack, strings.Join(missing, ", "), filepath.Join(".stackpilot", HistoryFile))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no deploy in %s left an earlier image to go back to (deploy a change first)",
			ErrNothingToRollBack, filepath.Join(".stackpilot", HistoryFile))
	}
	return out, nil
}

// rollbackTarget scans the records (newest first) for svc's way back: the
// earlier image of the newest deploy that put the current image in place.
// Rollback records are skipped, so successive rollbacks walk back deploy by
// deploy. When the current image is unknown to the history (changed outside
// stackpilot) the newest deploy's earlier image is the target.
func rollbackTarget(recs []HistoryRecord, svc, current string) (RollbackTarget, bool) {
	known := false
	for _, r := range recs {
		if r.Op != "deploy" {
			continue
		}
		before, after := r.ImagesBefore[svc], r.ImagesAfter[svc]
		if after == current && before != "" && before != after {
			return RollbackTarget{Service: svc, CurrentImage: current, TargetImage: before, Deploy: r.ID, DeployTime: r.Time}, true
		}
		if current != "" && (after == current || before == current) {
			known = true
		}
	}
	if known {
		return RollbackTarget{}, false
	}
	for _, r := range recs {
		if before := r.ImagesBefore[svc]; r.Op == "deploy" && before != "" && before != current {
			return RollbackTarget{Service: svc, CurrentImage: current, TargetImage: before, Deploy: r.ID, DeployTime: r.Time}, true
		}
	}
	return RollbackTarget{}, false
}

// Rollback recreates services on the images they ran before the last deploy
// (see RollbackPlan), without building, through the same lock, hooks,
// history and health gate as Deploy. The service's image name (its image:
// key, or Compose's default name) is pointed back at the earlier image, so
// Compose and `status` show the same name and a later plain `up` does not
// undo the rollback; the image being replaced is kept for rollback in turn.
func (s *Stack) Rollback(ctx context.Context, opts RollbackOptions) (*DeployResult, error) {
	if err := s.Unsealed(); err != nil {
		return nil, err
	}
	plan, err := s.RollbackPlan(ctx, opts.Services)
	if err != nil {
		return nil, err
	}
	var services []string
	for _, t := range plan {
		if !t.Available {
			return nil, fmt.Errorf("cannot roll back %s: %s", t.Service, t.Problem)
		}
		services = append(services, t.Service)
	}
	sort.Strings(services)
	spec := rolloutSpec{
		op:       "rollback",
		services: services,
		gate:     services,
		timeout:  opts.Timeout,
		noWait:   opts.NoWait,
		lockWait: opts.LockWait,
		sink:     opts.Sink,
		output:   opts.Output,
	}
	spec.prepare = func(ctx context.Context, c *ComposeCLI, eng *engine.Client, before *snapshot) error {
		// The plan was made before the lock was taken: check nothing moved since.
		current := before.images(services)
		for _, t := range plan {
			if current[t.Service] != t.CurrentImage {
				return fmt.Errorf("%s changed while the rollback waited for the lock (now %s, planned from %s) — run rollback again",
					t.Service, shortImage(current[t.Service]), shortImage(t.CurrentImage))
			}
		}
		for _, t := range plan {
			ref := s.composeImageRef(c, t.Service, before)
			if strings.Contains(ref, "@") {
				return fmt.Errorf("cannot roll back %s: its image is pinned by digest (%s) in the compose file — change the compose file instead", t.Service, ref)
			}
			repo, tag := splitRef(ref)
			if err := eng.TagImage(ctx, t.TargetImage, repo, tag); err != nil {
				return fmt.Errorf("point %s at %s: %w", ref, shortImage(t.TargetImage), DockerError(err))
			}
		}
		return nil
	}
	spec.commands = func(c *ComposeCLI) [][]string {
		return [][]string{rollbackUpArgs(c, services)}
	}
	return s.rollout(ctx, spec)
}

// rollbackUpArgs recreates exactly the given services on the images their
// names point to now: no build, no pull (v2 would pull with a pull_policy),
// no dependencies.
func rollbackUpArgs(c *ComposeCLI, services []string) []string {
	args := []string{"up", "-d", "--no-build", "--no-deps", "--force-recreate"}
	if c.Variant == ComposeV2 {
		args = append(args, "--pull", "never")
	}
	return append(args, services...)
}

// rollbackRepo is the repository that keeps a service's earlier images.
func (s *Stack) rollbackRepo(service string) string {
	return RollbackRepoPrefix + "/" + repoComponent(s.Name) + "/" + repoComponent(service)
}

// repoComponent turns a name into a valid repository path component:
// lowercase letters, digits and single dashes.
func repoComponent(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	out := strings.TrimRight(b.String(), "-")
	if out == "" {
		out = "x"
	}
	return out
}

// shortImage is the 12-digit form of an image ID.
func shortImage(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		id = id[:12]
	}
	return id
}

// keepImages tags each service's current image for rollback. A failure is a
// warning, not a reason to stop a deploy.
func (s *Stack) keepImages(ctx context.Context, eng *engine.Client, images map[string]string) []string {
	var warnings []string
	for svc, id := range images {
		if id == "" {
			continue
		}
		if err := eng.TagImage(ctx, id, s.rollbackRepo(svc), shortImage(id)); err != nil {
			warnings = append(warnings, fmt.Sprintf("could not keep %s's image %s for rollback: %v", svc, shortImage(id), DockerError(err)))
		}
	}
	sort.Strings(warnings)
	return warnings
}

// pruneRollbackTags removes the rollback tags of images older than the keep
// most recent earlier images of each service (by the history). An image
// still used by a container only loses the tag; one that is not becomes
// prunable (the engine deletes it when the tag was its last name).
func (s *Stack) pruneRollbackTags(ctx context.Context, eng *engine.Client, keep int) error {
	recs, _, err := readHistory(filepath.Join(s.Dir, ".stackpilot", HistoryFile))
	if err != nil {
		return err
	}
	keepIDs := map[string]map[string]bool{} // repo → image IDs
	for _, r := range recs {
		for _, m := range []map[string]string{r.ImagesAfter, r.ImagesBefore} {
			for svc, id := range m {
				repo := s.rollbackRepo(svc)
				if keepIDs[repo] == nil {
					keepIDs[repo] = map[string]bool{}
				}
				if id != "" && !keepIDs[repo][id] && len(keepIDs[repo]) < keep+1 {
					keepIDs[repo][id] = true
				}
			}
		}
	}
	prefix := RollbackRepoPrefix + "/" + repoComponent(s.Name) + "/"
	list, err := eng.ListImages(ctx, engine.Filters{"reference": {prefix + "*"}})
	if err != nil {
		return DockerError(err)
	}
	var errs []string
	for _, img := range list {
		for _, tag := range img.RepoTags {
			if !strings.HasPrefix(tag, prefix) {
				continue
			}
			repo, _ := splitRef(tag)
			ids, known := keepIDs[repo]
			if !known || ids[img.ID] {
				continue
			}
			if _, err := eng.RemoveImage(ctx, tag, false); err != nil && !isNotFound(err) && !errors.Is(err, engine.ErrConflict) {
				errs = append(errs, fmt.Sprintf("%s: %v", tag, err))
			}
		}
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}
