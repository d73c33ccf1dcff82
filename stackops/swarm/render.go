package swarm

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v4"
)

// Default rolling-update settings, for the fields a service's own
// update_config does not set: one task at a time, the new task started
// before the old one stops (no gap in service) unless the service
// publishes a port in host mode (two tasks cannot bind it on one node),
// Swarm rolling back by itself when a new task fails within the monitor
// window, and a monitor long enough to see a crash or a failing healthcheck.
const (
	defaultMonitor   = 5 * time.Second
	maxDefaultWindow = 60 * time.Second
)

// Rendered is the stack file `docker stack deploy` is given, and what
// rendering it changed or left out.
type Rendered struct {
	YAML []byte
	// Ignored are compose keys Swarm does not support, per service, that
	// the file uses (build is handled: the pushed image replaces it).
	Ignored []string
	// Defaults are the update_config fields stackpilot filled in, per service.
	Defaults map[string][]string
}

// Render turns the loaded compose model into a stack file: every value
// already interpolated from .env and the environment (and every `$`
// doubled, since `docker stack deploy` would interpolate again from its own
// environment), each service's image replaced by the pushed one in images
// (service → reference) when it was built, and the rolling-update defaults
// added. Only what Swarm reads is written; the rest is listed in Ignored.
func Render(p *types.Project, images map[string]string) (*Rendered, error) {
	r := &Rendered{Defaults: map[string][]string{}}
	services := map[string]any{}
	names := p.ServiceNames()
	sort.Strings(names)
	for _, name := range names {
		svc := p.Services[name]
		m, ignored, defaults, err := renderService(svc, images[name])
		if err != nil {
			return nil, fmt.Errorf("service %s: %w", name, err)
		}
		services[name] = m
		for _, k := range ignored {
			r.Ignored = append(r.Ignored, name+": "+k)
		}
		if len(defaults) > 0 {
			r.Defaults[name] = defaults
		}
	}
	doc := map[string]any{"version": "3.9", "services": services}
	if vols := renderVolumes(p); len(vols) > 0 {
		doc["volumes"] = vols
	}
	if nets := renderNetworks(p); len(nets) > 0 {
		doc["networks"] = nets
	}
	b, err := yaml.Marshal(doc)
	if err != nil {
		return nil, err
	}
	r.YAML = b
	return r, nil
}

// esc doubles every `$`: the value is final, and `docker stack deploy`
// must not interpolate it again.
func esc(s string) string { return strings.ReplaceAll(s, "$", "$$") }

func escList(l []string) []string {
	out := make([]string, len(l))
	for i, s := range l {
		out[i] = esc(s)
	}
	return out
}

func dur(d time.Duration) string { return d.String() }

