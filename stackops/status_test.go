package stackops

import (
	"github.com/compose-spec/compose-go/v2/types"
	"testing"
	"time"

	"github.com/stackpilot/stackpilot/stackops/internal/engine"
)

func container(state string, exit int, health string) *Container {
	return &Container{State: state, ExitCode: exit, Health: health, Detail: &ContainerDetail{}}
}

func TestJudgeRow(t *testing.T) {
	cases := []struct {
		name    string
		c       *Container
		oneShot bool
		probe   *ProbeResult
		ok      bool
		problem string
	}{
		{"running without healthcheck", container("running", 0, ""), false, nil, true, ""},
		{"running healthy", container("running", 0, "healthy"), false, nil, true, ""},
		{"running unhealthy", container("running", 0, "unhealthy"), false, nil, false, "unhealthy"},
		{"health starting", container("running", 0, "starting"), false, nil, false, "health check still starting"},
		{"probe fails", container("running", 0, "healthy"), false, &ProbeResult{Error: "connection refused"}, false, "probe failed: connection refused"},
		{"probe passes", container("running", 0, ""), false, &ProbeResult{OK: true}, true, ""},
		{"one-shot done", container("exited", 0, ""), true, nil, true, ""},
		{"stopped server", container("exited", 0, ""), false, nil, false, "exited (0)"},
		{"stopped server without restart policy", container("exited", 0, ""), false, nil, false, "exited (0)"},
		{"crashed", container("exited", 1, ""), true, nil, false, "exited (1)"},
		{"crash loop", container("restarting", 2, ""), false, nil, false, "restarting (exit 2, 0 restarts)"},
		{"created", container("created", 0, ""), false, nil, false, "created"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			row := rowFromContainer("svc", tc.c, time.Now())
			row.Probe = tc.probe
			judgeRow(&row, tc.c, tc.oneShot)
			if row.OK != tc.ok || row.Problem != tc.problem {
				t.Fatalf("ok=%v problem=%q, want ok=%v problem=%q", row.OK, row.Problem, tc.ok, tc.problem)
			}
		})
	}
}

func TestPortsOf(t *testing.T) {
	c := &engine.ContainerJSON{}
	c.NetworkSettings.Ports = map[string][]engine.PortBinding{
		"8080/tcp": {{HostIP: "0.0.0.0", HostPort: "8081"}, {HostIP: "::", HostPort: "8081"}},
		"9090/udp": nil,
	}
	got := portsOf(c)
	if len(got) != 3 || got[0].HostPort != 8081 || got[0].ContainerPort != 8080 || got[0].Protocol != "tcp" || got[2].HostPort != 0 || got[2].Protocol != "udp" {
		t.Fatalf("%+v", got)
	}
}

func TestIsOneShot(t *testing.T) {
	for restart, want := range map[string]bool{"": false, "no": true, `"no"`: true, "on-failure": true, "on-failure:3": true, "always": false, "unless-stopped": false} {
		if got := IsOneShot(types.ServiceConfig{Restart: restart}); got != want {
			t.Errorf("restart %q: one-shot %v, want %v", restart, got, want)
		}
	}
}
