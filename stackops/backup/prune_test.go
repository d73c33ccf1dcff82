package backup

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stackpilot/stackpilot/internal/itest"
	"github.com/stackpilot/stackpilot/stackops"
)

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// Retention against expectations worked out by hand on a calendar.
func TestApplyRetention(t *testing.T) {
	utc2 := time.FixedZone("UTC+2", 2*3600)
	cases := []struct {
		name   string
		policy RetentionPolicy
		loc    *time.Location
		times  []string // any order
		keep   []string
	}{
		{
			// One per day for the 3 newest days that have a backup; the rest go.
			name: "daily 3", policy: RetentionPolicy{KeepDaily: 3},
			times: []string{"2026-11-25T22:00:00Z", "2026-11-25T10:00:00Z", "2026-11-24T23:00:00Z", "2026-11-24T01:00:00Z", "2026-11-22T12:00:00Z", "2026-11-20T12:00:00Z"},
			keep:  []string{"2026-11-25T22:00:00Z", "2026-11-24T23:00:00Z", "2026-11-22T12:00:00Z"},
		},
		{
			// Counts left at the oldest backup: it is kept although its day already has one.
			name: "daily 5 keeps the oldest", policy: RetentionPolicy{KeepDaily: 5},
			times: []string{"2026-11-25T22:00:00Z", "2026-11-25T10:00:00Z", "2026-11-24T12:00:00Z", "2026-11-24T08:00:00Z"},
			keep:  []string{"2026-11-25T22:00:00Z", "2026-11-24T12:00:00Z", "2026-11-24T08:00:00Z"},
		},
		{
			// ISO weeks: 2026 has 53; 2026-W53 runs Mon 2026-12-28 to Sun 2027-01-03.
			name: "weekly 2 across the new year", policy: RetentionPolicy{KeepWeekly: 2},
			times: []string{"2027-01-03T12:00:00Z", "2026-12-28T12:00:00Z", "2026-12-27T12:00:00Z", "2026-12-21T12:00:00Z", "2026-12-20T12:00:00Z"},
			keep:  []string{"2027-01-03T12:00:00Z", "2026-12-27T12:00:00Z"},
		},
		{
			// last 2 takes the two newest; monthly 2 takes November's newest and October's newest.
			name: "last 2 and monthly 2", policy: RetentionPolicy{KeepLast: 2, KeepMonthly: 2},
			times: []string{"2026-11-25T12:00:00Z", "2026-11-20T12:00:00Z", "2026-11-01T12:00:00Z", "2026-10-31T12:00:00Z", "2026-10-15T12:00:00Z", "2026-09-30T12:00:00Z"},
			keep:  []string{"2026-11-25T12:00:00Z", "2026-11-20T12:00:00Z", "2026-10-31T12:00:00Z"},
		},
		{
			name: "daily 2 in UTC", policy: RetentionPolicy{KeepDaily: 2}, loc: time.UTC,
			times: []string{"2026-11-25T22:30:00Z", "2026-11-25T21:30:00Z", "2026-11-24T12:00:00Z"},
			keep:  []string{"2026-11-25T22:30:00Z", "2026-11-24T12:00:00Z"},
		},
		{
			// The same backups two hours east: 22:30Z is already the 26th there.
			name: "daily 2 in UTC+2", policy: RetentionPolicy{KeepDaily: 2}, loc: utc2,
			times: []string{"2026-11-25T22:30:00Z", "2026-11-25T21:30:00Z", "2026-11-24T12:00:00Z"},
			keep:  []string{"2026-11-25T22:30:00Z", "2026-11-25T21:30:00Z"},
		},
		{
			name: "hourly 2", policy: RetentionPolicy{KeepHourly: 2},
			times: []string{"2026-11-25T10:59:00Z", "2026-11-25T10:01:00Z", "2026-11-25T09:30:00Z", "2026-11-25T08:00:00Z"},
			keep:  []string{"2026-11-25T10:59:00Z", "2026-11-25T09:30:00Z"},
		},
		{
			name: "yearly 2", policy: RetentionPolicy{KeepYearly: 2},
			times: []string{"2026-03-01T00:00:00Z", "2025-12-31T00:00:00Z", "2025-01-01T00:00:00Z", "2024-06-01T00:00:00Z"},
			keep:  []string{"2026-03-01T00:00:00Z", "2025-12-31T00:00:00Z"},
		},
		{
			// -1: every day, and the oldest too.
			name: "daily unlimited", policy: RetentionPolicy{KeepDaily: -1},
			times: []string{"2026-11-25T22:00:00Z", "2026-11-25T10:00:00Z", "2026-11-24T22:00:00Z", "2026-11-24T10:00:00Z"},
			keep:  []string{"2026-11-25T22:00:00Z", "2026-11-24T22:00:00Z", "2026-11-24T10:00:00Z"},
		},
		{
			name: "last 1 of one", policy: RetentionPolicy{KeepLast: 1},
			times: []string{"2026-11-25T22:00:00Z"},
			keep:  []string{"2026-11-25T22:00:00Z"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			loc := tc.loc
			if loc == nil {
				loc = time.UTC
			}
			var items []RetentionItem
			for i := len(tc.times) - 1; i >= 0; i-- { // oldest first: order must not matter
				items = append(items, RetentionItem{ID: tc.times[i], Time: ts(tc.times[i])})
			}
			got := ApplyRetention(items, tc.policy, loc)
			if len(got) != len(tc.times) {
				t.Fatalf("%d decisions for %d items", len(got), len(tc.times))
			}
			for i := 1; i < len(got); i++ {
				if got[i].Time.After(got[i-1].Time) {
					t.Fatalf("decisions not newest first: %v", got)
				}
			}
			var kept []string
			for _, d := range got {
				if d.Keep {
					kept = append(kept, d.ID)
					if len(d.Reasons) == 0 {
						t.Errorf("%s kept without a reason", d.ID)
					}
				} else if len(d.Reasons) != 0 {
					t.Errorf("%s removed with reasons %v", d.ID, d.Reasons)
				}
			}
			if strings.Join(kept, " ") != strings.Join(tc.keep, " ") {
				t.Errorf("kept\n  %v\nwant\n  %v", kept, tc.keep)
			}
		})
	}
	// Reasons name the rules.
	d := ApplyRetention([]RetentionItem{{ID: "a", Time: ts("2026-11-25T12:00:00Z")}}, RetentionPolicy{KeepLast: 1, KeepMonthly: 1}, time.UTC)
	if strings.Join(d[0].Reasons, ",") != "last,monthly" {
		t.Errorf("reasons %v", d[0].Reasons)
	}
}

