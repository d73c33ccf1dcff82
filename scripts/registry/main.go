// Command registry is the test bed's image registry: the CNCF distribution
// registry's own HTTP API (github.com/distribution/distribution/v3,
// registry/handlers) on its filesystem storage driver, and nothing else.
//
// Why not the upstream cmd/registry: its main links every storage driver
// (S3, Azure, GCS and their SDKs) and OpenTelemetry's exporters with gRPC;
// compiling those is most of its build time (the earlier attempt at this
// test bed took 12–14 minutes for it). scripts/build-registry-image.sh builds
// this program instead, with the module's tracing package cut down to the
// one constant the storage driver base uses (no exporters, no gRPC).
// It listens on :5000 without TLS (nodes list it in insecure-registries or
// reach it as 127.0.0.1) and keeps its data in /var/lib/registry.
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
)

// config is the registry's configuration file, as the upstream image ships
// it; REGISTRY_* environment variables override it as upstream's do.
const config = `version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: /var/lib/registry
  delete:
    enabled: true
http:
  addr: :5000
  secret: stackpilot-test-registry
`

func main() {
	conf, err := configuration.Parse(strings.NewReader(config))
	if err != nil {
		fmt.Fprintln(os.Stderr, "registry:", err)
		os.Exit(1)
	}
	app := handlers.NewApp(context.Background(), conf)
	fmt.Fprintln(os.Stderr, "registry: listening on", conf.HTTP.Addr)
	if err := http.ListenAndServe(conf.HTTP.Addr, app); err != nil {
		fmt.Fprintln(os.Stderr, "registry:", err)
		os.Exit(1)
	}
}
