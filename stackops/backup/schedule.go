package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/stackpilot/stackpilot/stackops"
)

// ScheduleOptions configures ScheduleBackup. Exactly one of Cron,
// Remove and Show is the action; PrintSystemd prints units instead of
// touching the crontab.
type ScheduleOptions struct {
	// Cron is a five-field cron expression ("0 3 * * *") or @daily, @weekly …
	Cron string
	// Policy is the prune run after each backup; the config's retention when empty.
	Policy RetentionPolicy
	Remove bool
	Show   bool
	// PrintSystemd renders a systemd service and timer instead of using crontab.
	PrintSystemd bool
	// Executable is the stackpilot binary the job runs (an absolute path).
	Executable string
	// GlobalArgs pin the same stack: -f, -p, --env-file, --profile.
	GlobalArgs []string
	// DryRun works out the entry Cron would install (and whether it adds,
	// replaces or leaves one) without writing the crontab.
	DryRun bool
}

// ScheduleResult says what the schedule is now.
type ScheduleResult struct {
	// Action is installed, updated, unchanged, removed, absent, shown or systemd.
	Action string `json:"action"`
	Cron   string `json:"cron,omitempty"`
	// Command is the shell command the job runs.
	Command string `json:"command,omitempty"`
	// Entry is the crontab block (marker comment and line).
	Entry string `json:"entry,omitempty"`
	// Replaces is the entry an update replaced (or would, in a dry run).
	Replaces string           `json:"replaces,omitempty"`
	Prune    bool             `json:"prune"`
	Systemd  *SystemdUnits    `json:"systemd,omitempty"`
	Policy   *RetentionPolicy `json:"policy,omitempty"`
	// Warnings are things a person should know (no retention: backups pile up).
	Warnings []string `json:"warnings"`
}

// SystemdUnits are a oneshot service and the timer that runs it.
type SystemdUnits struct {
	ServiceName string `json:"service_name"`
	Service     string `json:"service"`
	TimerName   string `json:"timer_name"`
	Timer       string `json:"timer"`
	OnCalendar  string `json:"on_calendar"`
}

// ErrCrontabUnavailable means the crontab program is missing.
var ErrCrontabUnavailable = errors.New("crontab not found")

const scheduleLog = ".stackpilot/backup-schedule.log"

// scheduleMarker is the comment that marks our crontab entry, keyed by the
// project directory and name so each stack has its own and re-running
// schedule replaces it instead of adding another.
func scheduleMarker(st *stackops.Stack) string {
	sum := sha256.Sum256([]byte(st.Dir + "\x00" + st.Name))
	return fmt.Sprintf("# stackpilot:backup:%s — %s (%s); managed by `stackpilot backup schedule`", hex.EncodeToString(sum[:6]), st.Name, st.Dir)
}

func scheduleKey(st *stackops.Stack) string {
	m := scheduleMarker(st)
	return m[:len("# stackpilot:backup:")+12]
}

