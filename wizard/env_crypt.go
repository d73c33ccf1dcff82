package wizard

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/stackops/env"
	"github.com/stackpilot/stackpilot/stackops/envcrypt"
	"github.com/stackpilot/stackpilot/stackops/envfile"
	"github.com/stackpilot/stackpilot/steps"
)

// The encrypted-value commands: env keygen, env recipients, env encrypt,
// env decrypt, env rotate (env set --encrypt and get --reveal live with
// set and get). A plain value is never taken from argv, never printed but
// by get --reveal / list --reveal, and never in an error.

const envCryptHelp = `Encrypted values: "env keygen" creates your age identity (outside the
repository: $XDG_CONFIG_HOME/stackpilot/identities, ~/.config/stackpilot/identities,
or STACKPILOT_IDENTITY) and records its public key in .env as a comment line
Compose ignores (# stackpilot-recipient: age1…). Values set with --encrypt or
converted with "env encrypt" are stored as ENC[age:…], encrypted to every
recipient; deploy, run, tasks and restart decrypt them in memory and give
Compose the plain values through its environment.`

func newEnvKeygenCmd(f *Factory) *cobra.Command {
	var opts env.KeygenOptions
	var jsonOut bool
	cmd := &cobra.Command{
		Use:   "keygen",
		Short: "Create your age identity for encrypted values and record its recipient in .env",
		Long: `Create an age X25519 identity (a private key) and record its recipient (the
public key) in .env, so values can be encrypted to it.

The identity is written 0600 outside the repository: to --output, else to the
file STACKPILOT_IDENTITY names, else to identity.key in
$XDG_CONFIG_HOME/stackpilot/identities (~/.config/stackpilot/identities). An
existing file is never overwritten: values encrypted to it would be lost.
Keep a copy of it somewhere safe — without it the values cannot be decrypted.`,
		Example: `  stackpilot env keygen
  STACKPILOT_IDENTITY=~/secrets/prod.key stackpilot env keygen
  stackpilot env keygen --output ~/keys/ci.key --no-record`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runEnvKeygen(cmd.Context(), f, &opts, jsonOut)
		},
	}
	cmd.Flags().StringVar(&opts.Output, "output", "", "where to write the identity (default: the identities directory, or STACKPILOT_IDENTITY)")
	cmd.Flags().BoolVar(&opts.NoRecord, "no-record", false, "only write the identity; do not record its recipient in .env")
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print {identity, recipient}")
	return cmd
}

func runEnvKeygen(ctx context.Context, f *Factory, opts *env.KeygenOptions, jsonOut bool) error {
	st, err := envStack(ctx, f)
	if err != nil {
		return err
	}
	if opts.Output != "" {
		opts.Output = expandHome(opts.Output)
	}
	res, err := env.Keygen(ctx, st, *opts)
	if err != nil {
		return err
	}
	if jsonOut {
		return writeJSON(f.IO.Out, res)
	}
	cs := f.IO.ErrColorScheme()
	fmt.Fprintln(f.IO.Out, res.Recipient)
	fmt.Fprintf(f.IO.ErrOut, "%s identity written to %s (mode 0600) — keep a copy somewhere safe: without it the values cannot be decrypted\n", cs.SuccessIcon(), res.Identity)
	if res.Change != nil && res.Change.Changed {
		fmt.Fprintf(f.IO.ErrOut, "%s recipient recorded in %s · encrypt a value with: %s\n", cs.SuccessIcon(), res.Change.Path, cs.Cyan(f.hint("env", "set", "--encrypt", "KEY")))
	}
	return nil
}

// ---- recipients ----

func newEnvRecipientsCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "recipients",
		Short: "List, add or remove the public keys .env values are encrypted to",
		Long: `The recipients of .env are age public keys (age1…) recorded as comment lines
Compose ignores. Values are encrypted to all of them: each teammate runs
"env keygen" once, and anyone adds the others' recipients. Values encrypted
before a change keep their recipients until "env rotate" (or "env encrypt
KEY…") re-encrypts them.`,
		Example: `  stackpilot env recipients
  stackpilot env recipients add age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p
  stackpilot env recipients remove age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p && stackpilot env rotate`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runEnvRecipientsList(cmd.Context(), f, false)
		},
	}
	var jsonOut bool
	list := &cobra.Command{
		Use:     "list",
		Short:   "List the recipients (yours marked) and the encrypted keys",
		Example: `  stackpilot env recipients list --json | jq -r '.recipients[].recipient'`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runEnvRecipientsList(cmd.Context(), f, jsonOut)
		},
	}
	list.Flags().BoolVar(&jsonOut, "json", false, "print {path, recipients: [{recipient, line}], mine, encrypted}")
	var dry bool
	add := &cobra.Command{
		Use:     "add AGE1…",
		Short:   "Record recipients (age public keys) in .env",
		Example: `  stackpilot env recipients add age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runEnvRecipientsEdit(cmd.Context(), f, true, args, dry)
		},
	}
	add.Flags().BoolVar(&dry, "dry-run", false, "show the change without writing it")
	var dryRm bool
	remove := &cobra.Command{
		Use:     "remove AGE1…",
		Short:   "Remove recipients from .env (env rotate then re-encrypts without them)",
		Example: `  stackpilot env recipients remove age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runEnvRecipientsEdit(cmd.Context(), f, false, args, dryRm)
		},
	}
	remove.Flags().BoolVar(&dryRm, "dry-run", false, "show the change without writing it")
	cmd.AddCommand(list, add, remove)
	return cmd
}

func runEnvRecipientsList(ctx context.Context, f *Factory, jsonOut bool) error {
	st, err := envStack(ctx, f)
	if err != nil {
		return err
	}
	res, err := env.Recipients(ctx, st)
	if err != nil {
		return err
	}
	if jsonOut {
		return writeJSON(f.IO.Out, res)
	}
	cs := f.IO.ColorScheme()
	mine := map[string]bool{}
	for _, m := range res.Mine {
		mine[m] = true
	}
	for _, r := range res.Recipients {
		line := r.Key
		if mine[r.Key] {
			line += cs.Gray("  (yours)")
		}
		fmt.Fprintln(f.IO.Out, line)
	}
	ecs := f.IO.ErrColorScheme()
	if len(res.Recipients) == 0 {
		fmt.Fprintf(f.IO.ErrOut, "%s %s records no recipient — create your key with: %s\n", ecs.WarningIcon(), res.Path, ecs.Cyan(f.hint("env", "keygen")))
		return nil
	}
	summary := fmt.Sprintf("%s · %d recipient(s) · %d encrypted value(s)", res.Path, len(res.Recipients), len(res.Encrypted))
	if len(res.Encrypted) > 0 {
		summary += ": " + strings.Join(res.Encrypted, ", ")
	}
	fmt.Fprintln(f.IO.ErrOut, ecs.Gray(summary))
	return nil
}

func runEnvRecipientsEdit(ctx context.Context, f *Factory, add bool, keys []string, dry bool) error {
	for _, k := range keys {
		if _, err := envcrypt.ParseRecipient(k); err != nil {
			return usageErr("%v", err)
		}
	}
	st, err := envStack(ctx, f)
	if err != nil {
		return err
	}
	o := env.RecipientsOptions{Keys: keys, DryRun: dry}
	var res *env.ChangeResult
	if add {
		res, err = env.RecipientsAdd(ctx, st, o)
	} else {
		res, err = env.RecipientsRemove(ctx, st, o)
	}
	if err != nil {
		return err
	}
	cs := f.IO.ErrColorScheme()
	verb := map[bool]string{true: "added", false: "removed"}[add]
	switch {
	case !res.Changed:
		fmt.Fprintf(f.IO.ErrOut, "%s %s records %s already\n", cs.Gray("="), res.Path, strings.Join(keys, ", "))
	case dry:
		fmt.Fprintf(f.IO.ErrOut, "%s\n", cs.Gray("dry run: would have "+verb+" "+strings.Join(keys, ", ")+"; "+res.Path+" was not written"))
	default:
		fmt.Fprintf(f.IO.ErrOut, "%s %s %s · %s\n", cs.SuccessIcon(), verb, strings.Join(keys, ", "), cs.Gray(f.hint("env", "undo")+" restores the previous version"))
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(f.IO.ErrOut, "%s %s\n", cs.WarningIcon(), w)
	}
	return nil
}

