package backup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/stackops/internal/atomicfile"
)

// RetentionPolicy says which backups prune keeps, with restic's semantics
// (`restic forget --keep-*`): going from the newest backup to the oldest,
// each rule keeps a backup when it is the newest one of a period (hour, day,
// ISO week, month, year) not seen yet, until the rule has kept its count.
// KeepLast keeps the N newest. When a rule still has counts left at the
// oldest backup, that one is kept too. -1 means no limit. Periods are
// calendar periods in local time.
type RetentionPolicy struct {
	KeepLast    int `json:"keep_last,omitempty"`
	KeepHourly  int `json:"keep_hourly,omitempty"`
	KeepDaily   int `json:"keep_daily,omitempty"`
	KeepWeekly  int `json:"keep_weekly,omitempty"`
	KeepMonthly int `json:"keep_monthly,omitempty"`
	KeepYearly  int `json:"keep_yearly,omitempty"`
}

// ErrEmptyPolicy means prune was given no --keep-* rule and the config has none.
var ErrEmptyPolicy = errors.New("empty retention policy")

// Empty reports whether no rule is set (prune refuses: it would delete everything).
func (p RetentionPolicy) Empty() bool {
	return p == RetentionPolicy{}
}

func (p RetentionPolicy) rules() []struct {
	name  string
	count int
} {
	return []struct {
		name  string
		count int
	}{{"last", p.KeepLast}, {"hourly", p.KeepHourly}, {"daily", p.KeepDaily}, {"weekly", p.KeepWeekly}, {"monthly", p.KeepMonthly}, {"yearly", p.KeepYearly}}
}

func (p RetentionPolicy) validate() error {
	for _, r := range p.rules() {
		if r.count < -1 {
			return fmt.Errorf("keep_%s is %d: use a count, or -1 for no limit", r.name, r.count)
		}
	}
	return nil
}

