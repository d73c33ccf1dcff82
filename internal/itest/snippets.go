package itest

import "strings"

// Compose snippets the integration tests share. A compose text given to
// NewProject may hold these placeholders, each on its own line at the
// indentation the snippet needs:
//
//	{{idle}}         a busybox command that idles until SIGTERM, then exits 0
//	                 (busybox sh ignores TERM as PID 1 without the trap, so a
//	                 stop would wait its whole timeout)
//	{{healthy}}      a healthcheck that passes within a second
//	{{http-health}}  the fixture's HTTP healthcheck on :8080 (serve=:8080)
//	{{name}}         the project's name
var snippets = strings.NewReplacer(
	"{{idle}}", `command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.2; done"]`,
	"{{healthy}}", `healthcheck: {test: ["CMD", "true"], interval: 1s}`,
	"{{http-health}}", `healthcheck: {test: ["CMD", "/fixture", "check=http://127.0.0.1:8080/health"], interval: 1s, retries: 3}`,
)

// IdleVolumeService is a compose text with one busybox service that idles,
// reports healthy, and keeps the volume "data" at /srv: the stack most
// backup tests start from. extra is appended as-is (more top-level keys).
func IdleVolumeService(service, extra string) string {
	return `
services:
  ` + service + `:
    image: stackpilot-busybox:latest
    {{idle}}
    {{healthy}}
    volumes: ["data:/srv"]
volumes:
  data:
` + extra
}

// ExpandSnippets replaces the placeholders in a compose text.
func ExpandSnippets(compose string) string { return snippets.Replace(compose) }
