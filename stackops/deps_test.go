package stackops

import (
	"os/exec"
	"strings"
	"testing"
)

// stackops must stay usable without a terminal: it may not depend on the
// prompt, spinner, color or command-line packages, even indirectly.
func TestStackopsHasNoUIDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	forbidden := []string{"github.com/AlecAivazis/survey", "github.com/briandowns/spinner", "github.com/fatih/color", "github.com/spf13/cobra"}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if strings.HasPrefix(dep, f) {
				t.Errorf("stackops depends on %s", dep)
			}
		}
	}
	if !strings.Contains(string(out), "github.com/compose-spec/compose-go/v2/loader") {
		t.Fatal("go list output looks wrong (compose-go missing); the check would prove nothing")
	}
}
