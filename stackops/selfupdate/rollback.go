package selfupdate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/stackpilot/stackpilot/stackops"
)

// RollbackOptions says which binary Rollback swaps back.
type RollbackOptions struct {
	// Current is the running binary's version.
	Current string
	// Executable is the binary to roll back (this process's when empty).
	Executable string
	// Confirm is asked before anything changes (nil refuses).
	Confirm stackops.ConfirmFunc
	// Runner runs the previous binary's --version check (an ExecRunner when nil).
	Runner stackops.Runner
}

// RollbackResult says what Rollback did. JSON field names are stable.
type RollbackResult struct {
	Path         string `json:"path"`
	PreviousPath string `json:"previous_path"`
	From         string `json:"from_version"`
	To           string `json:"to_version"`
}

// Rollback swaps the binary and the previous one kept by the last update:
// the previous one is checked to run, then renamed over the binary, and the
// binary it replaces becomes the previous one — so a second rollback undoes
// the first. At every instant the binary's path holds a complete binary.
func Rollback(ctx context.Context, opts RollbackOptions) (*RollbackResult, error) {
	runner := opts.Runner
	if runner == nil {
		runner = &stackops.ExecRunner{}
	}
	files, err := locate(ctx, runner, opts.Executable)
	if err != nil {
		return nil, err
	}
	exe := files.exe
	if err := checkWritable(files.dir); err != nil {
		return nil, err
	}
	unlock, err := lockDir(files.dir)
	if err != nil {
		return nil, notWritable(files.dir, err)
	}
	defer unlock()
	if err := files.tidy(); err != nil {
		return nil, err
	}
	st, err := os.Stat(files.previous())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s does not exist — only a binary replaced by stackpilot self-update can be rolled back to", ErrNoPrevious, files.previous())
	}
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrNoPrevious, files.previous())
	}
	to, err := BinaryVersion(ctx, runner, files.previous())
	if err != nil {
		return nil, err
	}
	res := &RollbackResult{Path: exe, PreviousPath: files.previous(), From: opts.Current, To: to}

	confirm := opts.Confirm
	if confirm == nil {
		confirm = stackops.NeverConfirm
	}
	from := opts.Current
	if from == "" {
		from = "the current binary"
	}
	ok, err := confirm(ctx, stackops.Confirmation{
		Action: fmt.Sprintf("Roll back stackpilot %s → %s", from, to),
		Prompt: fmt.Sprintf("Roll back stackpilot to %s?", to),
		Details: []string{
			fmt.Sprintf("put %s back as %s", files.previous(), exe),
			fmt.Sprintf("keep %s as %s (rolling back again undoes this)", from, files.previous()),
		},
	})
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, stackops.ErrNotConfirmed
	}

	if err := linkOrCopy(exe, files.previousTemp()); err != nil {
		return nil, err
	}
	if err := os.Rename(files.previous(), exe); err != nil {
		os.Remove(files.previousTemp())
		return nil, notWritable(files.dir, err)
	}
	if err := os.Rename(files.previousTemp(), files.previous()); err != nil {
		return nil, err
	}
	if err := syncDir(files.dir); err != nil {
		return nil, err
	}
	return res, nil
}
