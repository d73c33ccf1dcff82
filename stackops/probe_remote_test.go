package stackops

import (
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
