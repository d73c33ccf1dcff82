package stackops

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// What curl and wget (busybox's and GNU's) print in the helper container
// becomes the probe's result.
func TestJudgeHelperOutput(t *testing.T) {
	cases := []struct {
		name, text string
		ok         bool
		code       int
		err        string
	}{
		{"curl 200", "HTTP/1.1 200", true, 200, ""},
		{"curl 503", "HTTP/1.1 503", false, 503, "HTTP 503"},
		{"curl refused", "curl: (7) Failed to connect to 127.0.0.1 port 8080: Connection refused\nHTTP/1.1 000", false, 0, "connection refused"},
		{"curl timeout", "curl: (28) Operation timed out after 2001 milliseconds\nHTTP/1.1 000", false, 0, "no answer within 2s"},
		{"curl other", "curl: (6) Could not resolve host: api\nHTTP/1.1 000", false, 0, "curl: (6) Could not resolve host: api"},
		{"wget ok", "HTTP/1.1 200", true, 200, ""},
		{"busybox wget 404", "wget: server returned error: HTTP/1.1 404 Not Found\nwget failed (exit 1)", false, 404, "HTTP 404"},
		{"GNU wget 500", "2025-01-01 12:00:00 ERROR 500: Internal Server Error.\nwget failed (exit 8)", false, 500, "HTTP 500"},
		{"busybox wget refused", "wget: can't connect to remote host (127.0.0.1): Connection refused\nwget failed (exit 1)", false, 0, "connection refused"},
		{"timeout(1)", "timed out", false, 0, "no answer within 2s"},
		{"something else", "wget: bad address 'api'\nwget failed (exit 1)", false, 0, "wget: bad address 'api'"},
		{"nothing", "", false, 0, "the probe printed nothing"},
	}
	for _, c := range cases {
		res := &ProbeResult{URL: "http://127.0.0.1:8080/"}
		judgeHelperOutput(res, c.text, 2*time.Second)
		if res.OK != c.ok || res.StatusCode != c.code || res.Error != c.err {
			t.Errorf("%s: ok=%v code=%d err=%q; want ok=%v code=%d err=%q", c.name, res.OK, res.StatusCode, res.Error, c.ok, c.code, c.err)
		}
	}
}

// Over ssh:// the channel a probe travels in is opened before the probe's
// clock starts: a slow `ssh -W` start (a loaded machine) is not the
// service's latency. The request itself still has the probe's timeout, and
// a channel that cannot be opened is the probe's failure, saying so.
func TestProbeThroughServerChannel(t *testing.T) {
	hang := make(chan struct{})
	defer close(hang)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			select {
			case <-hang:
			case <-r.Context().Done():
			}
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	var dialed []string
	var mu sync.Mutex
	slowChannel := &prober{dialServer: func(ctx context.Context, addr string) (net.Conn, error) {
		mu.Lock()
		dialed = append(dialed, addr)
		mu.Unlock()
		time.Sleep(600 * time.Millisecond) // longer than the probe's timeout
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}}
	timeout := Duration(300 * time.Millisecond)

	res := probeHTTP(context.Background(), slowChannel, ProbeConfig{URL: srv.URL + "/health", Timeout: timeout})
	if !res.OK || res.StatusCode != http.StatusNoContent || res.LatencyMS >= 300 {
		t.Errorf("a probe whose channel took 600 ms to open: %+v", res)
	}
	if want := strings.TrimPrefix(srv.URL, "http://"); len(dialed) != 1 || dialed[0] != want {
		t.Errorf("dialed %v, want one channel to %s", dialed, want)
	}

	res = probeHTTP(context.Background(), slowChannel, ProbeConfig{URL: srv.URL + "/slow", Timeout: timeout})
	if res.OK || res.Error != "no answer within 300ms" {
		t.Errorf("a service slower than the timeout: %+v", res)
	}

	broken := &prober{dialServer: func(context.Context, string) (net.Conn, error) {
		return nil, errors.New("ssh: channel 2: open failed: administratively prohibited")
	}}
	res = probeHTTP(context.Background(), broken, ProbeConfig{URL: "http://127.0.0.1/"})
	if res.OK || !strings.Contains(res.Error, "could not reach 127.0.0.1:80 from the server: ssh: channel 2: open failed") {
		t.Errorf("a channel that cannot be opened: %+v", res)
	}
}
