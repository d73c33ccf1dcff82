package wizard

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/stackops/env"
	"github.com/stackpilot/stackpilot/stackops/envfile"
	"github.com/stackpilot/stackpilot/steps"
)

func newEnvCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "env",
		Short: "Read and edit .env without losing a comment, a byte or an update; secrets masked",
		Long: `Read the env files Compose reads and edit the one whose values win: the last
--env-file (or COMPOSE_ENV_FILES entry), else the .env beside where Compose
stands, else the project directory's .env.

Values mean what Compose reads: quotes, escapes and ${VAR} expansion follow
Compose's own parser. Edits rewrite only the lines of the keys they touch —
comments, blank lines, order, quoting, export prefixes, CRLF line endings and
a missing final newline stay as they were — and pick the quoting that makes
Compose read back exactly the value given. Each write is atomic and durable,
locked against concurrent edits, aborted if another program changed the file
meanwhile, and keeps the previous version for env undo.

Values of secret-looking keys (PASSWORD, SECRET, TOKEN, KEY, PRIVATE,
CREDENTIAL …, configurable in x-stackpilot.env) are masked unless --reveal.

` + envCryptHelp + `

Run "stackpilot env" in a terminal for the guided editor.`,
		Example: `  stackpilot env list
  stackpilot env get DB_HOST
  stackpilot env set DB_HOST=db.internal LOG_LEVEL=debug
  printf %s "$TOKEN" | stackpilot env set API_TOKEN --value-stdin
  stackpilot env unset OLD_FLAG
  stackpilot env check
  stackpilot env undo
  stackpilot env keygen && stackpilot env set --encrypt DB_PASSWORD
  stackpilot env get DB_PASSWORD --reveal`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !f.CanPrompt() {
				return usageErr("the guided editor needs a terminal — pass a subcommand: list, get, set, unset, check, undo, keygen, recipients, encrypt, decrypt or rotate (see stackpilot env --help)")
			}
			return runEnvWizard(cmd.Context(), f)
		},
	}
	cmd.AddCommand(newEnvListCmd(f), newEnvGetCmd(f), newEnvSetCmd(f), newEnvUnsetCmd(f), newEnvCheckCmd(f), newEnvUndoCmd(f),
		newEnvKeygenCmd(f), newEnvRecipientsCmd(f), newEnvEncryptCmd(f, false), newEnvEncryptCmd(f, true), newEnvRotateCmd(f))
	return cmd
}

// envStack finds the stack for an env command with a lenient load: the
// project directory, env file and x-stackpilot settings, without loading
// the compose model. Env commands edit a file: they must work when .env or
// an unset required variable keeps Compose from loading the project — the
// very thing the user may be here to fix — and must start fast.
func envStack(ctx context.Context, f *Factory) (*stackops.Stack, error) {
	lo := f.loadOptions()
	lo.Lenient = true
	st, err := stackops.Load(ctx, lo)
	f.locate(st)
	return st, err
}

