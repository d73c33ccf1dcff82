package wizard

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestRepeatedFlagKeepsEachUseWhole(t *testing.T) {
	var files []string
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	repeatedFlag(fs, &files, "file", "f", "compose file")
	if err := fs.Parse([]string{"-f", "a.yaml", "--file", "b,c.yaml", "--file=d.yaml"}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(files, "|"); got != "a.yaml|b,c.yaml|d.yaml" {
		t.Fatalf("files = %q", got)
	}
	if !fs.Changed("file") {
		t.Fatal("--file not marked changed")
	}
}

func TestRepeatedFlagHelpShowsNoDefault(t *testing.T) {
	var files []string
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	repeatedFlag(fs, &files, "file", "f", "compose file")
	usage := fs.FlagUsages()
	if !strings.Contains(usage, "-f, --file stringArray") || strings.Contains(usage, "default") {
		t.Fatalf("usage = %q", usage)
	}
}
