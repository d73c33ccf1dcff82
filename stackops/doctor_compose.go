package stackops

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"fmt"
	"strings"
)

// The doctor asks the installed Compose for its verdict on the project:
// stackpilot reads compose files with its own compose-go, which may be
// newer or older than the one inside the installed Compose — a key one
// knows the other may refuse (pre_start hooks), and Compose checks more than
// its loader does (container names used twice). What Compose says is what
// a deploy will meet, so it is what the doctor reports.

// composeVerdict runs `config --quiet` (v2) or `config -q` (v1) with the
// argv deploy would use, where deploy would run it.
func composeVerdict(ctx context.Context, r Runner, st *Stack, c *ComposeCLI) DoctorCheck {
	chk := DoctorCheck{Name: "Compose's verdict"}
	quiet := "--quiet"
	if c.Variant == ComposeV1 {
		quiet = "-q"
	}
	argv, err := st.ComposeArgs(c, "config", quiet)
	if err != nil {
		chk.Detail = err.Error()
		chk.Fix = "use Compose v2, or make the project readable by Compose v1 as the message says"
		return chk
	}
	var stderr bytes.Buffer
	if err := r.Run(ctx, Cmd{Args: argv, Dir: st.WorkDir, Env: st.composeEnv(c), Stderr: &stderr}); err != nil {
		if ctx.Err() != nil {
			chk.Detail = context.Cause(ctx).Error()
			return chk
		}
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		chk.Detail = fmt.Sprintf("%s config refuses the project: %s", strings.Join(c.Command, " "), msg)
		chk.Fix = fmt.Sprintf("fix what Compose %s reports — stackpilot's own reading (compose-go %s) accepted it, but deploy runs Compose", c.Version, composeGoModuleVersion())
		return chk
	}
	// Compose v1's config does not check what its up then fails on: a
	// container name two services use (the second container cannot be
	// created). Compose v2's config checks it; for v1 stackpilot does.
	if c.Variant == ComposeV1 && st.Project != nil {
		used := map[string]string{}
		for _, name := range st.Project.ServiceNames() { // sorted
			cn := st.Project.Services[name].ContainerName
			if other, ok := used[cn]; ok && cn != "" {
				chk.Detail = fmt.Sprintf("%s config accepts the project, but its up will fail: services.%s: container name %q is already in use by service %s",
					strings.Join(c.Command, " "), name, cn, other)
				chk.Fix = "give each service its own container_name (or none: Compose names containers itself)"
				return chk
			}
			used[cn] = name
		}
	}
	chk.OK = true
	chk.Detail = fmt.Sprintf("%s config accepts the project", strings.Join(c.Command, " "))
	return chk
}

// composeGoModuleVersion is the compose-go version stackpilot is built with.
func composeGoModuleVersion() string {
	v, _, _ := strings.Cut(composeGoVersion(), " ")
	return v
}

// composeGoCheck compares stackpilot's compose-go with the installed
// Compose's. For Compose v2 the plugin binary's own build information
// names its compose-go (the plugin's path comes from `docker info`); when
// that cannot be read, the Compose version is what the doctor can name.
// Compose v1 is Python and has no compose-go. A difference is a warning:
// Compose's verdict is the check that fails.
func composeGoCheck(ctx context.Context, r Runner, c *ComposeCLI) DoctorCheck {
	own := composeGoModuleVersion()
	chk := DoctorCheck{Name: "compose-go", OK: true}
	if c.Variant == ComposeV1 {
		chk.Warning = true
		chk.Detail = fmt.Sprintf("stackpilot reads compose files with compose-go %s; Compose v1 %s has its own (Python) reader: keys newer than the v3 file format may be refused or ignored by it", own, c.Version)
		return chk
	}
	var out bytes.Buffer
	path := ""
	if err := r.Run(ctx, Cmd{Args: []string{"docker", "info", "--format", `{{range .ClientInfo.Plugins}}{{if eq .Name "compose"}}{{.Path}}{{end}}{{end}}`}, Stdout: &out}); err == nil {
		path = strings.TrimSpace(out.String())
	}
	theirs := ""
	if path != "" {
		if info, err := buildinfo.ReadFile(path); err == nil {
			for _, d := range info.Deps {
				if d.Path == composeGoModule {
					if d.Replace != nil {
						d = d.Replace
					}
					theirs = d.Version
				}
			}
		}
	}
	switch {
	case theirs == "":
		chk.Warning = true
		chk.Detail = fmt.Sprintf("stackpilot reads compose files with compose-go %s; which compose-go Compose %s uses cannot be read from its binary, so the two may read a file differently", own, c.Version)
	case theirs != own:
		chk.Warning = true
		chk.Detail = fmt.Sprintf("stackpilot reads compose files with compose-go %s, Compose %s (%s) with %s: a key one knows the other may refuse — Compose's verdict is the one a deploy meets", own, c.Version, path, theirs)
	default:
		chk.Detail = fmt.Sprintf("stackpilot and Compose %s read compose files with the same compose-go %s", c.Version, own)
	}
	return chk
}
