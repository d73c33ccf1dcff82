package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"

	"github.com/stackpilot/stackpilot/internal/itest"
	"github.com/stackpilot/stackpilot/stackops"
)

// crontabRunner behaves like crontab(1) for one user, in memory.
type crontabRunner struct {
	content *string // nil: no crontab yet
	missing bool
	calls   []string
}

func (c *crontabRunner) Run(_ context.Context, cmd stackops.Cmd) error {
	c.calls = append(c.calls, strings.Join(cmd.Args, " "))
	if c.missing {
		return fmt.Errorf("%s: not found in PATH", cmd.Args[0])
	}
	switch strings.Join(cmd.Args, " ") {
	case "crontab -l":
		if c.content == nil {
			fmt.Fprintln(cmd.Stderr, "no crontab for root")
			return &stackops.ExitError{Cmd: "crontab", Code: 1}
		}
		fmt.Fprint(cmd.Stdout, *c.content)
		return nil
	case "crontab -":
		b, _ := io.ReadAll(cmd.Stdin)
		s := string(b)
		c.content = &s
		return nil
	}
	return fmt.Errorf("unexpected %v", cmd.Args)
}

func scheduleStack(t *testing.T, dirName, extra string) (*stackops.Stack, *crontabRunner) {
	t.Helper()
	dir := itest.WriteFiles(t, map[string]string{dirName + "/compose.yaml": "services:\n  db:\n    image: x\n" + extra})
	r := &crontabRunner{}
	st, err := stackops.Load(context.Background(), stackops.LoadOptions{ProjectDir: dir + "/" + dirName, Environ: []string{}, Runner: r})
	if err != nil {
		t.Fatal(err)
	}
	return st, r
}