// Schedule installs, replaces, removes or shows the stack's backup
// job in the user's crontab: one entry, marked as stackpilot's, that runs
// `backup create` and then `backup prune`. Installing is idempotent. With
// PrintSystemd it only renders a systemd timer and service.
func Schedule(ctx context.Context, st *stackops.Stack, opts ScheduleOptions) (*ScheduleResult, error) {
	res := &ScheduleResult{Warnings: []string{}}
	actions := 0
	for _, set := range []bool{opts.Cron != "", opts.Remove, opts.Show} {
		if set {
			actions++
		}
	}
	if actions != 1 && !(opts.PrintSystemd && actions == 0) {
		return nil, errors.New("give one of --cron EXPR, --remove or --show")
	}
	if opts.Remove && opts.PrintSystemd {
		return nil, errors.New("--print-systemd prints units for a schedule: give it with --cron or --show")
	}
	if opts.Cron != "" || opts.PrintSystemd && opts.Show {
		if opts.Executable == "" || !filepath.IsAbs(opts.Executable) {
			return nil, fmt.Errorf("the scheduled job needs the absolute path of stackpilot (got %q)", opts.Executable)
		}
	}
	var current []byte
	var err error
	if !(opts.PrintSystemd && opts.Cron != "") {
		current, err = readCrontab(ctx, st)
		if err != nil {
			return nil, err
		}
	}
	existing := findEntry(st, current)

	if opts.Show {
		if existing == "" {
			res.Action = "absent"
			return res, nil
		}
		res.Action, res.Entry = "shown", existing
		line := strings.TrimSpace(existing[strings.Index(existing, "\n")+1:])
		fields := strings.Fields(line)
		if strings.HasPrefix(line, "@") {
			res.Cron, res.Command = fields[0], strings.TrimSpace(strings.TrimPrefix(line, fields[0]))
		} else if len(fields) > 5 {
			res.Cron = strings.Join(fields[:5], " ")
			res.Command = strings.TrimSpace(line[strings.Index(line, fields[5]):])
		}
		res.Prune = strings.Contains(res.Command, " backup prune ")
		if opts.PrintSystemd {
			units, err := systemdUnits(st, res.Cron, res.Command)
			if err != nil {
				return nil, err
			}
			res.Action, res.Systemd = "systemd", units
		}
		return res, nil
	}

	if opts.Remove {
		if existing == "" {
			res.Action = "absent"
			return res, nil
		}
		if err := writeCrontab(ctx, st, bytes.Replace(current, []byte(existing), nil, 1)); err != nil {
			return nil, err
		}
		res.Action, res.Entry = "removed", existing
		return res, nil
	}

	spec, err := ParseCron(opts.Cron)
	if err != nil {
		return nil, err
	}
	res.Cron = spec.Expr
	policy := opts.Policy
	if err := policy.validate(); err != nil {
		return nil, err
	}
	cfg, err := ConfigOf(st)
	if err != nil {
		return nil, err
	}
	var pruneArgs []string
	switch {
	case !policy.Empty():
		pruneArgs = policy.Flags()
		res.Policy = &policy
	case !cfg.Retention.Empty():
		res.Policy = &cfg.Retention // prune reads it from the compose file when it runs
	default:
		res.Warnings = append(res.Warnings, fmt.Sprintf("no retention policy: backups will pile up — add --keep-daily 7 (or the like), or set %s.backup.retention", stackops.ConfigExtension))
	}
	res.Prune = res.Policy != nil
	res.Command = scheduleCommand(st, opts.Executable, opts.GlobalArgs, res.Prune, pruneArgs)
	if opts.PrintSystemd {
		units, err := systemdUnits(st, spec.Expr, res.Command)
		if err != nil {
			return nil, err
		}
		res.Action, res.Systemd = "systemd", units
		return res, nil
	}
	entry := scheduleMarker(st) + "\n" + spec.Expr + " " + strings.ReplaceAll(res.Command, "%", `\%`) + "\n"
	res.Entry = entry
	switch {
	case existing == entry:
		res.Action = "unchanged"
		return res, nil
	case existing != "":
		current = bytes.Replace(current, []byte(existing), []byte(entry), 1)
		res.Action = "updated"
		res.Replaces = existing
	default:
		if len(current) > 0 && !bytes.HasSuffix(current, []byte("\n")) {
			current = append(current, '\n')
		}
		current = append(current, entry...)
		res.Action = "installed"
	}
	if opts.DryRun {
		return res, nil
	}
	if err := writeCrontab(ctx, st, current); err != nil {
		return nil, err
	}
	return res, nil
}