// String renders the policy as flags would give it: "last 3, daily 7".
func (p RetentionPolicy) String() string {
	var parts []string
	for _, r := range p.rules() {
		switch {
		case r.count > 0:
			parts = append(parts, fmt.Sprintf("%s %d", r.name, r.count))
		case r.count == -1:
			parts = append(parts, r.name+" all")
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// Flags renders the policy as prune's command-line flags.
func (p RetentionPolicy) Flags() []string {
	var out []string
	for _, r := range p.rules() {
		if r.count != 0 {
			out = append(out, "--keep-"+r.name, strconv.Itoa(r.count))
		}
	}
	return out
}

// RetentionItem is one backup as the policy sees it.
type RetentionItem struct {
	ID   string
	Time time.Time
}

// RetentionDecision says whether a backup is kept, and why.
type RetentionDecision struct {
	ID   string    `json:"id"`
	Time time.Time `json:"time"`
	Keep bool      `json:"keep"`
	// Reasons are the rules that keep it: last, hourly, daily, weekly,
	// monthly, yearly.
	Reasons []string `json:"reasons"`
	// Why explains, rule by rule, why the backup is kept or not, for
	// people: "daily 7: the newest of 2026-12-07 (day 1 of 7)", "last 3:
	// 3 newer backups fill it".
	Why []string `json:"why"`
}

// ApplyRetention decides which items the policy keeps, restic's way. Items
// may come in any order; decisions come newest first. Periods are computed
// in loc (time.Local when nil).
func ApplyRetention(items []RetentionItem, p RetentionPolicy, loc *time.Location) []RetentionDecision {
	if loc == nil {
		loc = time.Local
	}
	list := append([]RetentionItem(nil), items...)
	sort.SliceStable(list, func(i, j int) bool { return list[i].Time.After(list[j].Time) })
	day := func(t time.Time) string { return t.Format("2006-01-02") }
	rules := []*retentionRule{
		{count: p.KeepLast, period: func(_ time.Time, nr int) int { return nr }, name: "last"},
		{count: p.KeepHourly, period: func(t time.Time, _ int) int { return t.Year()*1000000 + int(t.Month())*10000 + t.Day()*100 + t.Hour() }, name: "hourly",
			label: func(t time.Time) string { return t.Format("2006-01-02 15:00") }},
		{count: p.KeepDaily, period: func(t time.Time, _ int) int { return t.Year()*10000 + int(t.Month())*100 + t.Day() }, name: "daily", label: day},
		{count: p.KeepWeekly, period: func(t time.Time, _ int) int { y, w := t.ISOWeek(); return y*100 + w }, name: "weekly",
			label: func(t time.Time) string { y, w := t.ISOWeek(); return fmt.Sprintf("week %d-W%02d", y, w) }},
		{count: p.KeepMonthly, period: func(t time.Time, _ int) int { return t.Year()*100 + int(t.Month()) }, name: "monthly",
			label: func(t time.Time) string { return t.Format("2006-01") }},
		{count: p.KeepYearly, period: func(t time.Time, _ int) int { return t.Year() }, name: "yearly",
			label: func(t time.Time) string { return t.Format("2006") }},
	}
	for _, r := range rules {
		r.last, r.limit = -1, r.count
	}
	out := make([]RetentionDecision, 0, len(list))
	for nr, it := range list {
		d := RetentionDecision{ID: it.ID, Time: it.Time, Reasons: []string{}, Why: []string{}}
		t := it.Time.In(loc)
		var notKept []string
		for _, r := range rules {
			if r.limit == 0 {
				continue
			}
			val := r.period(t, nr)
			if r.count == 0 {
				if val == r.last && r.label != nil {
					notKept = append(notKept, fmt.Sprintf("%s: %s is kept by the newer %s", r, r.label(t), r.lastID))
					continue
				}
				unit := r.unit()
				if r.limit == 1 {
					unit = strings.TrimSuffix(unit, "s")
				}
				notKept = append(notKept, fmt.Sprintf("%s: %d newer %s already kept", r, r.limit, unit))
				continue
			}
			oldest := nr == len(list)-1 && val == r.last
			// The oldest backup is kept too while a rule has counts left,
			// so the history reaches as far back as it can.
			if val != r.last || oldest {
				d.Keep = true
				r.last, r.lastID = val, it.ID
				r.used++
				if r.count > 0 {
					r.count--
				}
				d.Reasons = append(d.Reasons, r.name)
				switch {
				case oldest:
					d.Why = append(d.Why, fmt.Sprintf("%s: the oldest, kept as the rule has room (%s)", r, r.progress()))
				case r.label == nil:
					d.Why = append(d.Why, fmt.Sprintf("%s: the %s", r, newest(r.used)))
				default:
					d.Why = append(d.Why, fmt.Sprintf("%s: the newest of %s (%s)", r, r.label(t), r.progress()))
				}
				continue
			}
			notKept = append(notKept, fmt.Sprintf("%s: %s is kept by the newer %s", r, r.label(t), r.lastID))
		}
		if !d.Keep {
			d.Why = notKept
		}
		out = append(out, d)
	}
	return out
}

// newest is "newest", "2nd newest", "3rd newest" …
func newest(n int) string {
	switch {
	case n == 1:
		return "newest"
	case n%10 == 1 && n%100 != 11:
		return fmt.Sprintf("%dst newest", n)
	case n%10 == 2 && n%100 != 12:
		return fmt.Sprintf("%dnd newest", n)
	case n%10 == 3 && n%100 != 13:
		return fmt.Sprintf("%drd newest", n)
	}
	return fmt.Sprintf("%dth newest", n)
}

// retentionRule is one --keep-* rule while ApplyRetention walks the
// backups from the newest: how many periods it may still keep, the period
// it kept last and by which backup.
type retentionRule struct {
	name   string
	count  int // periods left (-1: no limit)
	limit  int // as given
	used   int
	period func(t time.Time, nr int) int
	// label names a backup's period for people (nil for last).
	label  func(t time.Time) string
	last   int
	lastID string
}

// String is the rule as given: "daily 7", "last 3", "monthly all".
func (r *retentionRule) String() string {
	if r.limit < 0 {
		return r.name + " all"
	}
	return fmt.Sprintf("%s %d", r.name, r.limit)
}

// unit is what the rule counts: "backups", "days", "weeks" …
func (r *retentionRule) unit() string {
	return map[string]string{"last": "backups", "hourly": "hours", "daily": "days", "weekly": "weeks", "monthly": "months", "yearly": "years"}[r.name]
}

// progress says how much of the rule is used: "day 2 of 7", "day 3".
func (r *retentionRule) progress() string {
	unit := strings.TrimSuffix(r.unit(), "s")
	if r.limit < 0 {
		return fmt.Sprintf("%s %d", unit, r.used)
	}
	return fmt.Sprintf("%s %d of %d", unit, r.used, r.limit)
}

// PruneOptions configures PruneBackups.
type PruneOptions struct {
	// Policy is the rules; x-stackpilot.backup.retention when empty.
	Policy RetentionPolicy
	DryRun bool
	// Confirm is asked before anything is deleted (not in a dry run).
	Confirm stackops.ConfirmFunc
	// Location for calendar periods (time.Local when nil).
	Location *time.Location
	Sink     stackops.EventSink
}

// PruneItem is one backup in prune's report.
type PruneItem struct {
	ID      string    `json:"id"`
	File    string    `json:"file"`
	Created time.Time `json:"created"`
	Size    int64     `json:"size"`
	Reasons []string  `json:"reasons"`
	// Why explains the decision rule by rule (RetentionDecision.Why).
	Why []string `json:"why"`
}

// PruneResult is what prune kept and removed (or would, in a dry run).
type PruneResult struct {
	Policy  RetentionPolicy `json:"policy"`
	DryRun  bool            `json:"dry_run"`
	Keep    []PruneItem     `json:"keep"`
	Remove  []PruneItem     `json:"remove"`
	Removed []string        `json:"removed"`
	// NewestGood is the newest archive whose checksum held: never removed.
	NewestGood string `json:"newest_good"`
	// Damaged are archives found damaged on the way (they count as backups for the policy).
	Damaged []string `json:"damaged"`
	Freed   int64    `json:"freed_bytes"`
	// Warnings are what went wrong beside the pruning (a verification
	// record not kept).
	Warnings []string `json:"warnings,omitempty"`
}

// Prune deletes the project's backups the retention policy does not
// keep. It refuses an empty policy, and never deletes the newest good backup:
// the newest archive whose file checksum still matches (checked now; no key
// needed, so encrypted archives count) and that no verify found damaged.
func Prune(ctx context.Context, st *stackops.Stack, opts PruneOptions) (*PruneResult, error) {
	policy := opts.Policy
	if policy.Empty() {
		cfg, err := ConfigOf(st)
		if err != nil {
			return nil, err
		}
		policy = cfg.Retention
	}
	if err := policy.validate(); err != nil {
		return nil, err
	}
	if policy.Empty() {
		return nil, fmt.Errorf("%w: give at least one of --keep-last, --keep-hourly, --keep-daily, --keep-weekly, --keep-monthly, --keep-yearly (or set %s.backup.retention) — an empty policy would delete every backup", ErrEmptyPolicy, stackops.ConfigExtension)
	}
	list, err := List(ctx, st)
	if err != nil {
		return nil, err
	}
	sink := stackops.SinkOrNop(opts.Sink)
	res := &PruneResult{Policy: policy, DryRun: opts.DryRun, Keep: []PruneItem{}, Remove: []PruneItem{}, Removed: []string{}, Damaged: []string{}}
	items := make([]RetentionItem, len(list.Backups))
	byID := map[string]Info{}
	for i, b := range list.Backups {
		items[i] = RetentionItem{ID: b.ID, Time: b.Created}
		byID[b.ID] = b
	}
	decisions := ApplyRetention(items, policy, opts.Location)

	// The newest good backup, whatever the policy says.
	for _, b := range list.Backups {
		if b.Verified != nil && !b.Verified.OK {
			res.Damaged = append(res.Damaged, b.ID)
			continue
		}
		if b.Verified != nil && b.Verified.OK {
			// A full verify of the file as it is now: no need to re-read it.
			res.NewestGood = b.ID
			break
		}
		a, err := openArchive(b.Path)
		if err == nil {
			err = a.checkOuter()
			a.Close()
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, context.Cause(ctx)
			}
			if errors.Is(err, ErrDamaged) {
				if rerr := recordVerification(st, b.Path, err); rerr != nil {
					res.Warnings = append(res.Warnings, rerr.Error())
				}
			}
			res.Damaged = append(res.Damaged, b.ID)
			continue
		}
		res.NewestGood = b.ID
		break
	}
	for i := range decisions {
		d := &decisions[i]
		if d.ID == res.NewestGood && !d.Keep {
			d.Keep = true
			d.Reasons = append(d.Reasons, "newest good backup")
			d.Why = []string{"the newest good backup (its checksum holds; never deleted)"}
		}
		b := byID[d.ID]
		item := PruneItem{ID: b.ID, File: b.File, Created: b.Created, Size: b.Size, Reasons: d.Reasons, Why: d.Why}
		if d.Keep {
			res.Keep = append(res.Keep, item)
		} else {
			res.Remove = append(res.Remove, item)
			res.Freed += b.Size
		}
	}
	if opts.DryRun || len(res.Remove) == 0 {
		return res, nil
	}
	confirm := opts.Confirm
	if confirm == nil {
		confirm = stackops.NeverConfirm
	}
	details := []string{}
	for _, r := range res.Remove {
		details = append(details, fmt.Sprintf("delete %s (%s, %s) — %s", r.ID, r.Created.Local().Format(time.DateTime), humanBytes(r.Size), strings.Join(r.Why, "; ")))
	}
	for _, k := range res.Keep {
		details = append(details, fmt.Sprintf("keep %s (%s) — %s", k.ID, k.Created.Local().Format(time.DateTime), strings.Join(k.Why, "; ")))
	}
	ok, err := confirm(ctx, stackops.Confirmation{Action: "Prune backups", Prompt: fmt.Sprintf("Delete %d backup(s), freeing %s?", len(res.Remove), humanBytes(res.Freed)), Details: details, Destructive: true})
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, stackops.ErrNotConfirmed
	}
	sink.Start("prune")
	for _, r := range res.Remove {
		if err := os.Remove(byID[r.ID].Path); err != nil && !errors.Is(err, os.ErrNotExist) {
			sink.Done("prune", err)
			return res, fmt.Errorf("delete %s: %w", r.File, err)
		}
		res.Removed = append(res.Removed, r.ID)
		sink.Event(stackops.Event{Op: "prune", Service: r.ID, Phase: "deleted", Message: r.File, Time: time.Now(), Final: true})
	}
	sink.Done("prune", nil)
	if len(res.Removed) > 0 {
		dir, _ := Dir(st)
		_ = atomicfile.SyncDir(dir)
	}
	return res, nil
}