func TestScheduleBackupCrontab(t *testing.T) {
	ctx := context.Background()
	st, r := scheduleStack(t, "shop 100%", "")
	mine := "MAILTO=ops@example.com\n15 * * * * /usr/local/bin/other-job\n"
	r.content = &mine
	opts := ScheduleOptions{Cron: "0 3 * * *", Policy: RetentionPolicy{KeepDaily: 7, KeepWeekly: 4}, Executable: "/usr/local/bin/stackpilot"}

	res, err := Schedule(ctx, st, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Action != "installed" || !res.Prune || len(res.Warnings) != 0 {
		t.Fatalf("install: %+v", res)
	}
	tab := *r.content
	if !strings.HasPrefix(tab, mine) {
		t.Errorf("the user's own entries were not kept:\n%s", tab)
	}
	if strings.Count(tab, "# stackpilot:backup:") != 1 {
		t.Errorf("want one marked entry:\n%s", tab)
	}
	line := tab[strings.Index(tab, "\n0 3 * * * ")+1:]
	for _, want := range []string{"backup create --yes --lock-wait 30m", "backup prune --keep-daily 7 --keep-weekly 4 --yes", "-C '" + st.Dir[:len(st.Dir)-1] + `\%'`, ".stackpilot/backup-schedule.log"} {
		if !strings.Contains(line, want) {
			t.Errorf("crontab line lacks %q:\n%s", want, line)
		}
	}
	// The command is valid shell once cron has unescaped %.
	if out, err := exec.Command("sh", "-n", "-c", res.Command).CombinedOutput(); err != nil {
		t.Errorf("sh -n: %v %s\n%s", err, out, res.Command)
	}

	// Idempotent: the same schedule changes nothing.
	res, err = Schedule(ctx, st, opts)
	if err != nil || res.Action != "unchanged" || *r.content != tab {
		t.Fatalf("again: %v %+v\n%s", err, res, *r.content)
	}
	// A new time replaces the entry instead of adding one.
	opts.Cron = "@daily"
	res, err = Schedule(ctx, st, opts)
	if err != nil || res.Action != "updated" || strings.Count(*r.content, "# stackpilot:backup:") != 1 || !strings.Contains(*r.content, "\n@daily ") {
		t.Fatalf("update: %v %+v\n%s", err, res, *r.content)
	}
	show, err := Schedule(ctx, st, ScheduleOptions{Show: true})
	if err != nil || show.Action != "shown" || show.Cron != "@daily" || !show.Prune {
		t.Fatalf("show: %v %+v", err, show)
	}
	// Another stack gets its own entry.
	other, _ := scheduleStack(t, "blog", "")
	other.Runner = r
	if res, err := Schedule(ctx, other, ScheduleOptions{Cron: "0 4 * * *", Executable: "/usr/local/bin/stackpilot"}); err != nil || res.Action != "installed" || len(res.Warnings) != 1 || res.Prune {
		t.Fatalf("second stack: %v %+v", err, res)
	}
	if strings.Count(*r.content, "# stackpilot:backup:") != 2 {
		t.Fatalf("two stacks, two entries:\n%s", *r.content)
	}
	// Remove takes only ours.
	res, err = Schedule(ctx, st, ScheduleOptions{Remove: true})
	if err != nil || res.Action != "removed" {
		t.Fatalf("remove: %v %+v", err, res)
	}
	if !strings.HasPrefix(*r.content, mine) || strings.Count(*r.content, "# stackpilot:backup:") != 1 || strings.Contains(*r.content, "shop") {
		t.Fatalf("after remove:\n%s", *r.content)
	}
	if res, _ := Schedule(ctx, st, ScheduleOptions{Show: true}); res.Action != "absent" {
		t.Fatalf("show after remove: %+v", res)
	}
	if res, _ := Schedule(ctx, st, ScheduleOptions{Remove: true}); res.Action != "absent" {
		t.Fatalf("remove twice: %+v", res)
	}
}

func TestScheduleBackupErrors(t *testing.T) {
	ctx := context.Background()
	st, r := scheduleStack(t, "app", "x-stackpilot:\n  backup:\n    retention: {keep_last: 5}\n")
	if _, err := Schedule(ctx, st, ScheduleOptions{Cron: "0 3 * *", Executable: "/bin/sp"}); err == nil || !strings.Contains(err.Error(), "5 fields") {
		t.Errorf("4 fields: %v", err)
	}
	if _, err := Schedule(ctx, st, ScheduleOptions{Cron: "61 3 * * *", Executable: "/bin/sp"}); err == nil || !strings.Contains(err.Error(), "minute") {
		t.Errorf("minute 61: %v", err)
	}
	if _, err := Schedule(ctx, st, ScheduleOptions{}); err == nil {
		t.Error("no action accepted")
	}
	if _, err := Schedule(ctx, st, ScheduleOptions{Cron: "@daily", Remove: true, Executable: "/bin/sp"}); err == nil {
		t.Error("two actions accepted")
	}
	// The config's retention: prune runs with no flags (it reads the config then).
	res, err := Schedule(ctx, st, ScheduleOptions{Cron: "@daily", Executable: "/bin/sp"})
	if err != nil || !res.Prune || !strings.Contains(res.Command, "backup prune --yes") || res.Policy.KeepLast != 5 {
		t.Fatalf("config retention: %v %+v", err, res)
	}
	r.missing = true
	if _, err := Schedule(ctx, st, ScheduleOptions{Show: true}); !errors.Is(err, ErrCrontabUnavailable) || !strings.Contains(err.Error(), "--print-systemd") {
		t.Errorf("no crontab: %v", err)
	}
	// --print-systemd with --cron needs no crontab at all.
	res, err = Schedule(ctx, st, ScheduleOptions{Cron: "30 2 * * 1-5", PrintSystemd: true, Executable: "/bin/sp"})
	if err != nil {
		t.Fatal(err)
	}
	u := res.Systemd
	if u.OnCalendar != "Mon,Tue,Wed,Thu,Fri *-*-* 02:30:00" || !strings.Contains(u.Timer, "OnCalendar="+u.OnCalendar) ||
		!strings.Contains(u.Service, "Type=oneshot") || !strings.Contains(u.Service, "backup create --yes") || u.TimerName != "stackpilot-backup-app.timer" {
		t.Errorf("systemd units:\n%s\n%s", u.Service, u.Timer)
	}
}

func TestCronOnCalendar(t *testing.T) {
	for expr, want := range map[string]string{
		"0 3 * * *":         "*-*-* 03:00:00",
		"*/15 * * * *":      "*-*-* *:00,15,30,45:00",
		"0 0 1 * *":         "*-*-01 00:00:00",
		"@weekly":           "Sun *-*-* 00:00:00",
		"0 0 * * 7":         "Sun *-*-* 00:00:00",
		"0 12 * jan,jul *":  "*-01,07-* 12:00:00",
		"5 1-3 * * sat,sun": "Sat,Sun *-*-* 01,02,03:05:00",
		"0 0 */10 * *":      "*-*-01,11,21,31 00:00:00",
	} {
		spec, err := ParseCron(expr)
		if err != nil {
			t.Errorf("%s: %v", expr, err)
			continue
		}
		got, err := spec.OnCalendar()
		if err != nil || got != want {
			t.Errorf("%s: %q %v, want %q", expr, got, err, want)
		}
	}
	spec, _ := ParseCron("0 4 1 * 1")
	if _, err := spec.OnCalendar(); err == nil {
		t.Error("day of month and day of week both restricted: accepted")
	}
	for _, bad := range []string{"", "* * * *", "0 24 * * *", "0 0 0 * *", "0 0 * 13 *", "0 0 * * 8", "*/0 * * * *", "a b c d e", "5-1 * * * *", "@reboot"} {
		if _, err := ParseCron(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