func renderService(svc types.ServiceConfig, pushed string) (map[string]any, []string, []string, error) {
	m := map[string]any{}
	var ignored []string
	image := svc.Image
	if pushed != "" {
		image = pushed
	}
	if image == "" {
		return nil, nil, nil, fmt.Errorf("no image: Swarm nodes need one (give it `image:`, or `build:` and x-stackpilot.registry to push the build to)")
	}
	m["image"] = esc(image)
	if len(svc.Command) > 0 {
		m["command"] = escList(svc.Command)
	}
	if len(svc.Entrypoint) > 0 {
		m["entrypoint"] = escList(svc.Entrypoint)
	}
	if len(svc.Environment) > 0 {
		env := map[string]string{}
		for k, v := range svc.Environment {
			if v != nil {
				env[k] = esc(*v)
			}
		}
		m["environment"] = env
	}
	if len(svc.Labels) > 0 {
		m["labels"] = escMap(svc.Labels)
	}
	for k, v := range map[string]string{"user": svc.User, "working_dir": svc.WorkingDir, "hostname": svc.Hostname, "stop_signal": svc.StopSignal} {
		if v != "" {
			m[k] = esc(v)
		}
	}
	if svc.Tty {
		m["tty"] = true
	}
	if svc.StopGracePeriod != nil {
		m["stop_grace_period"] = dur(time.Duration(*svc.StopGracePeriod))
	}
	if len(svc.ExtraHosts) > 0 {
		m["extra_hosts"] = escList(svc.ExtraHosts.AsList(":"))
	}
	hostPorts := false
	if len(svc.Ports) > 0 {
		var ports []map[string]any
		for _, pc := range svc.Ports {
			port := map[string]any{"target": pc.Target}
			if pc.Published != "" {
				n, err := strconv.ParseUint(pc.Published, 10, 32)
				if err != nil {
					return nil, nil, nil, fmt.Errorf("published port %q: Swarm takes one port number, not a range", pc.Published)
				}
				port["published"] = n
			}
			if pc.Protocol != "" {
				port["protocol"] = pc.Protocol
			}
			if pc.Mode == "host" {
				hostPorts = true
				port["mode"] = "host"
			}
			ports = append(ports, port)
		}
		m["ports"] = ports
	}
	if len(svc.Volumes) > 0 {
		var vols []map[string]any
		for _, v := range svc.Volumes {
			vm := map[string]any{"type": v.Type, "target": v.Target}
			if v.Source != "" {
				vm["source"] = esc(v.Source)
			}
			if v.ReadOnly {
				vm["read_only"] = true
			}
			vols = append(vols, vm)
		}
		m["volumes"] = vols
	}
	if len(svc.Networks) > 0 {
		var nets []string
		for n := range svc.Networks {
			nets = append(nets, n)
		}
		sort.Strings(nets)
		m["networks"] = nets
	}
	if hc := svc.HealthCheck; hc != nil {
		h := map[string]any{}
		if hc.Disable {
			h["disable"] = true
		} else {
			if len(hc.Test) > 0 {
				h["test"] = escList(hc.Test)
			}
			for k, d := range map[string]*types.Duration{"interval": hc.Interval, "timeout": hc.Timeout, "start_period": hc.StartPeriod} {
				if d != nil {
					h[k] = dur(time.Duration(*d))
				}
			}
			if hc.Retries != nil {
				h["retries"] = *hc.Retries
			}
		}
		m["healthcheck"] = h
	}
	deploy, defaults := renderDeploy(svc, hostPorts)
	m["deploy"] = deploy
	if svc.Build != nil && pushed == "" {
		ignored = append(ignored, "build (no registry to push to: the nodes run `"+image+"` as they find it)")
	}
	for k, used := range map[string]bool{
		"container_name": svc.ContainerName != "", "depends_on": len(svc.DependsOn) > 0, "privileged": svc.Privileged,
		"devices": len(svc.Devices) > 0, "links": len(svc.Links) > 0, "network_mode": svc.NetworkMode != "",
		"security_opt": len(svc.SecurityOpt) > 0, "cap_add": len(svc.CapAdd) > 0, "cap_drop": len(svc.CapDrop) > 0,
		"sysctls": len(svc.Sysctls) > 0, "ulimits": len(svc.Ulimits) > 0, "tmpfs": len(svc.Tmpfs) > 0,
		"dns": len(svc.DNS) > 0, "secrets": len(svc.Secrets) > 0, "configs": len(svc.Configs) > 0,
	} {
		if used {
			ignored = append(ignored, k)
		}
	}
	sort.Strings(ignored)
	return m, ignored, defaults, nil
}

func escMap(l map[string]string) map[string]string {
	out := make(map[string]string, len(l))
	for k, v := range l {
		out[k] = esc(v)
	}
	return out
}

// renderDeploy is the service's deploy: section with the rolling-update
// defaults filled in where the file is silent, and restart: mapped onto a
// restart_policy when the file has none. It returns the fields defaulted.
func renderDeploy(svc types.ServiceConfig, hostPorts bool) (map[string]any, []string) {
	d := map[string]any{}
	var dc types.DeployConfig
	if svc.Deploy != nil {
		dc = *svc.Deploy
	}
	if dc.Mode != "" {
		d["mode"] = dc.Mode
	}
	if dc.Replicas != nil {
		d["replicas"] = *dc.Replicas
	} else if svc.Scale != nil {
		d["replicas"] = *svc.Scale
	}
	if dc.EndpointMode != "" {
		d["endpoint_mode"] = dc.EndpointMode
	}
	if len(dc.Labels) > 0 {
		d["labels"] = escMap(dc.Labels)
	}
	if len(dc.Placement.Constraints) > 0 || dc.Placement.MaxReplicas > 0 || len(dc.Placement.Preferences) > 0 {
		pl := map[string]any{}
		if len(dc.Placement.Constraints) > 0 {
			pl["constraints"] = escList(dc.Placement.Constraints)
		}
		if dc.Placement.MaxReplicas > 0 {
			pl["max_replicas_per_node"] = dc.Placement.MaxReplicas
		}
		if len(dc.Placement.Preferences) > 0 {
			var prefs []map[string]string
			for _, p := range dc.Placement.Preferences {
				prefs = append(prefs, map[string]string{"spread": p.Spread})
			}
			pl["preferences"] = prefs
		}
		d["placement"] = pl
	}
	if rp := dc.RestartPolicy; rp != nil {
		r := map[string]any{}
		if rp.Condition != "" {
			r["condition"] = rp.Condition
		}
		if rp.Delay != nil {
			r["delay"] = dur(time.Duration(*rp.Delay))
		}
		if rp.MaxAttempts != nil {
			r["max_attempts"] = *rp.MaxAttempts
		}
		if rp.Window != nil {
			r["window"] = dur(time.Duration(*rp.Window))
		}
		d["restart_policy"] = r
	} else if c := restartCondition(svc.Restart); c != "" {
		d["restart_policy"] = map[string]any{"condition": c}
	}
	if res := renderResources(dc.Resources); len(res) > 0 {
		d["resources"] = res
	}
	if rc := dc.RollbackConfig; rc != nil {
		d["rollback_config"] = renderUpdateConfig(rc)
	}
	uc := map[string]any{}
	if dc.UpdateConfig != nil {
		uc = renderUpdateConfig(dc.UpdateConfig)
	}
	var defaults []string
	def := func(k string, v any) {
		if _, set := uc[k]; !set {
			uc[k] = v
			defaults = append(defaults, fmt.Sprintf("%s: %v", k, v))
		}
	}
	if hostPorts {
		def("order", "stop-first")
	} else {
		def("order", "start-first")
	}
	def("failure_action", "rollback")
	def("monitor", dur(monitorFor(svc)))
	d["update_config"] = uc
	return d, defaults
}