// scheduleCommand is the shell line the job runs: create, then prune, all
// output appended to .stackpilot/backup-schedule.log.
func scheduleCommand(st *stackops.Stack, exe string, globals []string, prune bool, pruneArgs []string) string {
	base := []string{exe, "-C", st.Dir}
	base = append(base, globals...)
	create := stackops.Cmd{Args: append(append([]string{}, base...), "backup", "create", "--yes", "--lock-wait", "30m")}.String()
	job := create
	if prune {
		p := append(append([]string{}, base...), "backup", "prune")
		p = append(p, pruneArgs...)
		job += " && " + stackops.Cmd{Args: append(p, "--yes")}.String()
	}
	logPath := stackops.Cmd{Args: []string{filepath.Join(st.Dir, scheduleLog)}}.String()
	return fmt.Sprintf("cd %s && { %s; } >> %s 2>&1", stackops.Cmd{Args: []string{st.Dir}}.String(), job, logPath)
}

// findEntry returns our block (marker line and the line after it) or "".
func findEntry(st *stackops.Stack, crontab []byte) string {
	key := scheduleKey(st)
	lines := strings.SplitAfter(string(crontab), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, key) {
			block := l
			if i+1 < len(lines) {
				block += lines[i+1]
			}
			return block
		}
	}
	return ""
}

func readCrontab(ctx context.Context, st *stackops.Stack) ([]byte, error) {
	var out, stderr bytes.Buffer
	err := st.Runner.Run(ctx, stackops.Cmd{Args: []string{"crontab", "-l"}, Stdout: &out, Stderr: &stderr})
	if err != nil {
		var ee *stackops.ExitError
		if errors.As(err, &ee) && strings.Contains(strings.ToLower(stderr.String()), "no crontab") {
			return nil, nil
		}
		if strings.Contains(err.Error(), "not found") {
			return nil, fmt.Errorf("%w: install cron (apt-get install cron), or use --print-systemd for a systemd timer", ErrCrontabUnavailable)
		}
		return nil, fmt.Errorf("crontab -l: %v %s", err, strings.TrimSpace(stderr.String()))
	}
	return out.Bytes(), nil
}

func writeCrontab(ctx context.Context, st *stackops.Stack, content []byte) error {
	var stderr bytes.Buffer
	if err := st.Runner.Run(ctx, stackops.Cmd{Args: []string{"crontab", "-"}, Stdin: bytes.NewReader(content), Stderr: &stderr}); err != nil {
		if strings.Contains(err.Error(), "not found") {
			return fmt.Errorf("%w: install cron (apt-get install cron), or use --print-systemd for a systemd timer", ErrCrontabUnavailable)
		}
		return fmt.Errorf("crontab -: %v %s", err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// systemdUnits renders the job as a oneshot service and a timer.
func systemdUnits(st *stackops.Stack, cronExpr, command string) (*SystemdUnits, error) {
	spec, err := ParseCron(cronExpr)
	if err != nil {
		return nil, err
	}
	cal, err := spec.OnCalendar()
	if err != nil {
		return nil, err
	}
	name := "stackpilot-backup-" + regexp.MustCompile(`[^A-Za-z0-9_-]`).ReplaceAllString(st.Name, "-")
	u := &SystemdUnits{ServiceName: name + ".service", TimerName: name + ".timer", OnCalendar: cal}
	u.Service = fmt.Sprintf(`[Unit]
Description=stackpilot backup of %s (%s)
Wants=docker.service
After=docker.service

[Service]
Type=oneshot
WorkingDirectory=%s
ExecStart=/bin/sh -c %s
`, st.Name, st.Dir, st.Dir, systemdQuote(command))
	u.Timer = fmt.Sprintf(`[Unit]
Description=Run the stackpilot backup of %s (cron %s)

[Timer]
OnCalendar=%s
Persistent=true

[Install]
WantedBy=timers.target
`, st.Name, spec.Expr, cal)
	return u, nil
}

func systemdQuote(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, `"`, `\"`)
	s = strings.ReplaceAll(s, "%", "%%")
	return `"` + s + `"`
}

// CronSpec is a parsed five-field cron expression.
type CronSpec struct {
	Expr   string
	Fields [5]string // minute hour day-of-month month day-of-week
}

var cronMacros = map[string]string{
	"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
	"@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *",
}

var cronLimits = [5]struct {
	name     string
	min, max int
	names    []string
}{
	{"minute", 0, 59, nil},
	{"hour", 0, 23, nil},
	{"day of month", 1, 31, nil},
	{"month", 1, 12, []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}},
	{"day of week", 0, 7, []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}},
}