// completeEnvKeys completes the keys of .env.
func completeEnvKeys(f *Factory) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		f.applyGlobal()
		ctx := cmd.Context()
		if ctx == nil {
			ctx = context.Background()
		}
		st, err := envStack(ctx, f)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		res, err := env.List(ctx, st, env.ListOptions{})
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []string
		for _, e := range res.Entries {
			if strings.HasPrefix(e.Key, toComplete) {
				out = append(out, e.Key)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// ---- list ----

type envListOptions struct {
	Reveal bool
	JSON   bool
}

func newEnvListCmd(f *Factory) *cobra.Command {
	opts := &envListOptions{}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the keys of .env in file order, secret values masked",
		Example: `  stackpilot env list
  stackpilot env list --reveal
  stackpilot env list --json | jq -r '.entries[] | select(.value == "") | .key'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runEnvList(cmd.Context(), f, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Reveal, "reveal", false, "show the values of secret-looking keys, encrypted ones decrypted")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print {path, exists, revision, entries: [{key, value, masked, secret, encrypted, line, …}]}")
	return cmd
}

func runEnvList(ctx context.Context, f *Factory, opts *envListOptions) error {
	st, err := envStack(ctx, f)
	if err != nil {
		return err
	}
	res, err := env.List(ctx, st, env.ListOptions{Reveal: opts.Reveal})
	if err != nil {
		return err
	}
	if opts.JSON {
		return writeJSON(f.IO.Out, res)
	}
	ecs := f.IO.ErrColorScheme()
	if res.Path == "" {
		fmt.Fprintf(f.IO.ErrOut, "%s COMPOSE_DISABLE_ENV_FILE is set: Compose reads no .env (unset it, or name one with --env-file)\n", ecs.WarningIcon())
		return nil
	}
	if !res.Exists && len(res.Entries) == 0 {
		fmt.Fprintf(f.IO.ErrOut, "%s no .env at %s yet — create it with: %s\n", ecs.WarningIcon(), res.Path, f.hint("env", "set", "KEY=VALUE"))
		return nil
	}
	printEnvTable(f, res)
	masked := 0
	for _, e := range res.Entries {
		if e.Masked {
			masked++
		}
	}
	summary := fmt.Sprintf("%s · %d keys", res.Path, len(res.Entries))
	if len(res.Files) > 1 {
		summary = fmt.Sprintf("%s · %d keys · Compose reads them in this order; env set and unset edit %s, whose values win", strings.Join(res.Files, ", "), len(res.Entries), res.Path)
	}
	if masked > 0 {
		summary += fmt.Sprintf(" · %d secret values masked (--reveal to show)", masked)
	}
	fmt.Fprintln(f.IO.ErrOut, ecs.Gray(summary))
	for _, w := range res.Warnings {
		fmt.Fprintf(f.IO.ErrOut, "%s %s\n", ecs.WarningIcon(), w)
	}
	return nil
}

func printEnvTable(f *Factory, res *env.ListResult) {
	cs := f.IO.ColorScheme()
	several := len(res.Files) > 1
	cols := []string{"KEY", "VALUE"}
	if several {
		cols = append(cols, "FILE")
	}
	t := steps.NewTable(cs, cols...)
	for _, e := range res.Entries {
		v := steps.EnvValueForDisplay(cs, e.Value, e.Masked, 0)
		if e.Encrypted {
			v += cs.Gray("  (encrypted)")
		}
		switch {
		case e.Unset:
			v = cs.Gray("(from the environment: not set)")
		case e.Inherited:
			v += cs.Gray("  (from the environment)")
		case e.OverriddenByEnvironment:
			v += cs.Yellow("  (overridden by the environment)")
		case e.OverriddenBy != "":
			v += cs.Yellow("  (overridden by " + e.OverriddenBy + ")")
		}
		row := []string{e.Key, v}
		if several {
			row = append(row, e.File)
		}
		t.AddRow(row...)
	}
	_ = t.Render(f.IO.Out)
}

// ---- get ----

type envGetOptions struct {
	Key    string
	Raw    bool
	Reveal bool
}

func newEnvGetCmd(f *Factory) *cobra.Command {
	opts := &envGetOptions{}
	cmd := &cobra.Command{
		Use:   "get KEY",
		Short: "Print one value as Compose reads it (--raw: as written)",
		Long: `Print the value of KEY as Compose reads it: quotes removed, escapes and
${VAR} references expanded. --raw prints the literal text from the file.
The value is printed even for a secret-looking key: asking for it by name
is the point. An encrypted value is decrypted only with --reveal.`,
		Example: `  stackpilot env get DB_HOST
  DB_URL=$(stackpilot env get DB_URL)
  stackpilot env get GREETING --raw`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: completeEnvKeys(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Key = args[0]
			}
			return runEnvGet(cmd.Context(), f, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Raw, "raw", false, "print the value's literal text from the file (quotes included)")
	cmd.Flags().BoolVar(&opts.Reveal, "reveal", false, "decrypt an encrypted value (without it, an encrypted key is an error, never its plain text)")
	return cmd
}

func runEnvGet(ctx context.Context, f *Factory, opts *envGetOptions) error {
	st, err := envStack(ctx, f)
	if err != nil {
		return err
	}
	asked := false
	if opts.Key == "" {
		if !f.CanPrompt() {
			return missingInput("the key to read", "KEY")
		}
		key, _, err := pickEnvKey(ctx, f, st, "Which key?", false)
		if err != nil {
			return err
		}
		opts.Key, asked = key, true
	}
	res, err := env.Get(ctx, st, env.GetOptions{Key: opts.Key, Raw: opts.Raw, Reveal: opts.Reveal && !opts.Raw})
	if err != nil {
		return err
	}
	if (res.Encrypted || res.FromEncrypted) && !opts.Reveal && !opts.Raw {
		return envGetEncrypted(res.Key, res.FromEncrypted)
	}
	fmt.Fprintln(f.IO.Out, res.Value)
	ecs := f.IO.ErrColorScheme()
	if res.OverriddenByEnvironment {
		fmt.Fprintf(f.IO.ErrOut, "%s %s is also set in your environment; Compose interpolates ${%s} with that value, not this one\n", ecs.WarningIcon(), res.Key, res.Key)
	}
	if len(res.Unresolved) > 0 {
		fmt.Fprintf(f.IO.ErrOut, "%s %s refers to %s, set nowhere (Compose uses an empty string)\n", ecs.WarningIcon(), res.Key, strings.Join(res.Unresolved, ", "))
	}
	if asked {
		args := []string{"env", "get", opts.Key}
		if opts.Raw {
			args = append(args, "--raw")
		}
		if opts.Reveal {
			args = append(args, "--reveal")
		}
		f.Equivalent(args...)
	}
	return nil
}

// pickEnvKey asks which key to act on; allowNew adds an "Add a new key" choice.
func pickEnvKey(ctx context.Context, f *Factory, st *stackops.Stack, question string, allowNew bool) (key string, isNew bool, err error) {
	res, err := env.List(ctx, st, env.ListOptions{})
	if err != nil {
		return "", false, err
	}
	labels, keys := envKeyLabels(f, res)
	if allowNew {
		labels = append(labels, addKeyLabel)
	}
	if len(labels) == 0 {
		return "", false, fmt.Errorf("%s has no keys yet", res.Path)
	}
	idx, err := f.Prompter.Select(question, labels, "")
	if err != nil {
		return "", false, err
	}
	if idx >= len(keys) {
		k, err := steps.AskNewEnvKey(f.IO, f.Prompter)
		return k, true, err
	}
	return keys[idx], false, nil
}

const addKeyLabel = "+ Add a new key…"

// envKeyLabels are the select options for keys: the name padded, then the
// value (masked when secret), so the list reads as a table.
func envKeyLabels(f *Factory, res *env.ListResult) ([]string, []string) {
	plain := steps.NewColorScheme(false)
	w := 0
	for _, e := range res.Entries {
		if len(e.Key) > w {
			w = len(e.Key)
		}
	}
	var labels, keys []string
	for _, e := range res.Entries {
		if e.Key == "" || e.OverriddenBy != "" {
			continue // a key another env file sets wins there: listed once, with the value Compose uses
		}
		labels = append(labels, fmt.Sprintf("%-*s  %s", w, e.Key, steps.EnvValueForDisplay(plain, e.Value, e.Masked, 40)))
		keys = append(keys, e.Key)
	}
	return labels, keys
}

// ---- set ----

type envSetOptions struct {
	Args       []string
	ValueStdin bool
	DryRun     bool
	// Encrypt stores the value encrypted to .env's recipients; it is then
	// taken from a hidden prompt or --value-stdin, never from argv.
	Encrypt bool
	// asked is set when a prompt filled an input: the flow then shows the
	// diff and confirms before writing.
	asked bool
	// menu is set by the Environment menu job: after the write it offers
	// to redeploy the services that use the key.
	menu bool
}

func newEnvSetCmd(f *Factory) *cobra.Command {
	opts := &envSetOptions{}
	cmd := &cobra.Command{
		Use:   "set KEY=VALUE... | KEY --value-stdin",
		Short: "Set keys in .env, touching only their lines",
		Long: `Set one or more keys. An existing key is rewritten in place (its last
definition, keeping indentation, export, its comment and line ending); a new
key is appended. The value is quoted so that Compose reads back exactly what
was given — $, #, quotes, backslashes, spaces, newlines included.

--value-stdin reads the value of a single KEY from stdin (one trailing
newline removed), so a secret never appears in argv or shell history. In a
terminal, a KEY without a value is asked for (hidden for secret-looking
keys).

--encrypt stores the value encrypted to the recipients of .env (see env
keygen): it is asked hidden in a terminal, or read with --value-stdin —
never taken from argv.`,
		Example: `  stackpilot env set DB_HOST=db.internal
  stackpilot env set LOG_LEVEL=debug WORKERS=4
  stackpilot env set 'GREETING=hello $USER'     # stored literally: Compose will not expand it
  printf %s "$TOKEN" | stackpilot env set API_TOKEN --value-stdin
  stackpilot env set PORT=8081 --dry-run
  stackpilot env set --encrypt DB_PASSWORD
  printf %s "$PW" | stackpilot env set --encrypt DB_PASSWORD --value-stdin`,
		ValidArgsFunction: completeEnvKeys(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Args = args
			return runEnvSet(cmd.Context(), f, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.ValueStdin, "value-stdin", false, "read the value of the one KEY given from stdin")
	cmd.Flags().BoolVar(&opts.Encrypt, "encrypt", false, "store the value encrypted to the recipients of .env (asked hidden, or --value-stdin)")
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "show the change without writing it")
	return cmd
}

func runEnvSet(ctx context.Context, f *Factory, opts *envSetOptions) error {
	var pairs []env.Assignment
	var need []string
	for _, a := range opts.Args {
		k, v, ok := strings.Cut(a, "=")
		if err := envfile.ValidKey(k); err != nil {
			return &exitError{code: ExitUsage, err: err}
		}
		switch {
		case ok && opts.Encrypt:
			return usageErr("--encrypt never takes the value from the command line (argv and shell history keep it) — pass %s alone and type it at the hidden prompt, or pipe it with --value-stdin", k)
		case ok:
			pairs = append(pairs, env.Assignment{Key: k, Value: v})
		default:
			need = append(need, k)
		}
	}
	if opts.ValueStdin && (len(need) != 1 || len(pairs) > 0) {
		return usageErr("--value-stdin reads the value of exactly one KEY, given without =VALUE")
	}
	st, err := envStack(ctx, f)
	if err != nil {
		return err
	}
	cfg, err := env.ConfigOf(st)
	if err != nil {
		return err
	}
	if len(pairs) == 0 && len(need) == 0 {
		if !f.CanPrompt() {
			return missingInput("the key to set", "KEY=VALUE")
		}
		k, _, err := pickEnvKey(ctx, f, st, "Which key do you want to set?", true)
		if err != nil {
			return err
		}
		need, opts.asked = []string{k}, true
	}
	if opts.Encrypt && len(need) > 0 && !opts.ValueStdin {
		if err := ensureRecipient(ctx, f, st, true); err != nil {
			return err
		}
	}
	hidden := map[string]bool{} // asked without echo: never shown again
	for _, k := range need {
		var v string
		switch {
		case opts.ValueStdin && !(f.IO.IsStdinTTY() && f.CanPrompt()):
			b, err := io.ReadAll(f.IO.In)
			if err != nil {
				return fmt.Errorf("read the value from stdin: %w", err)
			}
			v = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		case f.CanPrompt():
			current, secret := "", cfg.IsSecret(k) || opts.Encrypt
			if !secret {
				if g, err := env.Get(ctx, st, env.GetOptions{Key: k}); err == nil {
					// A value built from a secret (${DB_PASSWORD}) or holding a
					// URL's credentials is one too, as env list masks it: asked
					// hidden, never offered as the default.
					if _, creds := envfile.MaskURLCredentials(g.Value); g.Secret || creds {
						secret = true
					} else {
						current = g.Value
					}
				}
			}
			v, err = steps.AskEnvValue(f.IO, f.Prompter, k, secret, current)
			if err != nil {
				return err
			}
			if secret {
				hidden[k] = true
			}
			opts.asked = true
		case opts.Encrypt:
			return missingInput("a value for "+k, "--value-stdin")
		default:
			return missingInput("a value for "+k, k+"=VALUE or --value-stdin")
		}
		pairs = append(pairs, env.Assignment{Key: k, Value: v})
	}

	question, def := "Write this change?", true
	// An encrypted value is never checked against the compose file's field
	// kinds: the warning would quote it.
	if !opts.Encrypt && warnValueKinds(ctx, f, st, pairs) {
		// In the menu the default turns to no; a command warns and writes,
		// as it was told to (a script may set the key before the compose
		// file that gives it a new meaning).
		question, def = "Write it anyway? Compose will refuse the project until the value fits", false
	}
	renderDiff := func(plan *env.ChangeResult) {
		steps.RenderEnvDiff(f.IO.ErrOut, f.IO.ErrColorScheme(), plan.Path, plan.Diff)
	}
	res, err := applyEnvEdit(f, envEdit{
		Ask: opts.asked, DryRun: opts.DryRun,
		Question: question, Default: def,
		Run: func(dry bool, ifMatch string) (*env.ChangeResult, error) {
			o := env.SetOptions{Values: pairs, DryRun: dry, IfMatch: ifMatch}
			if opts.Encrypt {
				return env.SetEncrypted(ctx, st, o)
			}
			return env.Set(ctx, st, o)
		},
		Show:    renderDiff,
		ShowDry: func(plan *env.ChangeResult) { reportEnvChange(f, plan) },
	})
	if err != nil || res == nil {
		return err
	}
	reportEnvChange(f, res)
	if opts.asked {
		eq := envSetEquivalent(cfg, pairs, hidden)
		if opts.Encrypt {
			eq = append([]string{"env", "set", "--encrypt"}, eq[2:]...)
		}
		f.Equivalent(eq...)
	}
	if res.Changed {
		return suggestRedeploy(ctx, f, st, res, opts.menu)
	}
	return nil
}

// warnValueKinds warns on stderr, before a write, about each value the
// compose file cannot take where it uses the key (a port, a number, a
// duration, a boolean, a size). It reports whether it warned.
func warnValueKinds(ctx context.Context, f *Factory, st *stackops.Stack, pairs []env.Assignment) bool {
	probs, err := env.CheckValues(ctx, st, pairs)
	if err != nil || len(probs) == 0 {
		return false
	}
	cs := f.IO.ErrColorScheme()
	for _, p := range probs {
		fmt.Fprintf(f.IO.ErrOut, "%s %s: %s — Compose will refuse to load the project with it\n", cs.WarningIcon(), p, p.Where())
	}
	return true
}

// envSetEquivalent is the flag form of a set: KEY=VALUE for plain values,
// KEY --value-stdin for a secret (never echoed: a secret-looking key, or one
// asked hidden) or a multi-line value.
func envSetEquivalent(cfg env.Config, pairs []env.Assignment, hidden map[string]bool) []string {
	args := []string{"env", "set"}
	for _, p := range pairs {
		if cfg.IsSecret(p.Key) || hidden[p.Key] || strings.ContainsAny(p.Value, "\r\n") {
			return append(args, p.Key, "--value-stdin")
		}
		args = append(args, quoteArg(p.Key+"="+p.Value))
	}
	return args
}

// reportEnvChange says on stderr what an edit did, one line per key.
func reportEnvChange(f *Factory, res *env.ChangeResult) {
	cs := f.IO.ErrColorScheme()
	if res.DryRun {
		steps.RenderEnvDiff(f.IO.ErrOut, cs, res.Path, res.Diff)
	}
	verb := map[string]string{"added": "added", "updated": "updated", "removed": "removed", "unchanged": "unchanged", "absent": "not set"}
	for _, c := range res.Changes {
		icon := cs.SuccessIcon()
		msg := fmt.Sprintf("%s %s", verb[c.Action], c.Key)
		switch c.Action {
		case "unchanged":
			icon, msg = cs.Gray("="), fmt.Sprintf("%s already has that value", c.Key)
		case "absent":
			icon, msg = cs.Gray("-"), fmt.Sprintf("%s was not set; nothing to remove", c.Key)
		}
		if c.Line > 0 && c.Action != "unchanged" {
			msg += cs.Gray(fmt.Sprintf(" (line %d)", c.Line))
		}
		if res.DryRun && c.Action != "unchanged" && c.Action != "absent" {
			msg = "would be " + msg
		}
		fmt.Fprintf(f.IO.ErrOut, "%s %s\n", icon, msg)
	}
	switch {
	case res.DryRun && res.Changed:
		fmt.Fprintf(f.IO.ErrOut, "%s\n", cs.Gray("dry run: "+res.Path+" was not written"))
	case res.Changed && res.Created:
		fmt.Fprintf(f.IO.ErrOut, "%s\n", cs.Gray("created "+res.Path+" (mode 0600)"))
	case res.Changed:
		fmt.Fprintf(f.IO.ErrOut, "%s\n", cs.Gray("wrote "+res.Path+" · "+f.hint("env", "undo")+" restores the previous version"))
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(f.IO.ErrOut, "%s %s\n", cs.WarningIcon(), w)
	}
}

// suggestRedeploy names the services that use the changed keys, whose
// running containers still have the old values. From the menu (offer) it
// asks whether to redeploy them now and runs the deploy flow for them;
// elsewhere it prints the command — an env command changes .env, not the
// running stack.
func suggestRedeploy(ctx context.Context, f *Factory, st *stackops.Stack, res *env.ChangeResult, offer bool) error {
	var keys []string
	for _, c := range res.Changes {
		if c.Action == "added" || c.Action == "updated" || c.Action == "removed" {
			keys = append(keys, c.Key)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	users, err := env.KeyServices(ctx, st, keys)
	if err != nil {
		return nil
	}
	cs := f.IO.ErrColorScheme()
	all := map[string]bool{}
	var services []string
	for _, k := range keys {
		if len(users[k]) == 0 {
			continue
		}
		fmt.Fprintf(f.IO.ErrOut, "%s is used by %s\n", k, pluralServices(users[k]))
		for _, s := range users[k] {
			if !all[s] {
				all[s] = true
				services = append(services, s)
			}
		}
	}
	if len(services) == 0 {
		return nil
	}
	if offer && f.CanPrompt() {
		yes, err := f.Prompter.Confirm(fmt.Sprintf("Redeploy %s now, so the running containers get the new value?", strings.Join(services, ", ")), true)
		if err != nil {
			return err
		}
		if yes {
			// No rebuild or pull: only the environment changed.
			return runDeploy(ctx, f, &deployOptions{Services: services, NoBuild: true, wizard: true, planOnly: true, afterEdit: res})
		}
	}
	fmt.Fprintf(f.IO.ErrOut, "  running containers keep the old value until redeployed: %s\n", cs.Cyan(f.hint(append([]string{"deploy"}, quoteArgs(services...)...)...)))
	return nil
}

func pluralServices(s []string) string {
	if len(s) == 1 {
		return "service " + s[0]
	}
	return "services " + strings.Join(s, ", ")
}

// ---- unset ----

type envUnsetOptions struct {
	Keys   []string
	DryRun bool
	asked  bool
	menu   bool // see envSetOptions.menu
}

func newEnvUnsetCmd(f *Factory) *cobra.Command {
	opts := &envUnsetOptions{}
	cmd := &cobra.Command{
		Use:   "unset KEY...",
		Short: "Remove keys from .env (every definition), touching only their lines",
		Long: `Remove every definition of each KEY. A key that is not there is reported,
not an error, so a script can run the same unset twice.`,
		Example: `  stackpilot env unset OLD_FLAG
  stackpilot env unset A B C --dry-run`,
		ValidArgsFunction: completeEnvKeys(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Keys = args
			return runEnvUnset(cmd.Context(), f, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "show the change without writing it")
	return cmd
}

func runEnvUnset(ctx context.Context, f *Factory, opts *envUnsetOptions) error {
	for _, k := range opts.Keys {
		if err := envfile.ValidKey(k); err != nil {
			return &exitError{code: ExitUsage, err: err}
		}
	}
	st, err := envStack(ctx, f)
	if err != nil {
		return err
	}
	if len(opts.Keys) == 0 {
		if !f.CanPrompt() {
			return missingInput("the key to remove", "KEY")
		}
		k, _, err := pickEnvKey(ctx, f, st, "Which key do you want to remove?", false)
		if err != nil {
			return err
		}
		opts.Keys, opts.asked = []string{k}, true
	}
	res, err := applyEnvEdit(f, envEdit{
		Ask: opts.asked, DryRun: opts.DryRun,
		Question: fmt.Sprintf("Remove %s?", strings.Join(opts.Keys, ", ")), Default: false,
		Run: func(dry bool, ifMatch string) (*env.ChangeResult, error) {
			return env.Unset(ctx, st, env.UnsetOptions{Keys: opts.Keys, DryRun: dry, IfMatch: ifMatch})
		},
		Show: func(plan *env.ChangeResult) {
			steps.RenderEnvDiff(f.IO.ErrOut, f.IO.ErrColorScheme(), plan.Path, plan.Diff)
		},
		ShowDry: func(plan *env.ChangeResult) { reportEnvChange(f, plan) },
	})
	if err != nil || res == nil {
		return err
	}
	reportEnvChange(f, res)
	if opts.asked {
		f.Equivalent(append([]string{"env", "unset"}, opts.Keys...)...)
	}
	if res.Changed {
		return suggestRedeploy(ctx, f, st, res, opts.menu)
	}
	return nil
}

// ---- check ----

type envCheckOptions struct {
	Example string
	JSON    bool
}

func newEnvCheckCmd(f *Factory) *cobra.Command {
	opts := &envCheckOptions{}
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Compare .env with .env.example and the compose file: missing, empty, unused keys",
		Long: `Compare .env with .env.example (or --example FILE, or x-stackpilot.env.example)
and with the variables the compose file references. Reports:

  missing   required keys set nowhere: used by the compose file without a
            default (${VAR}, ${VAR:?}), or listed in the example
  empty     keys present with an empty value
  unused    keys neither referenced by the compose file nor in the example
            (none when a service loads the whole .env with env_file)

Exits 1 when a required key is missing.`,
		Example: `  stackpilot env check
  stackpilot env check --example deploy/prod.env.example
  stackpilot env check --json | jq '.missing[].key'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runEnvCheck(cmd.Context(), f, opts)
		},
	}
	cmd.Flags().StringVar(&opts.Example, "example", "", "the example file to compare with (default: .env.example in the project)")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the findings as JSON")
	return cmd
}

