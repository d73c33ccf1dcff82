package wizard

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/stackpilot/stackpilot/examples/starter"
	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/stackops/envfile"
	"github.com/stackpilot/stackpilot/steps"
)

// outsideProjectEntries are the menu's jobs when it was started where no
// compose project is: open one, create one from the bundled starter, or
// check the machine. The jobs that act on a stack are left out — each
// would fail the same way.
func outsideProjectEntries() []menuEntry {
	return []menuEntry{
		{Label: "Open a project — a recent one, one found below this directory, or a path", Run: runOpenProject},
		{Label: "Create a project from the example — a starter compose.yaml, .env and .env.example", Run: runCreateProject},
		{Label: "Doctor — check docker and compose", Equivalent: []string{"doctor"}, Run: func(ctx context.Context, f *Factory) error {
			return runDoctor(ctx, f, &doctorOptions{})
		}},
	}
}

// cacheDir is where the recent projects are remembered.
func (f *Factory) cacheDir() string { return stackops.CacheDir(f.Environ) }

// rememberProject adds the project the menu works on to the recent ones;
// a failure only costs the convenience, so it is not reported.
func (f *Factory) rememberProject(st *stackops.Stack) {
	if st != nil {
		_ = stackops.RememberProject(f.cacheDir(), st)
	}
}

// openProject points every following job at the project in dir (files:
// its compose files when they do not have a default name). The global
// flags of the command line that chose another project are dropped with it.
func (f *Factory) openProject(dir string, files []string) {
	g := &f.Global
	g.ProjectDir, g.Files, g.ProjectName, g.EnvFiles, g.Profiles = dir, files, "", nil, nil
	f.forgetStack()
	f.mu.Lock()
	f.located = nil
	f.mu.Unlock()
}

const (
	typePathLabel = "Type a path…"
	backLabel     = "Back"
)

// runOpenProject is the menu's "Open a project": the recent projects that
// still exist, the compose files found below the current directory, or a
// path typed in. The menu then runs on that project.
func runOpenProject(ctx context.Context, f *Factory) error {
	cs := f.IO.ErrColorScheme()
	here := f.workDir()
	recent := stackops.RecentProjects(f.cacheDir())
	stop := steps.Spin(f.IO, "Looking for compose files below "+here+"…")
	found := stackops.FindComposeFiles(here, stackops.FindOptions{})
	stop()
	type choice struct{ dir, file string }
	var labels []string
	var choices []choice
	known := map[string]bool{}
	for _, p := range recent {
		known[p.Dir] = true
		labels = append(labels, fmt.Sprintf("%s — %s %s", p.Name, displayPath(p.Dir), cs.Gray("(used "+steps.Ago(time.Since(p.Used))+")")))
		choices = append(choices, choice{dir: p.Dir})
	}
	for _, file := range found {
		dir := filepath.Dir(file)
		if known[dir] {
			continue
		}
		rel, err := filepath.Rel(here, file)
		if err != nil {
			rel = file
		}
		labels = append(labels, "./"+rel)
		choices = append(choices, choice{dir: dir})
	}
	if len(choices) == 0 {
		fmt.Fprintf(f.IO.ErrOut, "%s no recent project, and no compose file in the directories below %s\n", cs.Gray("·"), here)
	}
	labels = append(labels, typePathLabel, backLabel)
	idx, err := f.Prompter.Select("Which project?", labels, labels[0])
	if err != nil {
		return err
	}
	var dir string
	var files []string
	switch {
	case idx < len(choices):
		dir = choices[idx].dir
	case labels[idx] == typePathLabel:
		if dir, files, err = askProjectPath(f); err != nil || dir == "" {
			return err
		}
	default:
		return nil
	}
	f.openProject(dir, files)
	announceProject(f, dir, files)
	return nil
}

// askProjectPath asks for a project directory or compose file until one
// holds a compose project; nothing typed goes back ("" and no error).
func askProjectPath(f *Factory) (string, []string, error) {
	for {
		p, err := f.Prompter.Input("Project directory or compose file (Enter alone goes back):", "")
		if err != nil {
			return "", nil, err
		}
		p = expandHome(strings.TrimSpace(p))
		if p == "" {
			fmt.Fprintf(f.IO.ErrOut, "%s nothing typed — no project opened\n", f.IO.ErrColorScheme().Gray("—"))
			return "", nil, nil
		}
		if !filepath.IsAbs(p) {
			p = filepath.Join(f.workDir(), p)
		}
		dir, files, perr := projectAt(p)
		if perr == nil {
			return dir, files, nil
		}
		fmt.Fprintf(f.IO.ErrOut, "%s %v\n", f.IO.ErrColorScheme().FailureIcon(), perr)
	}
}

// projectAt says which project a typed path names: a directory holding a
// compose file with a default name, or a compose file (then passed as -f
// unless its name is a default one).
func projectAt(p string) (string, []string, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return "", nil, err
	}
	if !fi.IsDir() {
		dir, base := filepath.Split(p)
		for _, n := range stackops.DefaultComposeFileNames {
			if base == n {
				return filepath.Clean(dir), nil, nil
			}
		}
		return filepath.Clean(dir), []string{p}, nil
	}
	for _, n := range stackops.DefaultComposeFileNames {
		if fi, err := os.Stat(filepath.Join(p, n)); err == nil && !fi.IsDir() {
			return p, nil, nil
		}
	}
	return "", nil, fmt.Errorf("no %s in %s — type the compose file's path if it has another name", strings.Join(stackops.DefaultComposeFileNames, ", "), p)
}

