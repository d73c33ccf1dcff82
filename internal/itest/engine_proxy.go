package itest

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// EngineProxy stands between stackpilot and the Docker Engine on a unix
// socket of its own, passing every byte through unchanged and recording each
// API request, so a test can count what a command asks the engine.
type EngineProxy struct {
	// Host is the DOCKER_HOST that reaches the engine through the proxy.
	Host string

	mu       sync.Mutex
	requests []ProxiedRequest
	turns    int
}

// ProxiedRequest is one API request seen by the proxy.
type ProxiedRequest struct {
	Method string
	// Path is without the API version prefix: "/containers/json", "/_ping".
	Path string
	// Conn numbers the client connection it came on, from 1.
	Conn int
}

var apiVersionPrefix = regexp.MustCompile(`^/v[0-9.]+/`)

// StartEngineProxy starts a proxy to the engine at /var/run/docker.sock (or
// DOCKER_HOST's unix socket), stopped when the test ends.
func StartEngineProxy(t testing.TB) *EngineProxy {
	t.Helper()
	target := "/var/run/docker.sock"
	if h := os.Getenv("DOCKER_HOST"); strings.HasPrefix(h, "unix://") {
		target = strings.TrimPrefix(h, "unix://")
	}
	dir, err := os.MkdirTemp("", "spproxy-") // short: a socket path has a length limit
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "docker.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	p := &EngineProxy{Host: "unix://" + sock}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		os.RemoveAll(dir)
	})
	go func() {
		n := 0
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			n++
			wg.Add(1)
			go func(conn int) {
				defer wg.Done()
				p.serve(client, target, conn)
			}(n)
		}
	}()
	return p
}

// serve passes one connection through, parsing the client's side to record
// its requests and counting its turns: each time the client sends after the
// engine has answered is one round trip more.
func (p *EngineProxy) serve(client net.Conn, target string, conn int) {
	defer client.Close()
	server, err := net.Dial("unix", target)
	if err != nil {
		return
	}
	defer server.Close()
	var mu sync.Mutex
	answered := true // the first request is a turn
	pr, pw := io.Pipe()
	go func() {
		br := bufio.NewReader(pr)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				break
			}
			p.mu.Lock()
			p.requests = append(p.requests, ProxiedRequest{Method: req.Method, Path: apiVersionPrefix.ReplaceAllString(req.URL.Path, "/"), Conn: conn})
			p.mu.Unlock()
			_, _ = io.Copy(io.Discard, req.Body)
			if req.Header.Get("Upgrade") != "" {
				break // a raw stream follows (exec, attach)
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 32<<10)
		for {
			n, err := server.Read(buf)
			if n > 0 {
				mu.Lock()
				answered = true
				mu.Unlock()
				if _, werr := client.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				client.Close()
				return
			}
		}
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := client.Read(buf)
		if n > 0 {
			mu.Lock()
			if answered {
				answered = false
				p.mu.Lock()
				p.turns++
				p.mu.Unlock()
			}
			mu.Unlock()
			_, _ = pw.Write(buf[:n])
			if _, werr := server.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	pw.Close()
	if uc, ok := server.(*net.UnixConn); ok {
		_ = uc.CloseWrite()
	}
	<-done
}

// Reset forgets what was recorded.
func (p *EngineProxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests, p.turns = nil, 0
}

// Requests returns the requests recorded so far.
func (p *EngineProxy) Requests() []ProxiedRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]ProxiedRequest(nil), p.requests...)
}

// Turns is how many times a client sent requests after the engine had
// answered on that connection (a connection's first request counts): the
// round trips, however many requests each one carried.
func (p *EngineProxy) Turns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.turns
}

// Count returns how many recorded requests have the method and a path that
// matches the pattern (a regular expression).
func (p *EngineProxy) Count(method, pathPattern string) int {
	re := regexp.MustCompile(pathPattern)
	n := 0
	for _, r := range p.Requests() {
		if r.Method == method && re.MatchString(r.Path) {
			n++
		}
	}
	return n
}