// ---- encrypt / decrypt ----

type envCryptOptions struct {
	Keys    []string
	DryRun  bool
	decrypt bool
	// asked: a prompt filled the keys, or the menu runs it: the change is
	// shown and confirmed first.
	asked bool
	menu  bool
}

func newEnvEncryptCmd(f *Factory, decrypt bool) *cobra.Command {
	opts := &envCryptOptions{decrypt: decrypt}
	use, short, long, example := "encrypt KEY...", "Encrypt existing values in .env to its recipients",
		`Replace each KEY's value, as Compose reads it, by the value encrypted to every
recipient of .env (ENC[age:…]). A value already encrypted is re-encrypted for
the recipients recorded now (that needs your identity). Only the keys' lines
change; the edit is atomic, locked and undoable (env undo).`,
		`  stackpilot env encrypt DB_PASSWORD API_TOKEN`
	if decrypt {
		use, short, long, example = "decrypt KEY...", "Store encrypted values of .env in plain text again",
			`Replace each KEY's encrypted value by its plain value (needs your identity).
Only the keys' lines change; the edit is atomic, locked and undoable.`,
			`  stackpilot env decrypt LOG_TOKEN`
	}
	cmd := &cobra.Command{
		Use: use, Short: short, Long: long, Example: example,
		ValidArgsFunction: completeEnvKeys(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Keys = args
			return runEnvCrypt(cmd.Context(), f, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "show the change without writing it")
	return cmd
}

func runEnvCrypt(ctx context.Context, f *Factory, opts *envCryptOptions) error {
	verb := map[bool]string{false: "encrypt", true: "decrypt"}[opts.decrypt]
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
			return missingInput("the keys to "+verb, "KEY")
		}
		k, _, err := pickEnvKey(ctx, f, st, fmt.Sprintf("Which key do you want to %s?", verb), false)
		if err != nil {
			return err
		}
		opts.Keys, opts.asked = []string{k}, true
	}
	if !opts.decrypt {
		if err := ensureRecipient(ctx, f, st, opts.asked || opts.menu); err != nil {
			return err
		}
	}
	res, err := applyEnvEdit(f, envEdit{
		Ask: opts.asked || opts.menu, DryRun: opts.DryRun,
		Question: fmt.Sprintf("%s %s in %s?", map[bool]string{false: "Encrypt", true: "Store the plain value of"}[opts.decrypt], strings.Join(opts.Keys, ", "), st.DotEnvPath()),
		Default:  !opts.decrypt,
		Run: func(dry bool, ifMatch string) (*env.ChangeResult, error) {
			o := env.CryptOptions{Keys: opts.Keys, DryRun: dry, IfMatch: ifMatch}
			if opts.decrypt {
				return env.Decrypt(ctx, st, o)
			}
			return env.Encrypt(ctx, st, o)
		},
		Show: func(plan *env.ChangeResult) {
			steps.RenderEnvDiff(f.IO.ErrOut, f.IO.ErrColorScheme(), plan.Path, plan.Diff)
		},
		ShowDry: func(plan *env.ChangeResult) { reportEnvChange(f, plan) },
	})
	if err != nil || res == nil {
		return err
	}
	cs := f.IO.ErrColorScheme()
	for _, k := range opts.Keys {
		fmt.Fprintf(f.IO.ErrOut, "%s %s %sed\n", cs.SuccessIcon(), k, verb)
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(f.IO.ErrOut, "%s %s\n", cs.WarningIcon(), w)
	}
	fmt.Fprintf(f.IO.ErrOut, "%s\n", cs.Gray("wrote "+res.Path+" · "+f.hint("env", "undo")+" restores the previous version"))
	if opts.asked || opts.menu {
		f.Equivalent(append([]string{"env", verb}, opts.Keys...)...)
	}
	return nil
}

