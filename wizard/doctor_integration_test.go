package wizard

import (
	"strings"
	"testing"

	"github.com/stackpilot/stackpilot/internal/itest"
)

// doctor gives the installed Compose's verdict: a key stackpilot's newer
// compose-go knows (pre_start hooks) but the installed Compose refuses is a
// failed check with Compose's own message, and so is a container name two
// services use (v2's config says so; v1's up fails on it, and the doctor
// says so for v1).
func TestIntegrationDoctorComposeVerdict(t *testing.T) {
	itest.Require(t)
	p := itest.NewProject(t, "services:\n  api:\n    image: stackpilot-fixture:latest\n    pre_start:\n      - command: [\"true\"]\n", nil)
	res := p.Run("doctor")
	if res.Code != 1 || !strings.Contains(res.Stdout, "✗ Compose's verdict") || !strings.Contains(res.Stdout, "pre_start") || !strings.Contains(res.Stdout, "compose file ") {
		t.Fatalf("doctor on a file the installed Compose refuses: exit %d\n%s", res.Code, res.Combined())
	}
	// stackpilot's own reading accepted it: the compose file check passes.
	if !strings.Contains(res.Stdout, "✓ compose file") {
		t.Errorf("the compose file check should pass (stackpilot's compose-go knows pre_start):\n%s", res.Stdout)
	}
	if !strings.Contains(res.Stdout, "compose-go") {
		t.Errorf("doctor does not compare compose-go versions:\n%s", res.Stdout)
	}
	// Compose v2's config refuses it; v1's accepts it and its up then fails
	// on the second container, which the doctor says.
	p.WriteFile("compose.yaml", "services:\n  a:\n    image: stackpilot-fixture:latest\n    container_name: "+p.Name+"-same\n  b:\n    image: stackpilot-fixture:latest\n    container_name: "+p.Name+"-same\n")
	res = p.Run("doctor", "--json")
	if res.Code != 1 || !strings.Contains(res.Stdout, `container name \"`+p.Name+`-same\" is already in use`) {
		t.Fatalf("doctor on a container name used twice: exit %d\n%s", res.Code, res.Combined())
	}
	p.WriteFile("compose.yaml", "services:\n  api:\n    image: stackpilot-fixture:latest\n")
	res = p.Run("doctor")
	if res.Code != 0 || !strings.Contains(res.Stdout, "✓ Compose's verdict") {
		t.Fatalf("doctor on a valid file: exit %d\n%s", res.Code, res.Combined())
	}
}
