package wizard

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/stackops/logs"
	"github.com/stackpilot/stackpilot/steps"
)

type logsOptions struct {
	Services   []string
	Follow     bool
	Tail       string
	Since      string
	Until      string
	Timestamps bool
	Grep       string
	IgnoreCase bool
	Level      string
	NoPrefix   bool
	JSON       bool
	Summary    bool
}

func newLogsCmd(f *Factory) *cobra.Command {
	opts := &logsOptions{}
	cmd := &cobra.Command{
		Use:   "logs [SERVICE...]",
		Short: "Show, follow, search and summarise the services' logs",
		Long: `Show the logs of the stack's containers, read through the Docker Engine (so
--since works the same for Compose v1 and v2 stacks). Lines of all selected
services are merged in timestamp order and prefixed with their service (and
replica when a service has several), in a color per service on a terminal.

Levels are detected from the common formats: JSON level/severity fields,
logfmt level=, [ERROR], ERROR:, bare ERROR/WARN/INFO words (Go, Python,
Java loggers), klog, Go panics and Python tracebacks. --level keeps lines at
that level or more severe; lines with no recognisable level are then left out.

-f keeps following, also across a redeploy: containers started or recreated
while following are picked up. Ctrl-C stops.

--summary reads the logs in one streaming pass and prints, per service, the
lines by level, restarts, the first and last error and the five most
repeated error messages (numbers, ids and hex replaced so repeats group).
Containers a deploy or rollback replaced during the window count too: the
end of their logs was kept in .stackpilot/replaced/ when they were replaced.

A search (--grep, -i to ignore case) that matches no line says so on stderr;
the exit status stays 0.

Exit status: 0 ok, 1 failure, 2 usage error, 130 stopped with Ctrl-C.`,
		Example: `  stackpilot logs                          # everything, merged in time order
  stackpilot logs api -f --tail 20         # the last 20 lines of api, then follow
  stackpilot logs --since 10m --level warn # warnings and errors of the last 10 minutes
  stackpilot logs --grep 'timeout|refused' -i # search (Go regexp), any case
  stackpilot logs --summary                # counts by level, restarts, top errors
  stackpilot logs --json | jq 'select(.level=="error")'`,
		ValidArgsFunction: completeServices(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Services = args
			return runLogs(cmd.Context(), f, opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&opts.Follow, "follow", "f", false, "keep printing new lines, across restarts and redeploys, until Ctrl-C")
	fl.StringVarP(&opts.Tail, "tail", "n", "all", `the last N lines of each container (after --grep/--level), or "all"`)
	fl.StringVar(&opts.Since, "since", "", "lines since a time: 10m, 2h, 3d ago, RFC 3339, 2025-11-25 22:00, or unix seconds")
	fl.StringVar(&opts.Until, "until", "", "lines before a time (same forms as --since)")
	fl.BoolVarP(&opts.Timestamps, "timestamps", "t", false, "show the engine's timestamp of each line")
	fl.StringVar(&opts.Grep, "grep", "", "only lines matching this regular expression (Go syntax)")
	fl.BoolVarP(&opts.IgnoreCase, "ignore-case", "i", false, "--grep ignores case (error matches ERROR and Error)")
	fl.StringVar(&opts.Level, "level", "", "only lines at this level or more severe: error, warn, info or debug")
	fl.BoolVar(&opts.NoPrefix, "no-prefix", false, "do not prefix lines with their service")
	fl.BoolVar(&opts.JSON, "json", false, "one JSON object per line (service, container, time, stream, level, message); with --summary, the summary as JSON")
	fl.BoolVar(&opts.Summary, "summary", false, "per service: lines by level, restarts, first/last error, top 5 repeated errors")
	// -f is --follow here, as in docker and Compose; the global --file keeps
	// its long form (and -f before the command name: stackpilot -f x.yml logs).
	repeatedFlag(fl, &f.Global.Files, "file", "", "compose file (repeatable); here -f is --follow: write --file, or -f FILE before \"logs\"")
	_ = cmd.RegisterFlagCompletionFunc("level", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{"error", "warn", "info", "debug"}, cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}

// resolveLogsOptions checks the flags and turns them into the library's options.
func resolveLogsOptions(opts *logsOptions, now time.Time) (logs.Options, error) {
	lo := logs.Options{Services: opts.Services, Follow: opts.Follow, Tail: -1}
	switch t := strings.TrimSpace(opts.Tail); t {
	case "", "all", "-1":
	default:
		n, err := strconv.Atoi(t)
		if err != nil || n < 0 {
			return lo, usageErr(`--tail %q: give a number of lines or "all"`, opts.Tail)
		}
		lo.Tail = n
	}
	var err error
	if opts.Since != "" {
		if lo.Since, err = logs.ParseTime(opts.Since, now); err != nil {
			return lo, usageErr("--since %v", err)
		}
	}
	if opts.Until != "" {
		if lo.Until, err = logs.ParseTime(opts.Until, now); err != nil {
			return lo, usageErr("--until %v", err)
		}
	}
	if !lo.Since.IsZero() && !lo.Until.IsZero() && !lo.Until.After(lo.Since) {
		return lo, usageErr("--until (%s) must be after --since (%s)", lo.Until.Format(time.RFC3339), lo.Since.Format(time.RFC3339))
	}
	if opts.IgnoreCase && opts.Grep == "" {
		return lo, usageErr("-i/--ignore-case applies to --grep: give a pattern to search for")
	}
	if opts.Grep != "" {
		pattern := opts.Grep
		if opts.IgnoreCase {
			pattern = "(?i)" + pattern
		}
		if lo.Grep, err = regexp.Compile(pattern); err != nil {
			return lo, usageErr("--grep: %v", err)
		}
	}
	if opts.Level != "" {
		if lo.Level, err = logs.ParseLevel(opts.Level); err != nil {
			return lo, usageErr("--level: %v", err)
		}
	}
	switch {
	case opts.Follow && opts.Until != "":
		return lo, usageErr("--until cannot be combined with -f/--follow: following shows lines as they are written")
	case opts.Summary && opts.Follow:
		return lo, usageErr("--summary cannot be combined with -f/--follow: a summary is of what has been written")
	case opts.Summary && opts.Timestamps:
		return lo, usageErr("--timestamps has no effect with --summary (it shows the first and last error's times)")
	case opts.Summary && opts.NoPrefix:
		return lo, usageErr("--no-prefix has no effect with --summary")
	case opts.JSON && opts.Timestamps:
		return lo, usageErr("--timestamps has no effect with --json (every object has its time)")
	case opts.JSON && opts.NoPrefix:
		return lo, usageErr("--no-prefix has no effect with --json (every object names its service)")
	}
	return lo, nil
}

// runLogs is the Logs job, for the menu and the command alike.
func runLogs(ctx context.Context, f *Factory, opts *logsOptions) error {
	lo, err := resolveLogsOptions(opts, time.Now())
	if err != nil {
		return err
	}
	st, err := f.Stack(ctx)
	if err != nil {
		return err
	}
	if on, err := onSwarm(st); err != nil || on {
		return orSwarm(err, func() error { return runSwarmLogs(ctx, f, st, opts) })
	}
	if _, err := st.ResolveServices(opts.Services); err != nil {
		return err
	}
	warn := func(msg string) {
		fmt.Fprintf(f.IO.ErrOut, "%s %s\n", f.IO.ErrColorScheme().WarningIcon(), msg)
	}
	if opts.Summary {
		return runLogSummary(ctx, f, st, lo, opts, warn)
	}
	w := bufio.NewWriterSize(f.IO.Out, 64<<10)
	p := newLogPrinter(f, st, opts, w)
	if lo.Grep != nil && p.cs.Enabled() {
		p.grep = lo.Grep
	}
	lo.Containers = p.containers
	lo.Warn = func(msg string) {
		_ = p.flush() // the lines before it first
		warn(msg)
	}
	err = logs.Read(ctx, st, lo, p.print)
	if opts.Follow {
		err = followAcrossDrops(ctx, f, st, lo, p, err)
	}
	if ferr := p.flush(); err == nil {
		err = ferr
	}
	if err == nil && !opts.Follow && p.printed == 0 && p.found > 0 {
		if what := filterWords(opts); what != "" {
			// A search that found nothing says so; its exit status stays 0.
			fmt.Fprintf(f.IO.ErrOut, "%s no line of %s matched %s\n", f.IO.ErrColorScheme().WarningIcon(), strings.Join(p.services, ", "), what)
		}
	}
	if err != nil && ctx.Err() != nil {
		err = context.Cause(ctx)
		if opts.Follow && errors.Is(err, stackops.ErrInterrupted) {
			// Ctrl-C is how following ends: no error message, exit 130.
			return silentExit(ExitCancelled)
		}
	}
	return err
}

// logPrinter writes lines as text (prefixed, colored on a terminal) or NDJSON.
type logPrinter struct {
	f          *Factory
	w          *bufio.Writer
	cs         *steps.ColorScheme
	json       *json.Encoder
	prefix     bool
	timestamps bool
	follow     bool
	grep       *regexp.Regexp
	color      map[string]int // service → palette index, stable for the stack
	width      int
	services   []string

	mu         sync.Mutex // the writer, between print and the follow flush timer
	flushTimer *time.Timer
	flushErr   error
	printed    int       // lines printed
	found      int       // containers read
	last       time.Time // the newest line's time (where following goes on after a reconnect)
}

func newLogPrinter(f *Factory, st *stackops.Stack, opts *logsOptions, w *bufio.Writer) *logPrinter {
	p := &logPrinter{f: f, w: w, cs: f.IO.ColorScheme(), prefix: !opts.NoPrefix, timestamps: opts.Timestamps, follow: opts.Follow, color: map[string]int{}}
	for i, name := range st.ServiceNames() {
		p.color[name] = i
	}
	p.services, _ = st.ResolveServices(opts.Services)
	for _, name := range p.services {
		p.width = max(p.width, len(name))
	}
	if opts.JSON {
		p.json = json.NewEncoder(w)
		p.json.SetEscapeHTML(false)
	}
	return p
}

// containers reports on stderr what is read: nothing at all, or, when
// following, each container picked up after the start.
func (p *logPrinter) containers(found []logs.Container, initial bool) {
	// Align the prefixes from the first line when a service has replicas.
	replicas := map[string]int{}
	for _, c := range found {
		replicas[c.Service]++
	}
	for _, c := range found {
		if replicas[c.Service] > 1 {
			p.width = max(p.width, len(fmt.Sprintf("%s #%d", c.Service, c.Replica)))
		}
	}
	p.found += len(found)
	cs := p.f.IO.ErrColorScheme()
	if initial && len(found) == 0 {
		msg := fmt.Sprintf("no containers for %s yet — start the stack: %s", strings.Join(p.services, ", "), p.f.hint("deploy"))
		if p.follow {
			msg += "; waiting for them to start (Ctrl-C to stop)"
		}
		fmt.Fprintf(p.f.IO.ErrOut, "%s %s\n", cs.WarningIcon(), msg)
		return
	}
	if initial {
		if p.follow {
			fmt.Fprintf(p.f.IO.ErrOut, "%s\n", cs.Gray(fmt.Sprintf("following %d container(s) of %s — Ctrl-C to stop", len(found), strings.Join(p.services, ", "))))
		}
		return
	}
	for _, c := range found {
		_ = p.flush()
		fmt.Fprintf(p.f.IO.ErrOut, "%s\n", cs.Gray(fmt.Sprintf("→ following new container %s (%s)", c.Name, c.Service)))
	}
}

func (p *logPrinter) print(l logs.Line) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.printed++
	if l.Time.After(p.last) {
		p.last = l.Time
	}
	if p.json != nil {
		if err := p.json.Encode(l); err != nil {
			return err
		}
	} else {
		if p.prefix {
			name := l.Service
			if l.Replicas > 1 {
				name = fmt.Sprintf("%s #%d", l.Service, l.Replica)
			}
			p.width = max(p.width, len(name))
			pad := strings.Repeat(" ", p.width-len(name))
			_, _ = p.w.WriteString(p.cs.Color(p.color[l.Service], name+pad+" |"))
			_ = p.w.WriteByte(' ')
		}
		if p.timestamps {
			_, _ = p.w.WriteString(p.cs.Gray(l.Time.Format("2006-01-02T15:04:05.000000000Z07:00")))
			_ = p.w.WriteByte(' ')
		}
		if p.grep != nil {
			_, _ = p.w.WriteString(highlight(p.cs, p.grep, l.Message))
		} else {
			_, _ = p.w.WriteString(l.Message)
		}
		if err := p.w.WriteByte('\n'); err != nil {
			return err
		}
	}
	if p.follow && p.flushTimer == nil {
		// Following: lines show within a moment, without a write per line
		// while a backlog pours out.
		p.flushTimer = time.AfterFunc(followFlushDelay, func() {
			p.mu.Lock()
			defer p.mu.Unlock()
			p.flushTimer = nil
			p.flushErr = p.w.Flush()
		})
	}
	return p.flushErr
}

// followFlushDelay is how long a followed line may wait in the buffer.
const followFlushDelay = 20 * time.Millisecond

// flush writes out what is buffered (after the last line).
func (p *logPrinter) flush() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.flushTimer != nil {
		p.flushTimer.Stop()
		p.flushTimer = nil
	}
	if err := p.w.Flush(); err != nil {
		return err
	}
	return p.flushErr
}

// filterWords names the line filters given, as flags ("--grep 'x' -i
// --level error"), or "" when there are none.
func filterWords(opts *logsOptions) string {
	var parts []string
	if opts.Grep != "" {
		parts = append(parts, "--grep "+quoteArg(opts.Grep))
		if opts.IgnoreCase {
			parts = append(parts, "-i")
		}
	}
	if opts.Level != "" {
		parts = append(parts, "--level "+opts.Level)
	}
	if len(parts) > 0 {
		if opts.Since != "" {
			parts = append(parts, "--since "+quoteArg(opts.Since))
		}
		if opts.Until != "" {
			parts = append(parts, "--until "+quoteArg(opts.Until))
		}
	}
	return strings.Join(parts, " ")
}

// highlight marks the pattern's matches in red.
func highlight(cs *steps.ColorScheme, re *regexp.Regexp, s string) string {
	idx := re.FindAllStringIndex(s, -1)
	if len(idx) == 0 {
		return s
	}
	var b strings.Builder
	prev := 0
	for _, m := range idx {
		if m[1] == m[0] {
			continue
		}
		b.WriteString(s[prev:m[0]])
		b.WriteString(cs.Red(s[m[0]:m[1]]))
		prev = m[1]
	}
	b.WriteString(s[prev:])
	return b.String()
}

func runLogSummary(ctx context.Context, f *Factory, st *stackops.Stack, lo logs.Options, opts *logsOptions, warn func(string)) error {
	stop := func() {}
	if !opts.JSON {
		stop = steps.Spin(f.IO, "Reading the logs…")
	}
	// Warnings wait until the spinner is gone.
	var warnings []string
	lo.Warn = func(msg string) { warnings = append(warnings, msg) }
	sum, err := logs.Summarize(ctx, st, lo)
	stop()
	for _, w := range warnings {
		warn(w)
	}
	if err != nil {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return err
	}
	if opts.JSON {
		enc := json.NewEncoder(f.IO.Out)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(sum); err != nil {
			return err
		}
	} else {
		printLogSummary(f.IO.Out, f.IO.ColorScheme(), sum)
	}
	none := []string{}
	var lines int64
	read := 0
	for _, s := range sum.Services {
		if s.Containers == 0 && len(s.Replaced) == 0 {
			none = append(none, s.Service)
		}
		lines += s.Lines
		read += s.Containers + len(s.Replaced)
	}
	cs := f.IO.ErrColorScheme()
	if len(none) > 0 && !opts.JSON {
		fmt.Fprintf(f.IO.ErrOut, "%s no containers for %s — nothing to read yet\n", cs.WarningIcon(), strings.Join(none, ", "))
	}
	if what := filterWords(opts); what != "" && lines == 0 && read > 0 {
		// A search that found nothing says so; its exit status stays 0.
		fmt.Fprintf(f.IO.ErrOut, "%s no line matched %s: every count above is of no lines\n", cs.WarningIcon(), what)
	}
	return nil
}

func printLogSummary(w io.Writer, cs *steps.ColorScheme, sum *logs.Summary) {
	t := steps.NewTable(cs, "SERVICE", "LINES", "ERROR", "WARN", "INFO", "DEBUG", "OTHER", "RESTARTS", "FIRST ERROR", "LAST ERROR")
	count := func(n int64, paint func(string) string) string {
		if n == 0 {
			return cs.Gray("0")
		}
		return paint(strconv.FormatInt(n, 10))
	}
	plain := func(s string) string { return s }
	for _, s := range sum.Services {
		first, last := cs.Gray("-"), cs.Gray("-")
		if s.FirstError != nil {
			first = s.FirstError.Time.Local().Format("2006-01-02 15:04:05")
		}
		if s.LastError != nil {
			last = s.LastError.Time.Local().Format("2006-01-02 15:04:05")
		}
		restarts := count(int64(s.Restarts), cs.Yellow)
		t.AddRow(s.Service, strconv.FormatInt(s.Lines, 10), count(s.Levels.Error, cs.Red), count(s.Levels.Warn, cs.Yellow),
			count(s.Levels.Info, plain), count(s.Levels.Debug, plain), count(s.Levels.Other, plain), restarts, first, last)
	}
	_ = t.Render(w)
	for _, s := range sum.Services {
		for _, r := range s.Replaced {
			// Its log went with it; the counts above include the end of it
			// that stackpilot kept when it replaced it.
			kept := "its last lines, kept by stackpilot, are counted above"
			if r.Truncated {
				kept = "its last " + strconv.Itoa(logsKeptLines) + " lines, kept by stackpilot, are counted above"
			}
			fmt.Fprintf(w, "%s %s\n", cs.Gray(s.Service+":"), fmt.Sprintf("replaced container %s (%s at %s): %d restarts, %s when replaced — %s",
				r.Container, r.By, r.RemovedAt.Local().Format("2006-01-02 15:04:05"), r.Restarts, replacedState(r), kept))
		}
	}
	for _, s := range sum.Services {
		if s.Levels.Error == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s\n", cs.Bold(fmt.Sprintf("%s — %d error line(s)", s.Service, s.Levels.Error)))
		if s.Levels.Error == 1 && s.FirstError != nil {
			fmt.Fprintf(w, "  at    %s  %s\n", cs.Gray(s.FirstError.Time.Local().Format("2006-01-02 15:04:05")), oneLine(s.FirstError.Message, 160))
			continue
		}
		if s.FirstError != nil {
			fmt.Fprintf(w, "  first %s  %s\n", cs.Gray(s.FirstError.Time.Local().Format("2006-01-02 15:04:05")), oneLine(s.FirstError.Message, 160))
		}
		if s.LastError != nil {
			fmt.Fprintf(w, "  last  %s  %s\n", cs.Gray(s.LastError.Time.Local().Format("2006-01-02 15:04:05")), oneLine(s.LastError.Message, 160))
		}
		if len(s.TopErrors) > 0 {
			fmt.Fprintf(w, "  most repeated:\n")
			width := 0
			for _, g := range s.TopErrors {
				width = max(width, len(strconv.FormatInt(g.Count, 10)))
			}
			for _, g := range s.TopErrors {
				fmt.Fprintf(w, "  %*d×  %s\n", width, g.Count, oneLine(g.Message, 160))
			}
		}
	}
}

// logsKeptLines is how many of a replaced container's last lines are kept.
const logsKeptLines = logs.KeptLines

// replacedState says how a replaced container stood when it was replaced.
func replacedState(r logs.ReplacedContainer) string {
	switch r.State {
	case "exited", "dead":
		return fmt.Sprintf("exited with status %d", r.ExitCode)
	case "restarting":
		return fmt.Sprintf("restarting after exit status %d", r.ExitCode)
	}
	return r.State
}

// oneLine keeps a message on one line of at most n runes.
func oneLine(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == '\t' {
			return ' '
		}
		if r < 0x20 {
			return -1
		}
		return r
	}, s)
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// Choices of the Logs menu.
const (
	logsFollow  = "Follow — live lines, Ctrl-C to stop"
	logsLast    = "Last lines"
	logsSummary = "Summary — lines by level, restarts, most repeated errors"
	logsSearch  = "Search — lines matching a pattern"
)