func runEnvCheck(ctx context.Context, f *Factory, opts *envCheckOptions) error {
	st, err := envStack(ctx, f)
	if err != nil {
		return err
	}
	example := opts.Example
	if example != "" && !filepath.IsAbs(example) {
		wd := f.WorkDir
		if wd == "" {
			wd = getwd()
		}
		example = filepath.Join(wd, example)
	}
	res, err := env.Check(ctx, st, env.CheckOptions{Example: example})
	if err != nil {
		return err
	}
	if opts.JSON {
		if err := writeJSON(f.IO.Out, res); err != nil {
			return err
		}
	} else {
		printEnvCheck(f, res)
	}
	if !res.OK {
		return silentExit(ExitFailure)
	}
	return nil
}

func printEnvCheck(f *Factory, res *env.CheckResult) {
	cs := f.IO.ColorScheme()
	w := f.IO.Out
	against := "the compose file"
	if res.Example != "" {
		against += " and " + res.Example
	}
	checked := res.Path
	switch {
	case res.Note != "":
		checked = "the environment"
		fmt.Fprintf(w, "%s\n", cs.Gray(res.Note))
	case len(res.Files) > 1:
		checked = strings.Join(res.Files, " and ")
	}
	fmt.Fprintf(w, "%s %s\n", cs.Bold("Checking "+checked), cs.Gray("against "+against))
	section := func(title string, icon string, items []env.CheckItem, detail func(env.CheckItem) string) {
		if len(items) == 0 {
			return
		}
		fmt.Fprintf(w, "%s %s\n", icon, cs.Bold(fmt.Sprintf("%s (%d)", title, len(items))))
		width := 0
		for _, it := range items {
			width = max(width, len(it.Key))
		}
		for _, it := range items {
			fmt.Fprintf(w, "    %-*s  %s\n", width, it.Key, detail(it))
		}
	}
	who := func(it env.CheckItem) string {
		var parts []string
		for _, s := range it.Sources {
			switch s {
			case "compose":
				p := "the compose file"
				if len(it.Services) > 0 {
					p += " (" + strings.Join(it.Services, ", ") + ")"
				}
				parts = append(parts, p)
			case "example":
				parts = append(parts, "the example")
			}
		}
		s := "needed by " + strings.Join(parts, " and ")
		if it.Note != "" {
			s += " — " + it.Note
		}
		return s
	}
	section("Missing", cs.FailureIcon(), res.Missing, who)
	section("Empty", cs.WarningIcon(), res.Empty, func(it env.CheckItem) string {
		return fmt.Sprintf("line %d", it.Line)
	})
	section("Unused", cs.WarningIcon(), res.Unused, func(it env.CheckItem) string {
		return fmt.Sprintf("line %d — %s", it.Line, it.Note)
	})
	section("Optional, not set", cs.Gray("-"), res.Optional, func(it env.CheckItem) string {
		if it.Default != "" {
			return fmt.Sprintf("%s: %s", it.Note, it.Default)
		}
		return it.Note
	})
	section("Set in the environment, not in .env", cs.Gray("-"), res.FromEnvironment, func(it env.CheckItem) string {
		return "Compose uses it, but a fresh shell or CI job will not have it"
	})
	if len(res.EnvFileServices) > 0 {
		fmt.Fprintf(w, "%s\n", cs.Gray(fmt.Sprintf("every key reaches %s through env_file, so none is unused", pluralServices(res.EnvFileServices))))
	}
	ecs := f.IO.ErrColorScheme()
	if res.OK {
		fmt.Fprintf(f.IO.ErrOut, "%s every required key is set\n", ecs.SuccessIcon())
		return
	}
	keys := make([]string, len(res.Missing))
	for i, m := range res.Missing {
		keys[i] = m.Key
	}
	fmt.Fprintf(f.IO.ErrOut, "%s %d required key(s) missing — set them with: %s\n", ecs.FailureIcon(), len(res.Missing), f.hint("env", "set", strings.Join(keys, "=… ")+"=…"))
}

