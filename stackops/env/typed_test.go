package env

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stackpilot/stackpilot/stackops"
)

// Each case is a real load by compose-go: the error it gives is mapped back
// to the .env line that feeds the broken field (or to nothing, when the
// compose file itself is wrong).
func TestExplainLoadErrorNamesTheEnvLine(t *testing.T) {
	cases := []struct {
		name, service, dotenv string
		environ               []string
		want                  string // "" = no cause
		notIn                 string // never in the message (a masked secret)
	}{
		{"short port syntax", `ports: ["127.0.0.1:${API_PORT:-8081}:8080"]`, "# ports\nWEB_PORT=8080\nAPI_PORT=abc\n", nil,
			".env line 3: API_PORT=abc is not a port", ""},
		{"container port", `ports: ["8080:${INNER}"]`, "INNER=http\n", nil, ".env line 1: INNER=http is not a port", ""},
		{"port number too large", `ports: ["${P}:80"]`, "P=99999\n", nil, ".env line 1: P=99999 is not a port", ""},
		{"long syntax target", "ports: [{target: \"${P}\", published: \"80\"}]", "P=x\n", nil, ".env line 1: P=x is not a port", ""},
		{"number", `cpus: "${CPUS}"`, "CPUS=two\n", nil, ".env line 1: CPUS=two is not a number", ""},
		{"boolean", `read_only: "${RO}"`, "RO=maybe\n", nil, ".env line 1: RO=maybe is not a boolean", ""},
		{"duration", "healthcheck: {test: [\"CMD\", \"true\"], interval: \"${EVERY}\"}", "EVERY=often\n", nil, ".env line 1: EVERY=often is not a duration", ""},
		{"size", `mem_limit: "${MEM}"`, "MEM=lots\n", nil, ".env line 1: MEM=lots is not a size", ""},
		{"secret value masked", `ports: ["${API_KEY}:80"]`, "API_KEY=s3cr3t-value\n", nil, ".env line 1: API_KEY=******** is not a port", "s3cr3t-value"},
		{"from the environment", `ports: ["${P}:80"]`, "P=8080\n", []string{"P=abc"}, "P=abc is not a port (set in the environment, not in a file)", ""},
		{"a fine value is not blamed", `ports: ["${P}:80", "1.2.3.4:x:81"]`, "P=8080\n", nil, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			compose := "services:\n  a:\n    image: x\n    " + c.service + "\n"
			st, dir := newEnvProject(t, map[string]string{"compose.yaml": compose, ".env": c.dotenv}, c.environ...)
			env := append([]string{"PATH=/usr/bin:/bin"}, c.environ...)
			_, loadErr := stackops.Load(context.Background(), stackops.LoadOptions{ProjectDir: dir, WorkDir: dir, Environ: env})
			if !errors.Is(loadErr, stackops.ErrInvalidCompose) {
				t.Fatalf("the project loads (%v): the case does not test a refused value", loadErr)
			}
			ex, err := ExplainLoadError(context.Background(), st, loadErr)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, cause := range ex.Causes {
				got = append(got, cause.String())
			}
			if c.want == "" {
				if len(got) > 0 {
					t.Fatalf("blamed %q for %v", got, loadErr)
				}
				return
			}
			if len(got) != 1 || got[0] != c.want {
				t.Fatalf("causes %q, want %q (load error: %v)", got, c.want, loadErr)
			}
			if c.notIn != "" && (strings.Contains(ex.Message, c.notIn) || strings.Contains(got[0], c.notIn)) {
				t.Errorf("the secret shows: %q / %q", ex.Message, got[0])
			}
		})
	}
}

// A field compose-go names but that has no known kind is still traced to
// the variable written there.
func TestExplainLoadErrorAtANamedFieldOfNoKnownKind(t *testing.T) {
	compose := "services:\n  a:\n    image: x\n    pull_policy: \"${POLICY}\"\n"
	st, dir := newEnvProject(t, map[string]string{"compose.yaml": compose, ".env": "# how to pull\nPOLICY=sometimes\n"})
	_, loadErr := stackops.Load(context.Background(), stackops.LoadOptions{ProjectDir: dir, WorkDir: dir, Environ: []string{"PATH=/bin"}})
	ex, err := ExplainLoadError(context.Background(), st, loadErr)
	if err != nil {
		t.Fatal(err)
	}
	if len(ex.Causes) != 1 || ex.Causes[0].String() != ".env line 2: POLICY=sometimes feeds services.a.pull_policy, which Compose refuses" || !ex.Causes[0].DotEnv {
		t.Fatalf("%+v for %v", ex.Causes, loadErr)
	}
}

func TestCheckValuesWarnsWhereTheKindIsWrong(t *testing.T) {
	compose := `services:
  api:
    image: x
    ports: ["127.0.0.1:${API_PORT:-8081}:8080"]
    environment:
      GREETING: ${API_PORT}
    healthcheck: {test: ["CMD", "true"], interval: "${EVERY:-5s}", retries: "${TRIES:-3}"}
    read_only: ${RO:-false}
x-stackpilot:
  deploy: {timeout: "${DEPLOY_TIMEOUT:-2m}"}
`
	st, _ := newEnvProject(t, map[string]string{"compose.yaml": compose, ".env": "API_PORT=8081\n"})
	for _, c := range []struct {
		key, value string
		want       string
	}{
		{"API_PORT", "abc", "API_PORT=abc is not a port"},
		{"API_PORT", "9090", ""},
		{"API_PORT", "", ""}, // ${API_PORT:-8081}: empty means the default
		{"EVERY", "5", "EVERY=5 is not a duration"},
		{"EVERY", "1m30s", ""},
		{"TRIES", "three", "TRIES=three is not a number"},
		{"RO", "yes", ""},
		{"RO", "maybe", "RO=maybe is not a boolean"},
		{"DEPLOY_TIMEOUT", "soon", "DEPLOY_TIMEOUT=soon is not a duration"},
		{"DEPLOY_TIMEOUT", "90", ""},
		{"GREETING", "anything", ""},
	} {
		probs, err := CheckValues(context.Background(), st, []Assignment{{Key: c.key, Value: c.value}})
		if err != nil {
			t.Fatal(err)
		}
		var got string
		if len(probs) > 0 {
			got = probs[0].String()
		}
		if got != c.want || len(probs) > 1 {
			t.Errorf("%s=%s: %v, want %q", c.key, c.value, probs, c.want)
		}
	}
	probs, _ := CheckValues(context.Background(), st, []Assignment{{Key: "API_PORT", Value: "abc"}})
	if w := probs[0].Where(); !strings.Contains(w, "services.api.ports[0]") || !strings.Contains(w, "${API_PORT:-8081}") {
		t.Errorf("where: %q", w)
	}
}

func TestErrorField(t *testing.T) {
	for msg, want := range map[string]string{
		"error while interpolating services.a.ports.[].target: failed":      "services a ports [] target",
		"decoding failed:\n\n'services[a].stop_grace_period' time: invalid": "services a stop_grace_period",
		"validating /x/compose.yaml: services.a.ports.0 must be a string":   "services a ports 0",
		"Invalid hostPort: abc": "",
	} {
		if got := strings.Join(errorField(msg), " "); got != want {
			t.Errorf("%q: %q, want %q", msg, got, want)
		}
	}
}
