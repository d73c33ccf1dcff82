package stackops

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// ClientBindMount is a bind mount whose source Compose resolved on the
// operator's machine — a relative path (./data) made absolute against the
// project directory, or ~ expanded to the operator's home — while the engine
// that mounts it is on another machine: the server mounts ITS path of that
// name, which usually does not exist there (and is then created empty).
type ClientBindMount struct {
	Service string `json:"service"`
	// Source is the path as Compose resolved it (on this machine).
	Source string `json:"source"`
	Target string `json:"target"`
}

func (b ClientBindMount) String() string {
	return fmt.Sprintf("service %s mounts %s at %s: Compose resolved that path on this machine, but the engine is remote and mounts the server's own %s (created empty if missing) — use a named volume, or an absolute path that exists on the server",
		b.Service, b.Source, b.Target, b.Source)
}

// ClientBindMounts lists the stack's bind mounts that a remote engine would
// take from its own filesystem although they name this machine's: those
// under the project directory or the operator's home. Nil when the engine is
// local (or its endpoint does not resolve: the engine calls say why).
func (s *Stack) ClientBindMounts() []ClientBindMount {
	ep, err := s.Endpoint()
	if err != nil || !ep.Remote() {
		return nil
	}
	// ~ is expanded by compose-go with this process's home; HOME as the
	// stack sees it is counted too.
	roots := []string{s.Dir}
	if home, err := os.UserHomeDir(); err == nil && home != "/" {
		roots = append(roots, home)
	}
	for _, kv := range s.environ {
		if v, ok := strings.CutPrefix(kv, "HOME="); ok && v != "" && v != "/" {
			roots = append(roots, v)
		}
	}
	under := func(p string) bool {
		for _, r := range roots {
			if r == "" {
				continue
			}
			if rel, err := filepath.Rel(r, p); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
				return true
			}
		}
		return false
	}
	var out []ClientBindMount
	for _, name := range s.ServiceNames() {
		for _, v := range s.Project.Services[name].Volumes {
			if v.Type != types.VolumeTypeBind || v.Source == "" || !filepath.IsAbs(v.Source) || !under(v.Source) {
				continue
			}
			out = append(out, ClientBindMount{Service: name, Source: v.Source, Target: v.Target})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Service < out[j].Service })
	return out
}