// ---- undo ----

type envUndoOptions struct {
	DryRun bool
	// confirm shows the change and asks first (the guided editor).
	confirm bool
}

func newEnvUndoCmd(f *Factory) *cobra.Command {
	opts := &envUndoOptions{}
	cmd := &cobra.Command{
		Use:   "undo",
		Short: "Restore .env as it was before the last edit",
		Long: `Restore the version of .env kept before the last env set, env unset or
guided edit. Repeated undos walk back one edit at a time (the last 10 are
kept, under .stackpilot/). The content an undo replaces is kept too.`,
		Example: `  stackpilot env undo --dry-run
  stackpilot env undo`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runEnvUndo(cmd.Context(), f, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "show what undo would restore without writing")
	return cmd
}

func runEnvUndo(ctx context.Context, f *Factory, opts *envUndoOptions) error {
	st, err := envStack(ctx, f)
	if err != nil {
		return err
	}
	cs := f.IO.ErrColorScheme()
	plans := map[*env.ChangeResult]*env.UndoResult{}
	undo := func(dry bool, ifMatch string) (*env.ChangeResult, error) {
		r, err := env.Undo(ctx, st, env.UndoOptions{DryRun: dry, IfMatch: ifMatch})
		if err != nil {
			return nil, err
		}
		plans[&r.ChangeResult] = r
		return &r.ChangeResult, nil
	}
	written, err := applyEnvEdit(f, envEdit{
		Ask: opts.confirm, DryRun: opts.DryRun, AskUnchanged: true,
		Question: "Restore this version?", Default: false,
		Run:  undo,
		Show: func(plan *env.ChangeResult) { describeUndo(f, plans[plan]) },
		ShowDry: func(plan *env.ChangeResult) {
			describeUndo(f, plans[plan])
			fmt.Fprintf(f.IO.ErrOut, "%s\n", cs.Gray("dry run: "+plan.Path+" was not written"))
		},
	})
	if err != nil || written == nil {
		return err
	}
	res := plans[written]
	if !opts.confirm {
		describeUndo(f, res)
	}
	fmt.Fprintf(f.IO.ErrOut, "%s restored %s as it was before %q (%s)\n", cs.SuccessIcon(), res.Path, res.Restored.Op, res.Restored.Time.Format(time.DateTime))
	if res.Kept != "" {
		fmt.Fprintf(f.IO.ErrOut, "%s\n", cs.Gray("the replaced content is kept at "+res.Kept))
	}
	fmt.Fprintf(f.IO.ErrOut, "%s\n", cs.Gray(fmt.Sprintf("%d earlier version(s) left to undo", res.Remaining)))
	if opts.confirm {
		f.Equivalent("env", "undo")
	}
	return suggestRedeploy(ctx, f, st, &res.ChangeResult, opts.confirm)
}

func describeUndo(f *Factory, res *env.UndoResult) {
	cs := f.IO.ErrColorScheme()
	fmt.Fprintf(f.IO.ErrOut, "The last change: %s, %s\n", res.Restored.Op, res.Restored.Time.Format(time.DateTime))
	if res.Restored.Absent {
		fmt.Fprintf(f.IO.ErrOut, "%s\n", cs.Yellow("the file did not exist before it: undo removes "+res.Path))
	}
	steps.RenderEnvDiff(f.IO.ErrOut, cs, res.Path, res.Diff)
	if res.OtherLinesChanged {
		fmt.Fprintf(f.IO.ErrOut, "%s\n", cs.Gray("comments or blank lines differ too"))
	}
	if !res.Changed {
		fmt.Fprintf(f.IO.ErrOut, "%s\n", cs.Gray("the kept version is identical to the current file"))
	}
}

// ---- the guided editor ----

// runEnvWizard is the Environment menu job: the keys (masked), pick one or
// add one, then the same set/unset/check/undo flows the commands run.
func runEnvWizard(ctx context.Context, f *Factory) error {
	st, err := envStack(ctx, f)
	if err != nil {
		return err
	}
	res, err := env.List(ctx, st, env.ListOptions{})
	if err != nil {
		return err
	}
	cs := f.IO.ErrColorScheme()
	title := fmt.Sprintf("%s · %d keys", res.Path, len(res.Entries))
	if res.Path == "" {
		return fmt.Errorf("%w: COMPOSE_DISABLE_ENV_FILE is set, so Compose reads no .env — unset it, or name the file with --env-file", env.ErrNoEnvFile)
	}
	if !res.Exists {
		title = res.Path + " · does not exist yet (adding a key creates it, mode 0600)"
	}
	fmt.Fprintln(f.IO.ErrOut, cs.Bold("Environment")+" "+cs.Gray(title))
	for _, w := range res.Warnings {
		fmt.Fprintf(f.IO.ErrOut, "%s %s\n", cs.WarningIcon(), w)
	}
	labels, keys := envKeyLabels(f, res)
	const (
		checkLabel = "Check .env against the compose file and .env.example"
		backLabel  = "Back"
	)
	labels = append(labels, addKeyLabel, checkLabel)
	versions, _ := env.Versions(ctx, st)
	undoLabel := ""
	if n := len(versions); n > 0 {
		v := versions[n-1]
		undoLabel = fmt.Sprintf("Undo the last change (%s, %s ago)", v.Op, humanDuration(time.Since(v.Time)))
		labels = append(labels, undoLabel)
	}
	labels = append(labels, backLabel)
	idx, err := f.Prompter.Select("Pick a key to change, or an action:", labels, "")
	if err != nil {
		return err
	}
	if idx < len(keys) {
		key := keys[idx]
		var entry env.ListEntry
		for _, e := range res.Entries {
			if e.Key == key && e.OverriddenBy == "" {
				entry = e
			}
		}
		changeLabel, removeLabel := "Change the value", "Remove "+key
		encryptLabel, decryptLabel := "Encrypt "+key+" (stored as ENC[age:…], decrypted only for Compose)", "Decrypt "+key+" (store the plain value again)"
		actions := []string{changeLabel}
		switch {
		case entry.Encrypted:
			changeLabel = "Change the value (stays encrypted)"
			actions = []string{changeLabel, decryptLabel}
		case entry.Secret && entry.File == res.Path:
			// secret-looking (or built from a secret): offer to encrypt it
			actions = append(actions, encryptLabel)
		}
		actions = append(actions, removeLabel, backLabel)
		action, err := f.Prompter.Select(fmt.Sprintf("%s:", key), actions, "")
		if err != nil {
			return err
		}
		switch actions[action] {
		case changeLabel:
			return runEnvSet(ctx, f, &envSetOptions{Args: []string{key}, menu: true, Encrypt: entry.Encrypted})
		case encryptLabel:
			return runEnvCrypt(ctx, f, &envCryptOptions{Keys: []string{key}, menu: true})
		case decryptLabel:
			return runEnvCrypt(ctx, f, &envCryptOptions{Keys: []string{key}, menu: true, decrypt: true})
		case removeLabel:
			return runEnvUnset(ctx, f, &envUnsetOptions{Keys: []string{key}, asked: true, menu: true})
		}
		return nil
	}
	switch labels[idx] {
	case addKeyLabel:
		k, err := steps.AskNewEnvKey(f.IO, f.Prompter)
		if err != nil {
			return err
		}
		return runEnvSet(ctx, f, &envSetOptions{Args: []string{k}, menu: true})
	case checkLabel:
		if err := runEnvCheck(ctx, f, &envCheckOptions{}); err != nil {
			return err
		}
		f.Equivalent("env", "check")
		return nil
	case undoLabel:
		return runEnvUndo(ctx, f, &envUndoOptions{confirm: true})
	}
	return nil
}