// announceProject says which project the menu now runs on, and how to
// open it the same way next time.
func announceProject(f *Factory, dir string, files []string) {
	cs := f.IO.ErrColorScheme()
	fmt.Fprintf(f.IO.ErrOut, "%s the menu now runs on %s\n", cs.SuccessIcon(), dir)
	args := []string{"stackpilot", "-C", quoteArg(dir)}
	for _, file := range files {
		args = append(args, "-f", quoteArg(file))
	}
	fmt.Fprintf(f.IO.ErrOut, "%s %s\n", cs.Gray("Equivalent command:"), cs.Cyan(strings.Join(args, " ")))
}

// displayPath shortens a path under the home directory to ~/….
func displayPath(p string) string {
	if h, err := os.UserHomeDir(); err == nil && h != "/" && strings.HasPrefix(p, h+string(filepath.Separator)) {
		return "~" + p[len(h):]
	}
	return p
}

// starterImage is the image the starter's web service runs: busybox from
// Docker Hub, or any image with busybox's sh, httpd and wget.
const starterImage = "busybox:1.36"

// runCreateProject is the menu's "Create a project from the example": it
// asks where, and which image the web service runs (the starter's default
// comes from Docker Hub; on a machine without it, busybox images already
// there are offered), picks a free host port, writes the starter's files
// and runs the menu on the new project.
func runCreateProject(ctx context.Context, f *Factory) error {
	cs := f.IO.ErrColorScheme()
	var dir string
	for {
		d, err := f.Prompter.Input("Directory for the new project:", "stackpilot-starter")
		if err != nil {
			return err
		}
		d = expandHome(strings.TrimSpace(d))
		if d == "" {
			continue
		}
		if !filepath.IsAbs(d) {
			d = filepath.Join(f.workDir(), d)
		}
		if _, _, err := projectAt(d); err == nil {
			fmt.Fprintf(f.IO.ErrOut, "%s %s already holds a compose project: open it instead, or choose another directory\n", cs.FailureIcon(), d)
			continue
		}
		dir = filepath.Clean(d)
		break
	}
	image, err := chooseStarterImage(ctx, f)
	if err != nil {
		return err
	}
	port := freePort(8080, 8099)
	files := starter.Files()
	doc, err := envfile.Parse(files[".env"], nil)
	if err != nil {
		return fmt.Errorf("the bundled starter's .env: %w", err)
	}
	if err := doc.Set("WEB_IMAGE", image); err != nil {
		return err
	}
	if err := doc.Set("WEB_PORT", strconv.Itoa(port)); err != nil {
		return err
	}
	files[".env"] = []byte(doc.View())
	if err := stackops.CreateProject(dir, files); err != nil {
		return err
	}
	fmt.Fprintf(f.IO.ErrOut, "%s created %s: %s — web runs %s on http://127.0.0.1:%d\n", cs.SuccessIcon(), dir, strings.Join(starter.Names, ", "), image, port)
	f.openProject(dir, nil)
	fmt.Fprintf(f.IO.ErrOut, "  next: Deploy brings it up (%s); Environment changes its settings\n", f.hint("deploy"))
	announceProject(f, dir, nil)
	return nil
}

// chooseStarterImage asks which image the starter's web service runs. The
// default is busybox from Docker Hub; when the engine does not have it, the
// busybox images it has come first (a machine that cannot pull runs one of
// those), and any other image can be typed.
func chooseStarterImage(ctx context.Context, f *Factory) (string, error) {
	local, err := stackops.LocalImages(ctx, f.Environ, "busybox")
	if err != nil {
		fmt.Fprintf(f.IO.ErrOut, "%s could not list the images on this machine: %v\n", f.IO.ErrColorScheme().WarningIcon(), err)
	}
	hasDefault := false
	for _, im := range local {
		if im == starterImage || im == "docker.io/library/"+starterImage {
			hasDefault = true
		}
	}
	var labels, images []string
	for _, im := range local {
		if im != starterImage {
			labels = append(labels, im+" — on this machine")
			images = append(images, im)
		}
	}
	hub := starterImage + " — from Docker Hub (the first deploy pulls it)"
	if hasDefault {
		hub = starterImage + " — on this machine"
	}
	if hasDefault || len(images) == 0 {
		labels, images = append([]string{hub}, labels...), append([]string{starterImage}, images...)
	} else {
		labels, images = append(labels, hub), append(images, starterImage)
	}
	labels = append(labels, "Another image (with busybox's sh, httpd and wget)…")
	idx, err := f.Prompter.Select("Which image should the web service run?", labels, labels[0])
	if err != nil {
		return "", err
	}
	if idx < len(images) {
		return images[idx], nil
	}
	for {
		im, err := f.Prompter.Input("Image:", starterImage)
		if err != nil {
			return "", err
		}
		if im = strings.TrimSpace(im); im != "" && !strings.ContainsAny(im, " \t\n$") {
			return im, nil
		}
	}
}

// freePort is the first port in [from, to] nothing listens on at
// 127.0.0.1, or from when all are taken (deploy then says which is busy).
func freePort(from, to int) int {
	for p := from; p <= to; p++ {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err == nil {
			l.Close()
			return p
		}
	}
	return from
}
