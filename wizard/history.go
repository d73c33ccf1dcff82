package wizard

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/steps"
)

type historyOptions struct {
	Limit int
	JSON  bool
}

func newHistoryCmd(f *Factory) *cobra.Command {
	opts := &historyOptions{}
	cmd := &cobra.Command{
		Use:   "history",
		Short: "List past deploys and rollbacks: when, who, what changed, how it ended",
		Long: `List the deploys and rollbacks recorded in .stackpilot/history.jsonl, newest
first: the time, who ran it, the services, which images changed, the result
(success, failed, cancelled) and how long it took.

--json prints the records as a JSON array with the image IDs before and after
for every service.`,
		Example: `  stackpilot history
  stackpilot history -n 5
  stackpilot history --json | jq '.[0].images_before'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Limit < 0 {
				return usageErr("--limit must be 0 (all) or more")
			}
			return runHistory(cmd.Context(), f, opts)
		},
	}
	cmd.Flags().IntVarP(&opts.Limit, "limit", "n", 20, "show the newest N records (0 for all)")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the records as a JSON array")
	return cmd
}

// runHistory is the History job, for the menu and the command.
func runHistory(ctx context.Context, f *Factory, opts *historyOptions) error {
	st, err := f.Stack(ctx)
	if err != nil {
		return err
	}
	res, err := st.History(ctx, stackops.HistoryOptions{Limit: opts.Limit})
	if err != nil {
		return err
	}
	cs := f.IO.ErrColorScheme()
	if res.Skipped > 0 {
		fmt.Fprintf(f.IO.ErrOut, "%s %d damaged line(s) in %s were skipped\n", cs.WarningIcon(), res.Skipped, res.Path)
	}
	if opts.JSON {
		return writeJSON(f.IO.Out, res.Records)
	}
	if len(res.Records) == 0 {
		fmt.Fprintf(f.IO.ErrOut, "no deploys recorded yet for %s — they are recorded by stackpilot deploy\n", st.Name)
		return nil
	}
	printHistory(f.IO.Out, f.IO.ColorScheme(), res.Records, time.Now())
	return nil
}

func printHistory(w io.Writer, cs *steps.ColorScheme, recs []stackops.HistoryRecord, now time.Time) {
	t := steps.NewTable(cs, "ID", "WHEN", "OP", "BY", "SERVICES", "RESULT", "TOOK", "IMAGES CHANGED")
	for _, r := range recs {
		services := strings.Join(r.Services, " ")
		if services == "" {
			services = cs.Gray("-")
		}
		result := r.Result
		switch r.Result {
		case stackops.ResultSuccess:
			result = cs.Green(result)
		case stackops.ResultFailed:
			result = cs.Red(result)
		case stackops.ResultCancelled:
			result = cs.Yellow(result)
		}
		var changed []string
		for _, svc := range r.Changed() {
			before := shortImageID(r.ImagesBefore[svc])
			if before == "" {
				before = "new "
			}
			changed = append(changed, fmt.Sprintf("%s %s→%s", svc, before, shortImageID(r.ImagesAfter[svc])))
		}
		ch := strings.Join(changed, ", ")
		if ch == "" {
			ch = cs.Gray("none")
		}
		when := r.Time.Local().Format("Jan 02 15:04")
		if ago := now.Sub(r.Time); ago < time.Hour && ago >= 0 {
			when += cs.Gray(" (" + humanDuration(ago) + " ago)")
		}
		t.AddRow(r.ID, when, r.Op, r.User+"@"+r.Host, services, result,
			(time.Duration(r.DurationMS) * time.Millisecond).Round(100*time.Millisecond).String(), ch)
	}
	_ = t.Render(w)
	// Why the newest one did not succeed, when it did not.
	if r := recs[0]; r.Result != stackops.ResultSuccess && r.Error != "" {
		fmt.Fprintf(w, "%s %s %s: %s\n", cs.Gray("last:"), r.ID, r.Result, firstLineOf(r.Error))
	}
}

// shortImageID is an image ID cut to 8 hex digits: enough to tell images
// apart in the history table, short enough to keep it on one line.
// A Swarm deploy records references (REGISTRY/NAME:TAG): its last part.
func shortImageID(id string) string {
	if !strings.HasPrefix(id, "sha256:") && strings.ContainsAny(id, ":/") {
		return id[strings.LastIndex(id, "/")+1:]
	}
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

func firstLineOf(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
