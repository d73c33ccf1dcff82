package stackops

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stackpilot/stackpilot/stackops/internal/engine"
)

// Probes run where the stack runs. On a remote engine a probe URL means what
// it means on the server — a published 127.0.0.1:8080 is the SERVER's
// loopback, a host name is resolved by the server — so the request is made
// from there:
//
//   - ssh://: the HTTP connection is a channel of the command's one ssh
//     connection (`ssh -W host:port`, opened by the server's sshd): no extra
//     login, nothing needed on the server;
//   - tcp:// to another machine: the engine API carries no TCP connection,
//     so a short-lived helper container on the server's host network, from
//     the probed service's own image, runs curl or wget and reports the
//     status code. An image with neither makes the probe fail saying so.

// prober makes HTTP probes from where the stack runs: directly for a local
// engine, through the server's side for an ssh:// one. nil means "probe
// with a helper container" (a remote tcp:// engine).
type prober struct {
	// dialServer opens the connection from the server (ssh:// only).
	dialServer func(ctx context.Context, addr string) (net.Conn, error)
}

// serverDialTimeout bounds opening the ssh channel a probe travels in. It
// is not the service's time: the probe's own timeout starts once the
// channel is open, as it starts after the helper container for tcp://.
const serverDialTimeout = 15 * time.Second

// probeClient says how this stack's probes reach their URLs.
func (s *Stack) probeClient() *prober {
	ep, err := s.Endpoint()
	if err != nil || !ep.Remote() {
		return &prober{}
	}
	eng, err := s.Engine()
	if err != nil {
		return &prober{}
	}
	if !eng.CanDialServer() {
		return nil
	}
	return &prober{dialServer: eng.DialServer}
}

// client returns the HTTP client for one probe of u. Over ssh:// the
// channel is opened first, with its own bound, and the client uses it for
// the one request: a loaded laptop or server can take a second to start
// the `ssh -W` that carries it, and that second is not the service's
// latency. A failed dial is the probe's result.
func (p *prober) client(ctx context.Context, u string) (*http.Client, string) {
	if p.dialServer == nil {
		return &http.Client{Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}, ""
	}
	addr, err := probeAddr(u)
	if err != nil {
		return nil, err.Error()
	}
	dctx, cancel := context.WithTimeout(ctx, serverDialTimeout)
	defer cancel()
	conn, err := p.dialServer(dctx, addr)
	if err != nil {
		return nil, "could not reach " + addr + " from the server: " + err.Error()
	}
	var once sync.Once
	return &http.Client{Transport: &http.Transport{
		DisableKeepAlives: true,
		Proxy:             nil,
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			c := net.Conn(nil)
			once.Do(func() { c = conn })
			if c == nil { // a second connection (a redirect): a fresh channel
				return p.dialServer(ctx, addr)
			}
			return c, nil
		},
	}}, ""
}

// probeAddr is the host:port a probe URL connects to.
func probeAddr(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return net.JoinHostPort(u.Hostname(), port), nil
}

// probeScript runs in the helper container: curl, else wget, printing the
// HTTP status line it got (or its error); "no-http-client" when the image
// has neither. wget's exit status 0 means a 2xx (redirects followed); its
// -S (which would print the status) and -T (its timeout) crash Debian's
// static busybox, so timeout(1) bounds it where there is one.
const probeScript = `if command -v curl >/dev/null 2>&1; then
  curl -sS -o /dev/null -m "$2" -w 'HTTP/1.1 %{http_code}\n' "$1" 2>&1
elif command -v wget >/dev/null 2>&1; then
  t=; command -v timeout >/dev/null 2>&1 && t="timeout $2"
  $t wget -q -O /dev/null "$1" 2>&1; rc=$?
  if [ $rc = 0 ]; then echo 'HTTP/1.1 200'; elif [ $rc -ge 124 ]; then echo 'timed out'; else echo "wget failed (exit $rc)"; fi
else
  echo no-http-client
fi`

// httpStatusLine finds the status in curl's -w line, busybox wget's
// "server returned error: HTTP/1.1 404" and GNU wget's "ERROR 404".
var httpStatusLine = regexp.MustCompile(`(?:HTTP/[0-9.]+|ERROR) ([0-9]{3})`)

