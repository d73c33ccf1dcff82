package engine

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stackpilot/stackpilot/internal/testcerts"
	"github.com/stackpilot/stackpilot/stackops/endpoint"
)

// pingDaemon answers /_ping as the engine does, enough to negotiate.
func pingDaemon() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("API-Version", "1.41")
		_, _ = w.Write([]byte("OK"))
	})
}

func tlsServer(t *testing.T, cfg *testcerts.CA, clientCA *testcerts.CA) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(pingDaemon())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are the point
	srv.TLS = cfg.ServerTLS(t, clientCA, "127.0.0.1")
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return "tcp://" + srv.Listener.Addr().String()
}

func ping(t *testing.T, ep *endpoint.Endpoint) error {
	t.Helper()
	c, err := NewEndpoint(ep)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err = c.Ping(ctx)
	return err
}

func TestTLSEndpoint(t *testing.T) {
	ca := testcerts.NewCA(t)
	host := tlsServer(t, ca, ca) // the daemon demands a client certificate from its CA
	cert, key := ca.Client(t)

	if err := ping(t, &endpoint.Endpoint{Host: host, TLS: &endpoint.TLS{CA: ca.PEM, Cert: cert, Key: key, Origin: "test"}}); err != nil {
		t.Fatalf("mutual TLS with the right CA and client certificate: %v", err)
	}

	other := testcerts.NewCA(t)
	oc, ok := other.Client(t)
	err := ping(t, &endpoint.Endpoint{Host: host, TLS: &endpoint.TLS{CA: other.PEM, Cert: oc, Key: ok, Origin: "test"}})
	if !errors.Is(err, ErrTLS) || !strings.Contains(err.Error(), "daemon's certificate was rejected") || !strings.Contains(err.Error(), "ca.pem") {
		t.Fatalf("a daemon certificate from another CA: %v", err)
	}

	err = ping(t, &endpoint.Endpoint{Host: host, TLS: &endpoint.TLS{CA: ca.PEM, Cert: oc, Key: ok, Origin: "test"}})
	if !errors.Is(err, ErrTLS) || !strings.Contains(err.Error(), "refused the TLS connection") {
		t.Fatalf("a client certificate the daemon does not trust: %v", err)
	}

	err = ping(t, &endpoint.Endpoint{Host: host})
	if !errors.Is(err, ErrTLS) || !strings.Contains(err.Error(), "DOCKER_TLS_VERIFY=1") {
		t.Fatalf("plain HTTP to a TLS daemon: %v", err)
	}
}

func TestTLSToPlainDaemon(t *testing.T) {
	srv := httptest.NewServer(pingDaemon())
	t.Cleanup(srv.Close)
	host := "tcp://" + srv.Listener.Addr().String()
	if err := ping(t, &endpoint.Endpoint{Host: host}); err != nil {
		t.Fatalf("plain tcp://: %v", err)
	}
	ca := testcerts.NewCA(t)
	err := ping(t, &endpoint.Endpoint{Host: host, TLS: &endpoint.TLS{CA: ca.PEM, Origin: "test"}})
	if !errors.Is(err, ErrTLS) || !strings.Contains(err.Error(), "does not speak TLS") {
		t.Fatalf("TLS to a plain daemon: %v", err)
	}
}

func TestTCPUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	start := time.Now()
	err = ping(t, &endpoint.Endpoint{Host: "tcp://" + addr})
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "check the address") {
		t.Fatalf("a closed port: %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("a refused connection took %s", time.Since(start))
	}
}

func TestSSHEndpointParse(t *testing.T) {
	for _, host := range []string{"ssh://u:pw@h", "ssh://h?x=1"} {
		if _, err := NewEndpoint(&endpoint.Endpoint{Host: host}); err == nil {
			t.Errorf("NewEndpoint(%q) accepted it", host)
		}
	}
	d, err := newSSHDialer("ssh://deploy@10.0.0.5:2222")
	if err != nil {
		t.Fatal(err)
	}
	if got := d.target(); got != "-p 2222 deploy@10.0.0.5" {
		t.Fatalf("target = %q", got)
	}
}

// What ssh and the server's docker print becomes an error that says what to do.
func TestSSHClassify(t *testing.T) {
	d, err := newSSHDialer("ssh://deploy@10.0.0.5")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		stderr string
		want   error
		say    string
	}{
		{"No ED25519 host key is known for 10.0.0.5 and you have requested strict checking.\r\nHost key verification failed.", ErrSSHHostKey, "`ssh deploy@10.0.0.5`"},
		{"@@@ WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! @@@", ErrSSHHostKey, "ssh-keygen -R 10.0.0.5"},
		{"deploy@10.0.0.5: Permission denied (publickey).", ErrSSHAuth, "authorized_keys"},
		{"ssh: connect to host 10.0.0.5 port 22: Connection timed out", ErrUnreachable, "port 22: Connection timed out"},
		{"ssh: connect to host 10.0.0.5 port 22: No route to host", ErrUnreachable, "No route to host"},
		{"ssh: Could not resolve hostname nowhere: Name or service not known", ErrUnreachable, "Could not resolve"},
		{"command [ssh …] has exited with exit status 127, make sure …: stderr=bash: line 1: docker: command not found", ErrNoDocker, "install Docker on the server"},
		{"stderr=Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?", ErrDaemonDown, "on the server"},
		{"stderr=permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock", ErrPermissionDenied, "usermod -aG docker deploy"},
	}
	for _, tc := range cases {
		err := d.classify(tc.stderr)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.say) || !strings.Contains(err.Error(), "ssh://deploy@10.0.0.5") {
			t.Errorf("classify(%q) = %v; want %v saying %q", tc.stderr, err, tc.want, tc.say)
		}
	}
	if err := d.classify("something else entirely"); err != nil {
		t.Errorf("an unknown message was classified: %v", err)
	}
}