// Every decision says why, rule by rule, the way restic's forget does:
// which period a kept backup is the newest of, which newer backup keeps a
// deleted one's period, or that the rule is full.
func TestApplyRetentionExplains(t *testing.T) {
	var items []RetentionItem
	for _, at := range []string{"2026-11-25T22:00:00Z", "2026-11-25T10:00:00Z", "2026-11-24T12:00:00Z", "2026-11-23T12:00:00Z", "2026-11-20T12:00:00Z"} {
		items = append(items, RetentionItem{ID: at[:13], Time: ts(at)})
	}
	got := ApplyRetention(items, RetentionPolicy{KeepLast: 1, KeepDaily: 2, KeepWeekly: 5}, time.UTC)
	want := map[string]string{
		"2026-11-25T22": "last 1: the newest | daily 2: the newest of 2026-11-25 (day 1 of 2) | weekly 5: the newest of week 2026-W48 (week 1 of 5)",
		"2026-11-25T10": "last 1: 1 newer backup already kept | daily 2: 2026-11-25 is kept by the newer 2026-11-25T22 | weekly 5: week 2026-W48 is kept by the newer 2026-11-25T22",
		"2026-11-24T12": "daily 2: the newest of 2026-11-24 (day 2 of 2)",
		"2026-11-23T12": "last 1: 1 newer backup already kept | daily 2: 2 newer days already kept | weekly 5: week 2026-W48 is kept by the newer 2026-11-25T22",
		"2026-11-20T12": "weekly 5: the newest of week 2026-W47 (week 2 of 5)",
	}
	for _, d := range got {
		if w := strings.Join(d.Why, " | "); w != want[d.ID] {
			t.Errorf("%s (keep %v):\n  %s\nwant\n  %s", d.ID, d.Keep, w, want[d.ID])
		}
	}
	// The oldest backup kept while a rule has room says so.
	d := ApplyRetention([]RetentionItem{{ID: "new", Time: ts("2026-11-25T12:00:00Z")}, {ID: "old", Time: ts("2026-11-25T08:00:00Z")}}, RetentionPolicy{KeepDaily: 5}, time.UTC)
	if w := strings.Join(d[1].Why, ""); !d[1].Keep || w != "daily 5: the oldest, kept as the rule has room (day 2 of 5)" {
		t.Errorf("oldest: %v %q", d[1].Keep, w)
	}
}

