package selfupdate

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/stackpilot/stackpilot/stackops"
)

// ManagedError is ErrManaged with the package manager that owns the binary
// and the command that updates it: replacing a file a package manager
// installed would leave its database describing another file, and its next
// upgrade would silently undo ours.
type ManagedError struct {
	Path    string
	Manager string // "Homebrew", "dpkg", "rpm"
	Package string
	Command string // what updates it instead
}

func (e *ManagedError) Error() string {
	return fmt.Sprintf("%s was installed by %s (package %s) — update it with: %s", e.Path, e.Manager, e.Package, e.Command)
}

// Is matches ErrManaged.
func (e *ManagedError) Is(target error) bool { return target == ErrManaged }

// managedBy returns a *ManagedError when a package manager owns path:
// Homebrew by its Cellar layout, dpkg and rpm by asking their databases
// (through runner; a missing dpkg or rpm simply owns nothing).
func managedBy(ctx context.Context, runner stackops.Runner, path string) error {
	// Homebrew links bin/stackpilot to its Cellar; the path here has its
	// symlinks resolved.
	if strings.Contains(filepath.ToSlash(path), "/Cellar/") {
		return &ManagedError{Path: path, Manager: "Homebrew", Package: "stackpilot", Command: "brew upgrade stackpilot"}
	}
	for _, p := range dpkgCandidates(path) {
		var out bytes.Buffer
		if err := runner.Run(ctx, stackops.Cmd{Args: []string{"dpkg", "-S", p}, Stdout: &out, Stderr: &bytes.Buffer{}}); err != nil {
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			continue
		}
		if pkg := dpkgOwner(out.String(), p); pkg != "" {
			name, _, _ := strings.Cut(pkg, ":") // "stackpilot:amd64"
			return &ManagedError{Path: path, Manager: "dpkg (apt)", Package: name, Command: "sudo apt-get update && sudo apt-get install --only-upgrade " + name}
		}
	}
	var out bytes.Buffer
	if err := runner.Run(ctx, stackops.Cmd{Args: []string{"rpm", "-qf", "--qf", "%{NAME}\n", path}, Stdout: &out, Stderr: &bytes.Buffer{}}); err == nil {
		if name := strings.TrimSpace(out.String()); name != "" && !strings.Contains(name, " ") {
			return &ManagedError{Path: path, Manager: "rpm", Package: name, Command: "sudo dnf upgrade " + name + " (or yum, zypper)"}
		}
	} else if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return nil
}

// dpkgCandidates are the names dpkg may know path by: on merged-/usr
// systems a file in /usr/bin may be registered as /bin/….
func dpkgCandidates(path string) []string {
	out := []string{path}
	for _, pair := range [][2]string{{"/usr/bin/", "/bin/"}, {"/usr/sbin/", "/sbin/"}, {"/bin/", "/usr/bin/"}, {"/sbin/", "/usr/sbin/"}} {
		if rest, ok := strings.CutPrefix(path, pair[0]); ok && !strings.Contains(rest, "/") {
			out = append(out, pair[1]+rest)
		}
	}
	return out
}

// dpkgOwner reads `dpkg -S PATH`'s answer ("pkg[, pkg2]: PATH", with
// "diversion by …" lines to skip) and returns the first owning package.
func dpkgOwner(out, path string) string {
	for _, line := range strings.Split(out, "\n") {
		pkgs, file, ok := strings.Cut(line, ": ")
		if !ok || strings.HasPrefix(line, "diversion ") || strings.TrimSpace(file) != path {
			continue
		}
		first, _, _ := strings.Cut(pkgs, ",")
		return strings.TrimSpace(first)
	}
	return ""
}