// monitorFor is how long Swarm watches a new task for failure: long enough
// for a healthcheck to fail its retries after the start period, at least
// defaultMonitor, at most maxDefaultWindow.
func monitorFor(svc types.ServiceConfig) time.Duration {
	m := defaultMonitor
	if hc := svc.HealthCheck; hc != nil && !hc.Disable {
		interval, retries := 30*time.Second, uint64(3)
		if hc.Interval != nil {
			interval = time.Duration(*hc.Interval)
		}
		if hc.Retries != nil {
			retries = *hc.Retries
		}
		w := interval*time.Duration(retries+1) + time.Second
		if hc.StartPeriod != nil {
			w += time.Duration(*hc.StartPeriod)
		}
		m = max(m, min(w, maxDefaultWindow))
	}
	return m
}

// restartCondition maps Compose's restart: onto Swarm's restart_policy condition.
func restartCondition(restart string) string {
	switch {
	case restart == "no":
		return "none"
	case strings.HasPrefix(restart, "on-failure"):
		return "on-failure"
	case restart == "always", restart == "unless-stopped":
		return "any"
	}
	return ""
}

func renderUpdateConfig(u *types.UpdateConfig) map[string]any {
	m := map[string]any{}
	if u.Parallelism != nil {
		m["parallelism"] = *u.Parallelism
	}
	if u.Delay != 0 {
		m["delay"] = dur(time.Duration(u.Delay))
	}
	if u.FailureAction != "" {
		m["failure_action"] = u.FailureAction
	}
	if u.Monitor != 0 {
		m["monitor"] = dur(time.Duration(u.Monitor))
	}
	if u.MaxFailureRatio != 0 {
		m["max_failure_ratio"] = u.MaxFailureRatio
	}
	if u.Order != "" {
		m["order"] = u.Order
	}
	return m
}

func renderResources(r types.Resources) map[string]any {
	out := map[string]any{}
	one := func(res *types.Resource) map[string]any {
		if res == nil {
			return nil
		}
		m := map[string]any{}
		if res.NanoCPUs != 0 {
			m["cpus"] = strconv.FormatFloat(float64(res.NanoCPUs), 'f', -1, 32)
		}
		if res.MemoryBytes != 0 {
			m["memory"] = fmt.Sprintf("%db", int64(res.MemoryBytes))
		}
		if len(m) == 0 {
			return nil
		}
		return m
	}
	if m := one(r.Limits); m != nil {
		out["limits"] = m
	}
	if m := one(r.Reservations); m != nil {
		out["reservations"] = m
	}
	return out
}

// renderVolumes are the top-level volumes: Swarm names them <stack>_<key>
// (as Compose does), unless external or named explicitly.
func renderVolumes(p *types.Project) map[string]any {
	out := map[string]any{}
	for k, v := range p.Volumes {
		m := map[string]any{}
		if bool(v.External) {
			m["external"] = true
			m["name"] = v.Name
		}
		if v.Driver != "" {
			m["driver"] = v.Driver
		}
		if len(v.DriverOpts) > 0 {
			m["driver_opts"] = escMap(v.DriverOpts)
		}
		if len(v.Labels) > 0 {
			m["labels"] = escMap(v.Labels)
		}
		out[k] = m
	}
	return out
}

// renderNetworks are the top-level networks, overlay unless the file says
// otherwise; attachable, so a one-off container (a check, a client) can join.
func renderNetworks(p *types.Project) map[string]any {
	out := map[string]any{}
	for k, n := range p.Networks {
		m := map[string]any{}
		if bool(n.External) {
			m["external"] = true
			m["name"] = n.Name
			out[k] = m
			continue
		}
		driver := n.Driver
		if driver == "" || driver == "bridge" {
			driver = "overlay"
		}
		m["driver"] = driver
		m["attachable"] = true
		if len(n.Labels) > 0 {
			m["labels"] = escMap(n.Labels)
		}
		out[k] = m
	}
	return out
}
