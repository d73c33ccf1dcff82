package stackops

import (
	"context"
	"strings"
	"testing"

	"github.com/stackpilot/stackpilot/internal/itest"
)

// The context a plugin or host task gets: the project, Compose (probed
// once, or as forced without a probe) and the endpoint.
func TestContextEnv(t *testing.T) {
	dir := itest.WriteFiles(t, map[string]string{"compose.yaml": twoServices})
	for _, c := range []struct {
		environ []string
		probes  int
		want    string
	}{
		{[]string{"DOCKER_HOST=tcp://10.0.0.1:2375"}, 1, "STACKPILOT_COMPOSE=v2|STACKPILOT_COMPOSE_COMMAND=docker compose|DOCKER_HOST=tcp://10.0.0.1:2375"},
		{[]string{"STACKPILOT_COMPOSE=v1"}, 0, "STACKPILOT_COMPOSE=v1|STACKPILOT_COMPOSE_COMMAND=docker-compose|DOCKER_HOST=unix:///var/run/docker.sock"},
	} {
		r := &fakeRunner{answers: map[string]fakeAnswer{"docker compose version --short": {stdout: "2.40.0\n"}}}
		st, err := Load(context.Background(), LoadOptions{WorkDir: dir, Environ: c.environ, Runner: r})
		if err != nil {
			t.Fatal(err)
		}
		env := strings.Join(st.ContextEnv(context.Background()), "|")
		want := "STACKPILOT_PROJECT_DIR=" + dir + "|STACKPILOT_PROJECT_NAME=" + st.Name + "|STACKPILOT_COMPOSE_FILES=" + dir + "/compose.yaml|" + c.want
		if env != want || len(r.calls) != c.probes {
			t.Errorf("%v: %s (%d probes)\nwant %s (%d)", c.environ, env, len(r.calls), want, c.probes)
		}
	}
}