// ParseCron checks a cron expression: five fields of numbers, names, *,
// lists, ranges and steps, or one of @hourly, @daily, @weekly, @monthly, @yearly.
func ParseCron(expr string) (*CronSpec, error) {
	expr = strings.Join(strings.Fields(expr), " ")
	if m, ok := cronMacros[strings.ToLower(expr)]; ok {
		spec, err := ParseCron(m)
		if err != nil {
			return nil, err
		}
		spec.Expr = strings.ToLower(expr)
		return spec, nil
	}
	fields := strings.Fields(expr)
	if len(fields) != 5 {
		return nil, fmt.Errorf("cron expression %q: want 5 fields (minute hour day-of-month month day-of-week), e.g. \"0 3 * * *\" for 03:00 daily, or @daily", expr)
	}
	spec := &CronSpec{Expr: expr}
	for i, f := range fields {
		if _, err := expandCronField(f, i); err != nil {
			return nil, fmt.Errorf("cron expression %q: %s %q: %v", expr, cronLimits[i].name, f, err)
		}
		spec.Fields[i] = strings.ToLower(f)
	}
	return spec, nil
}

// expandCronField returns the values a field matches (nil for *).
func expandCronField(f string, i int) ([]int, error) {
	lim := cronLimits[i]
	if f == "*" {
		return nil, nil
	}
	var out []int
	for _, part := range strings.Split(f, ",") {
		step := 1
		if a, b, ok := strings.Cut(part, "/"); ok {
			n, err := strconv.Atoi(b)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("bad step %q", b)
			}
			part, step = a, n
		}
		lo, hi := lim.min, lim.max
		if i == 4 {
			hi = 6
		}
		if part != "*" {
			a, b, isRange := strings.Cut(part, "-")
			var err error
			if lo, err = cronValue(a, lim.names, lim.min); err != nil {
				return nil, err
			}
			hi = lo
			if isRange {
				if hi, err = cronValue(b, lim.names, lim.min); err != nil {
					return nil, err
				}
			} else if step > 1 {
				hi = lim.max
			}
		}
		if lo < lim.min || hi > lim.max || lo > hi {
			return nil, fmt.Errorf("out of range %d-%d", lim.min, lim.max)
		}
		for v := lo; v <= hi; v += step {
			out = append(out, v)
		}
	}
	return out, nil
}

func cronValue(s string, names []string, min int) (int, error) {
	for j, n := range names {
		if strings.EqualFold(s, n) {
			return j + min, nil
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	return n, nil
}

// OnCalendar converts the expression to systemd's calendar syntax. cron runs
// a job when either day field matches if both are restricted; systemd needs
// both, so that combination is refused.
func (c *CronSpec) OnCalendar() (string, error) {
	vals := [5][]int{}
	for i, f := range c.Fields {
		v, err := expandCronField(f, i)
		if err != nil {
			return "", err
		}
		vals[i] = v
	}
	if vals[2] != nil && vals[4] != nil {
		return "", fmt.Errorf("cron %q restricts both day of month and day of week (cron runs on either; systemd needs both) — use one of them for --print-systemd", c.Expr)
	}
	list := func(v []int, width int) string {
		if v == nil {
			return "*"
		}
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = fmt.Sprintf("%0*d", width, x)
		}
		return strings.Join(parts, ",")
	}
	cal := ""
	if vals[4] != nil {
		days := []string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}
		seen := map[string]bool{}
		var names []string
		for _, d := range vals[4] {
			if !seen[days[d]] {
				seen[days[d]] = true
				names = append(names, days[d])
			}
		}
		cal = strings.Join(names, ",") + " "
	}
	cal += fmt.Sprintf("*-%s-%s %s:%s:00", list(vals[3], 2), list(vals[2], 2), list(vals[1], 2), list(vals[0], 2))
	return cal, nil
}