// ensureRecipient makes sure .env has a recipient before encrypting: in a
// terminal (offer) it proposes to create the person's identity; otherwise
// the edit's own error says to run env keygen.
func ensureRecipient(ctx context.Context, f *Factory, st *stackops.Stack, offer bool) error {
	if !offer || !f.CanPrompt() {
		return nil
	}
	rs, err := env.Recipients(ctx, st)
	if err != nil || len(rs.Recipients) > 0 {
		return err
	}
	w := env.Where(st)
	path := env.DefaultIdentityPath(w)
	ok, err := f.Prompter.Confirm(fmt.Sprintf("%s has no recipient yet. Create your identity at %s and record its public key?", rs.Path, path), true)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: nothing was encrypted", envcrypt.ErrNoRecipients)
	}
	return runEnvKeygen(ctx, f, &env.KeygenOptions{}, false)
}

// ---- rotate ----

func newEnvRotateCmd(f *Factory) *cobra.Command {
	var opts env.RotateOptions
	var jsonOut bool
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "Re-encrypt every encrypted value to a new identity of yours",
		Long: `Create a new identity, then re-encrypt every encrypted value of .env to the
recipients recorded there — your old key's recipient replaced by the new one,
teammates' kept. Every value is decrypted first (an error names the key and
nothing is written); the new identity is written and synced before .env is
replaced, atomically, so an interruption at any moment leaves every value
decryptable by the old key or the new one. The old identity file is kept:
delete it once nothing else needs it. Also the way to drop a removed
recipient (env recipients remove, then env rotate).`,
		Example: `  stackpilot env rotate
  stackpilot env rotate --output ~/keys/2027.key`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runEnvRotate(cmd.Context(), f, &opts, jsonOut)
		},
	}
	cmd.Flags().StringVar(&opts.Output, "output", "", "where to write the new identity (default: a new file in the identities directory)")
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print {identity, recipient, retired, recipients, keys}")
	return cmd
}

func runEnvRotate(ctx context.Context, f *Factory, opts *env.RotateOptions, jsonOut bool) error {
	st, err := envStack(ctx, f)
	if err != nil {
		return err
	}
	if opts.Output != "" {
		opts.Output = expandHome(opts.Output)
	}
	res, err := env.Rotate(ctx, st, *opts)
	if err != nil {
		return err
	}
	if jsonOut {
		return writeJSON(f.IO.Out, res)
	}
	cs := f.IO.ErrColorScheme()
	fmt.Fprintln(f.IO.Out, res.Recipient)
	fmt.Fprintf(f.IO.ErrOut, "%s new identity %s · %d value(s) re-encrypted to %d recipient(s)\n", cs.SuccessIcon(), res.Identity, len(res.Keys), len(res.Recipients))
	if len(res.OldIdentities) > 0 {
		fmt.Fprintf(f.IO.ErrOut, "%s\n", cs.Gray("the old identity is kept ("+strings.Join(res.OldIdentities, ", ")+"): delete it once no other .env or backup needs it"))
	}
	if w := env.Where(st); len(w.Files) > 0 {
		fmt.Fprintf(f.IO.ErrOut, "%s %s names the identities to use: add %s to it\n", cs.WarningIcon(), envcrypt.IdentityEnvVar, res.Identity)
	}
	return nil
}

// envGetEncrypted is env get on an encrypted value without --reveal: no
// plain text, and a message that says how to get it.
func envGetEncrypted(key string, built bool) error {
	if built {
		return usageErr("%s is built from encrypted values — pass --reveal to print it with them decrypted (--raw prints it as written)", key)
	}
	return usageErr("%s is encrypted — pass --reveal to print its plain value (--raw prints the ciphertext as stored)", key)
}