// menuFollowTail is how much history the menu's Follow shows first.
const menuFollowTail = 10

// logsMenu is the menu's Logs job: which services, then follow, last lines,
// summary or search; it runs the same runLogs as the command and shows the
// equivalent command.
func logsMenu(ctx context.Context, f *Factory) error {
	if !f.CanPrompt() {
		return missingInput("what to show", "stackpilot logs [SERVICE…] with its flags")
	}
	st, err := f.Stack(ctx)
	if err != nil {
		return err
	}
	choices, err := serviceChoices(ctx, st)
	if err != nil {
		return err
	}
	services, err := steps.SelectServices(f.Prompter, "see the logs of", choices)
	if err != nil {
		return err
	}
	actions := []string{logsFollow, logsLast, logsSummary, logsSearch}
	idx, err := f.Prompter.Select("What do you want to see?", actions, "")
	if err != nil {
		return err
	}
	opts := &logsOptions{Services: services, Tail: "all"}
	args := []string{"logs"}
	switch actions[idx] {
	case logsFollow:
		opts.Follow, opts.Tail = true, strconv.Itoa(menuFollowTail)
		args = append(args, "-f", "--tail", opts.Tail)
	case logsLast:
		n, err := askNumber(f, "How many lines per container?", "100")
		if err != nil {
			return err
		}
		opts.Tail = strconv.Itoa(n)
		args = append(args, "--tail", opts.Tail)
	case logsSummary:
		opts.Summary = true
		args = append(args, "--summary")
	case logsSearch:
		pattern, err := askPattern(f)
		if err != nil {
			return err
		}
		// A newcomer searching for "error" means ERROR and Error too.
		opts.Grep, opts.IgnoreCase = pattern, true
		args = append(args, "--grep", quoteArg(pattern), "-i")
	}
	args = append(args, services...)
	err = runLogs(ctx, f, opts)
	if opts.Follow && ExitCode(err) == ExitCancelled && errors.Is(context.Cause(ctx), stackops.ErrInterrupted) {
		// Ctrl-C ended the following, as it should: show the command, and
		// let the menu say it is back.
		f.Equivalent(args...)
		return stackops.ErrInterrupted
	}
	if err == nil {
		f.Equivalent(args...)
	}
	return err
}

func dedupe(in []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func askNumber(f *Factory, question, def string) (int, error) {
	for {
		s, err := f.Prompter.Input(question, def)
		if err != nil {
			return 0, err
		}
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err == nil && n > 0 {
			return n, nil
		}
		fmt.Fprintf(f.IO.ErrOut, "%s %q is not a positive number\n", f.IO.ErrColorScheme().WarningIcon(), s)
	}
}

func askPattern(f *Factory) (string, error) {
	for {
		s, err := f.Prompter.Input("Search for (a regular expression; upper and lower case match alike):", "")
		if err != nil {
			return "", err
		}
		if strings.TrimSpace(s) == "" {
			fmt.Fprintf(f.IO.ErrOut, "%s type something to search for\n", f.IO.ErrColorScheme().WarningIcon())
			continue
		}
		if _, err := regexp.Compile(s); err != nil {
			fmt.Fprintf(f.IO.ErrOut, "%s not a valid pattern: %v\n", f.IO.ErrColorScheme().WarningIcon(), err)
			continue
		}
		return s, nil
	}
}
