package wizard

import (
	"debug/buildinfo"
	"encoding/json"
	"os/exec"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/stackpilot/stackpilot/internal/itest"
)

// composeGoOf is the compose-go version in a Go binary's build information
// (the test binary's is stackpilot's own).
func composeGoOf(info *debug.BuildInfo) string {
	for _, d := range info.Deps {
		if d.Path == "github.com/compose-spec/compose-go/v2" {
			if d.Replace != nil {
				d = d.Replace
			}
			return d.Version
		}
	}
	return ""
}

// doctor gives the installed Compose's verdict: a key stackpilot's newer
// compose-go knows (umask, new in compose-go v2.16.2: Compose v5.0.2 has
// v2.10, v5.6.0 v2.16.1, and v1 knows neither) but the installed Compose
// refuses is a
// failed check with Compose's own message, and so is a container name two
// services use (v2's config says so; v1's up fails on it, and the doctor
// says so for v1).
func TestIntegrationDoctorComposeVerdict(t *testing.T) {
	itest.Require(t)
	p := itest.NewProject(t, "services:\n  api:\n    image: stackpilot-fixture:latest\n    umask: \"0022\"\n", nil)
	res := p.Run("doctor")
	if res.Code != 1 || !strings.Contains(res.Stdout, "✗ Compose's verdict") || !strings.Contains(res.Stdout, "umask") || !strings.Contains(res.Stdout, "compose file ") {
		t.Fatalf("doctor on a file the installed Compose refuses: exit %d\n%s", res.Code, res.Combined())
	}
	// stackpilot's own reading accepted it: the compose file check passes.
	if !strings.Contains(res.Stdout, "✓ compose file") {
		t.Errorf("the compose file check should pass (stackpilot's compose-go knows umask):\n%s", res.Stdout)
	}
	// The compose-go check names stackpilot's compose-go and, on v2, the
	// one in the installed plugin (read here from its binary on our own).
	var doc struct {
		Checks []struct {
			Name, Detail string
			Warning      bool
		}
	}
	res = p.Run("doctor", "--json")
	if err := json.Unmarshal([]byte(res.Stdout), &doc); err != nil {
		t.Fatalf("doctor --json: %v\n%s", err, res.Combined())
	}
	own, _ := debug.ReadBuildInfo()
	want := []string{"compose-go " + composeGoOf(own)}
	if itest.Variant() == "v2" {
		out, _ := exec.Command("docker", "info", "--format", `{{range .ClientInfo.Plugins}}{{if eq .Name "compose"}}{{.Path}}{{end}}{{end}}`).Output()
		plugin, err := buildinfo.ReadFile(strings.TrimSpace(string(out)))
		if err != nil {
			t.Fatalf("the Compose plugin's build information: %v", err)
		}
		if theirs := composeGoOf(plugin); theirs != composeGoOf(own) {
			want = append(want, "with "+theirs)
		}
	} else {
		want = append(want, "Compose v1")
	}
	found := false
	for _, c := range doc.Checks {
		if c.Name != "compose-go" {
			continue
		}
		found = true
		for _, w := range want {
			if !strings.Contains(c.Detail, w) {
				t.Errorf("the compose-go check does not say %q: %s", w, c.Detail)
			}
		}
		if len(want) > 1 && !c.Warning {
			t.Errorf("the compose-go versions differ, but the check is no warning: %+v", c)
		}
	}
	if !found {
		t.Errorf("doctor has no compose-go check:\n%s", res.Stdout)
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