// probeInHelper makes one probe from the server's host network with a
// helper container from image. Like probeHTTP it never fails: a failure is
// the result.
// unusable is true when the image cannot run the probe (no sh, no client).
func probeInHelper(ctx context.Context, eng *engine.Client, project, image string, p ProbeConfig) (res *ProbeResult, unusable bool) {
	res = &ProbeResult{URL: p.URL}
	timeout := p.Timeout.Or(DefaultProbeTimeout)
	secs := strconv.Itoa(max(1, int((timeout+time.Second-1)/time.Second)))
	start := time.Now()
	var cfg engine.ContainerCreate
	cfg.Image = image
	cfg.Entrypoint = []string{"sh", "-c", probeScript, "probe", p.URL, secs}
	cfg.Tty = true // one plain stream to read
	cfg.Labels = map[string]string{"io.stackpilot.helper": "probe", "io.stackpilot.project": project}
	cfg.HostConfig.NetworkMode = "host"
	// The container's start and the round trips are not the service's
	// latency: give them room beyond the probe's own timeout.
	ctx, cancel := context.WithTimeout(ctx, timeout+15*time.Second)
	defer cancel()
	id, err := eng.CreateContainer(ctx, "", cfg)
	if err != nil {
		res.Error = "could not probe from the server: " + DockerError(err).Error()
		return res, false
	}
	defer func() { _ = eng.RemoveContainer(context.WithoutCancel(ctx), id, true, true) }()
	if err := eng.StartContainer(ctx, id); err != nil {
		res.Error = fmt.Sprintf("cannot probe from the server: the image %s cannot run sh: %v", image, DockerError(err))
		return res, true
	}
	rc, err := eng.ContainerLogs(ctx, id, engine.LogsOptions{Stdout: true, Stderr: true, Follow: true})
	if err != nil {
		res.Error = "could not probe from the server: " + DockerError(err).Error()
		return res, false
	}
	out, _ := io.ReadAll(io.LimitReader(rc, 64<<10))
	rc.Close()
	res.LatencyMS = float64(time.Since(start).Microseconds()) / 1000
	text := strings.TrimSpace(strings.ReplaceAll(string(out), "\r", ""))
	if strings.Contains(text, "no-http-client") {
		res.Error = fmt.Sprintf("cannot probe from the server: the image %s has neither curl nor wget (over ssh:// stackpilot needs neither)", image)
		return res, true
	}
	judgeHelperOutput(res, text, timeout)
	return res, false
}

// judgeHelperOutput reads what the helper's curl or wget printed into res:
// the last HTTP status seen (2xx passes), else why there was none.
func judgeHelperOutput(res *ProbeResult, text string, timeout time.Duration) {
	m := httpStatusLine.FindAllStringSubmatch(text, -1)
	if len(m) > 0 {
		res.StatusCode, _ = strconv.Atoi(m[len(m)-1][1])
	}
	res.OK = res.StatusCode >= 200 && res.StatusCode <= 299
	switch {
	case res.OK:
	case res.StatusCode != 0:
		res.Error = fmt.Sprintf("HTTP %d", res.StatusCode)
	case strings.Contains(text, "timed out"), strings.Contains(text, "Timeout"):
		res.Error = fmt.Sprintf("no answer within %s", timeout)
	case strings.Contains(text, "refused"):
		res.Error = "connection refused"
	case strings.TrimSpace(text) == "":
		res.Error = "the probe printed nothing"
	default: // the client's own error comes first (curl's "000", wget's exit status follow)
		res.Error = strings.TrimSpace(strings.SplitN(strings.TrimSpace(text), "\n", 2)[0])
	}
}

// probeFromServer probes with a helper container from the image of the
// service's running container — or, when that image has no sh or no HTTP
// client (a scratch image), from another running service's image.
func (s *Stack) probeFromServer(ctx context.Context, svc string, p ProbeConfig) *ProbeResult {
	eng, err := s.Engine()
	if err != nil {
		return &ProbeResult{URL: p.URL, Error: err.Error()}
	}
	list, err := eng.ListContainers(ctx, false, engine.Filters{"label": {LabelProject + "=" + s.Name}})
	if err != nil {
		return &ProbeResult{URL: p.URL, Error: "could not probe from the server: " + DockerError(err).Error()}
	}
	var images []string
	seen := map[string]bool{}
	for _, own := range []bool{true, false} {
		for _, c := range list {
			if (c.Labels[LabelService] == svc) == own && !seen[c.ImageID] {
				seen[c.ImageID] = true
				images = append(images, c.ImageID)
			}
		}
	}
	if len(images) == 0 {
		return &ProbeResult{URL: p.URL, Error: "no running container on the server to probe from"}
	}
	var res *ProbeResult
	for _, image := range images {
		var unusable bool
		if res, unusable = probeInHelper(ctx, eng, s.Name, image, p); !unusable {
			return res
		}
	}
	if len(images) > 1 {
		res.Error = "cannot probe from the server: no running service's image has sh and curl or wget (over ssh:// stackpilot needs neither)"
	}
	return res
}
