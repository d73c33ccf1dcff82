package stackops

import (
	"fmt"
	"io"
	"strings"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/docker/cli/pkg/kvfile"
)

// An env_file entry may say `format: raw`: its lines are KEY=VALUE taken
// as written — no quotes, escapes or ${…} — the way `docker run
// --env-file` reads them. compose-go leaves that format to the program
// using it; Compose registers docker/cli's parser for it (cmd/compose/
// compose.go, rawEnv), and so does stackpilot, with the same parser.
func init() {
	dotenv.RegisterFormat("raw", rawEnvFile)
}

func rawEnvFile(r io.Reader, filename string, vars map[string]string, lookup func(key string) (string, bool)) error {
	lines, err := kvfile.ParseFromReader(r, lookup)
	if err != nil {
		return fmt.Errorf("failed to parse env_file %s: %w", filename, err)
	}
	for _, line := range lines {
		key, value, _ := strings.Cut(line, "=")
		vars[key] = value
	}
	return nil
}