// A stack whose backup directory holds archives made at the given times.
func pruneStack(t *testing.T, times ...string) (*stackops.Stack, map[string]string) {
	t.Helper()
	dir := itest.WriteFiles(t, map[string]string{"compose.yaml": "services:\n  db:\n    image: x\nx-stackpilot:\n  backup:\n    dir: ./bk\n"})
	st, err := stackops.Load(context.Background(), stackops.LoadOptions{ProjectDir: dir, Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	bk := filepath.Join(dir, "bk")
	_ = os.MkdirAll(bk, 0o700)
	paths := map[string]string{}
	for _, tm := range times {
		created := ts(tm)
		id := created.UTC().Format("20060102-150405")
		p := filepath.Join(bk, backupFileName(st.Name, id, "", false))
		w, err := createArchive(p, ArchiveHeader{Tool: "stackpilot", ID: id, Project: st.Name, Created: created, Services: []string{"db"}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.addDump(ManifestEntry{Kind: EntryDump, Path: "dumps/db/x/", Services: []string{"db"}, Dump: "x"}, strings.NewReader("data "+tm), nil); err != nil {
			t.Fatal(err)
		}
		if _, err := w.commit(); err != nil {
			t.Fatal(err)
		}
		paths[id] = p
	}
	return st, paths
}

func remaining(t *testing.T, st *stackops.Stack) []string {
	t.Helper()
	list, err := List(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, b := range list.Backups {
		ids = append(ids, b.ID)
	}
	sort.Strings(ids)
	return ids
}

func TestPruneBackups(t *testing.T) {
	ctx := context.Background()
	st, paths := pruneStack(t, "2026-11-25T12:00:00Z", "2026-11-24T12:00:00Z", "2026-11-23T12:00:00Z", "2026-11-23T08:00:00Z")

	// An empty policy (no flags, no config) is refused, and nothing goes.
	if _, err := Prune(ctx, st, PruneOptions{Confirm: stackops.AlwaysConfirm}); !errors.Is(err, ErrEmptyPolicy) {
		t.Fatalf("empty policy: %v, want ErrEmptyPolicy", err)
	}
	// Without consent nothing is deleted.
	if _, err := Prune(ctx, st, PruneOptions{Policy: RetentionPolicy{KeepLast: 1}, Location: time.UTC, Confirm: stackops.NeverConfirm}); !errors.Is(err, stackops.ErrConfirmationRequired) {
		t.Fatalf("no consent: %v", err)
	}
	// A dry run reports and deletes nothing.
	res, err := Prune(ctx, st, PruneOptions{Policy: RetentionPolicy{KeepDaily: 2}, Location: time.UTC, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Remove) != 2 || len(remaining(t, st)) != 4 || res.NewestGood != "20261125-120000" {
		t.Fatalf("dry run: remove %v, newest good %s, left %v", res.Remove, res.NewestGood, remaining(t, st))
	}

	// The newest archive is damaged: the newest good one is kept even though
	// keep-last 1 only keeps the (damaged) newest.
	b, _ := os.ReadFile(paths["20261125-120000"])
	b[len(b)/2] ^= 0xff
	_ = os.WriteFile(paths["20261125-120000"], b, 0o600)
	res, err = Prune(ctx, st, PruneOptions{Policy: RetentionPolicy{KeepLast: 1}, Location: time.UTC, Confirm: stackops.AlwaysConfirm})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(remaining(t, st), " "); got != "20261124-120000 20261125-120000" {
		t.Fatalf("after prune: %s (removed %v, damaged %v)", got, res.Removed, res.Damaged)
	}
	if res.NewestGood != "20261124-120000" || len(res.Damaged) != 1 {
		t.Errorf("newest good %q, damaged %v", res.NewestGood, res.Damaged)
	}
	for _, k := range res.Keep {
		if k.ID == "20261124-120000" && !strings.Contains(strings.Join(k.Reasons, ","), "newest good") {
			t.Errorf("reasons %v", k.Reasons)
		}
	}
	// The damage was remembered: list shows it.
	list, _ := List(ctx, st)
	for _, bi := range list.Backups {
		if bi.ID == "20261125-120000" && (bi.Verified == nil || bi.Verified.OK) {
			t.Errorf("damaged archive not recorded: %+v", bi.Verified)
		}
	}
}

// The config's retention is the default policy.
func TestPruneUsesConfigRetention(t *testing.T) {
	dir := itest.WriteFiles(t, map[string]string{"compose.yaml": "services:\n  db:\n    image: x\nx-stackpilot:\n  backup:\n    retention: {keep_last: 2}\n"})
	st, err := stackops.Load(context.Background(), stackops.LoadOptions{ProjectDir: dir, Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Prune(context.Background(), st, PruneOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Policy.KeepLast != 2 {
		t.Fatalf("policy %+v", res.Policy)
	}
	bad := itest.WriteFiles(t, map[string]string{"compose.yaml": "services:\n  db:\n    image: x\nx-stackpilot:\n  backup:\n    retention: {keep_lats: 2}\n"})
	st, err = stackops.Load(context.Background(), stackops.LoadOptions{ProjectDir: bad, Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Prune(context.Background(), st, PruneOptions{DryRun: true}); !errors.Is(err, stackops.ErrInvalidConfig) || !strings.Contains(err.Error(), "keep_lats") {
		t.Errorf("typo in retention: %v", err)
	}
}

// A restore can put back only the services whose data a backup holds: the
// services mounting its volumes (shared volumes bring both), and those its
// dumps came from — not every service the stack had.
func TestHeldServices(t *testing.T) {
	dir := itest.WriteFiles(t, map[string]string{"compose.yaml": `services:
  db: {image: x, volumes: ["dbdata:/d"]}
  worker: {image: x, volumes: ["dbdata:/d"]}
  cache: {image: x, volumes: ["cachedata:/c"]}
  web: {image: x}
volumes: {dbdata: {}, cachedata: {}}
`})
	st, err := stackops.Load(context.Background(), stackops.LoadOptions{ProjectDir: dir, Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		info Info
		want string
	}{
		{Info{Services: []string{"cache", "db", "web", "worker"}, Volumes: []string{"dbdata"}}, "db,worker"},
		{Info{Volumes: []string{"cachedata", "dbdata"}}, "cache,db,worker"},
		{Info{Volumes: []string{"gone"}, Dumps: []string{"web/notes", "removed/x"}}, "web"},
	} {
		if got := strings.Join(HeldServices(st, c.info), ","); got != c.want {
			t.Errorf("%+v: %q, want %q", c.info, got, c.want)
		}
	}
}
