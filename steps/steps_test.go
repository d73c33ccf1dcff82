package steps

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stackpilot/stackpilot/stackops"
)

func TestTableAlignsColoredCells(t *testing.T) {
	cs := NewColorScheme(true)
	tb := NewTable(cs, "NAME", "STATE", "X")
	tb.AddRow("api", cs.Green("running"), "1")
	tb.AddRow("database", cs.Red("exited (1)"), "2")
	var b strings.Builder
	tb.Render(&b)
	lines := strings.Split(strings.TrimRight(StripANSI(b.String()), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("%q", lines)
	}
	col := strings.Index(lines[0], "STATE")
	for _, l := range lines[1:] {
		if strings.IndexAny(l[col:col+1], "re") != 0 {
			t.Fatalf("column STATE not aligned:\n%s", strings.Join(lines, "\n"))
		}
	}
	for _, l := range lines {
		if strings.HasSuffix(l, " ") {
			t.Fatalf("trailing space in %q", l)
		}
	}
}

func TestColorSchemeOff(t *testing.T) {
	cs := NewColorScheme(false)
	if cs.Red("x") != "x" || cs.SuccessIcon() != "✓" {
		t.Fatal("color emitted while disabled")
	}
	if !strings.Contains(NewColorScheme(true).Red("x"), "\x1b[") {
		t.Fatal("no color while enabled")
	}
}

func TestIOStreamsCanPrompt(t *testing.T) {
	ios, _, _, _ := Test()
	if ios.CanPrompt() {
		t.Fatal("prompting without a terminal")
	}
	ios.SetTTY(true, true, true)
	if !ios.CanPrompt() {
		t.Fatal("no prompt on a terminal")
	}
	ios.NoInput = true
	if ios.CanPrompt() {
		t.Fatal("--no-input ignored")
	}
	ios.SetTTY(true, false, true)
	ios.NoInput = false
	if ios.CanPrompt() {
		t.Fatal("prompting with stdout piped")
	}
	ios.SetTTY(false, true, true)
	if ios.ColorEnabled() != true || ios.ErrColorEnabled() != true {
		t.Fatal("color per stream")
	}
	ios.NoColor = true
	if ios.ColorEnabled() || ios.ErrColorEnabled() {
		t.Fatal("NO_COLOR ignored")
	}
}

func TestProgressPlainPrintsChangesOnly(t *testing.T) {
	ios, _, _, errOut := Test()
	p := NewProgress(ios, ProgressAuto)
	if p.Mode() != ProgressPlain {
		t.Fatalf("mode %s without a terminal", p.Mode())
	}
	p.Start("deploy")
	p.Event(stackops.Event{Op: "deploy", Service: "api", Phase: "building"})
	p.Event(stackops.Event{Op: "deploy", Service: "api", Phase: "building"})
	p.Event(stackops.Event{Op: "deploy", Service: "api", Phase: "healthy", Final: true})
	p.Done("deploy", nil)
	got := errOut.String()
	if got != "deploy: api: building\ndeploy: api: healthy\n" {
		t.Fatalf("%q", got)
	}
}

func TestProgressJSON(t *testing.T) {
	ios, _, _, errOut := Test()
	p := NewProgress(ios, ProgressJSON)
	p.Event(stackops.Event{Op: "deploy", Service: "api", Phase: "failed", Message: "exited 1", Time: time.Unix(0, 0).UTC(), Final: true, Failed: true})
	p.Done("deploy", errors.New("boom"))
	lines := strings.Split(strings.TrimSpace(errOut.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"service":"api"`) || !strings.Contains(lines[1], `"error":"boom"`) {
		t.Fatalf("%q", lines)
	}
}

func TestTruncateVisibleKeepsEscapes(t *testing.T) {
	s := "\x1b[32m✓\x1b[0m a very long line of text"
	got := truncateVisible(s, 10)
	if VisibleWidth(got) != 10 || !strings.HasPrefix(got, "\x1b[32m✓") || !strings.Contains(got, "…") {
		t.Fatalf("%q (%d)", got, VisibleWidth(got))
	}
}

func TestConfirmDestructiveTypeBack(t *testing.T) {
	ios, _, _, errOut := Test()
	ios.SetTTY(true, true, true)
	sp := NewScriptedPrompter(t).Input(`Type "shop" to confirm`, "shop")
	ok, err := ConfirmDestructive(ios, sp.Prompter(), stackops.Confirmation{Action: "Remove volumes", Prompt: "Delete all data?", Details: []string{"volume shop_db"}, TypeBack: "shop"})
	if !ok || err != nil {
		t.Fatalf("%v %v", ok, err)
	}
	if !strings.Contains(errOut.String(), "volume shop_db") {
		t.Fatalf("details not shown: %q", errOut.String())
	}
	// A slip is asked again (three tries); the right name then counts.
	errOut.Reset()
	sp2 := NewScriptedPrompter(t).Input(`Type "shop"`, "shpo").Input(`Type "shop"`, "shop")
	ok, err = ConfirmDestructive(ios, sp2.Prompter(), stackops.Confirmation{TypeBack: "shop"})
	if !ok || err != nil || !strings.Contains(errOut.String(), "try again (2 left)") {
		t.Fatalf("mistyped, then right: %v %v\n%s", ok, err, errOut.String())
	}
	// Three wrong answers refuse; nothing typed refuses at once.
	errOut.Reset()
	sp3 := NewScriptedPrompter(t).Input(`Type "shop"`, "a").Input(`Type "shop"`, "b").Input(`Type "shop"`, "c")
	ok, err = ConfirmDestructive(ios, sp3.Prompter(), stackops.Confirmation{TypeBack: "shop"})
	if ok || err != nil || !strings.Contains(errOut.String(), "(3 tries) — nothing was changed") {
		t.Fatalf("three wrong names: %v %v\n%s", ok, err, errOut.String())
	}
	sp4 := NewScriptedPrompter(t).Input(`Type "shop"`, "")
	if ok, err = ConfirmDestructive(ios, sp4.Prompter(), stackops.Confirmation{TypeBack: "shop"}); ok || err != nil {
		t.Fatalf("empty answer: %v %v", ok, err)
	}
}

func TestConfirmFuncWithoutTerminal(t *testing.T) {
	ios, _, _, _ := Test()
	f := ConfirmFunc(ios, nil, false, nil)
	if ok, err := f(nil, stackops.Confirmation{}); ok || !errors.Is(err, stackops.ErrConfirmationRequired) || !strings.Contains(err.Error(), "--yes") {
		t.Fatalf("%v %v", ok, err)
	}
	if ok, _ := ConfirmFunc(ios, nil, true, nil)(nil, stackops.Confirmation{}); !ok {
		t.Fatal("--yes refused")
	}
}

func TestSelectServices(t *testing.T) {
	choices := []ServiceChoice{{Name: "api", State: "running"}, {Name: "db", State: "not created"}, {Name: "web"}}
	sp := NewScriptedPrompter(t).Select("Which services", "All services")
	got, err := SelectServices(sp.Prompter(), "deploy", choices)
	if err != nil || got != nil {
		t.Fatalf("all: %v %v", got, err)
	}
	sp = NewScriptedPrompter(t).Select("Which services", "Choose services").MultiSelect("Services to deploy", "db", "web")
	got, err = SelectServices(sp.Prompter(), "deploy", choices)
	if err != nil || strings.Join(got, ",") != "db,web" {
		t.Fatalf("chosen: %v %v", got, err)
	}
	// An empty selection asks again, saying why.
	sp = NewScriptedPrompter(t).Select("Which services", "Choose services").MultiSelect("Services to deploy").
		MultiSelect("Nothing was selected. Services to deploy", "api")
	if got, err := SelectServices(sp.Prompter(), "deploy", choices); err != nil || strings.Join(got, ",") != "api" {
		t.Fatalf("empty selection, then api: %v %v", got, err)
	}
}
