// Package starter is the project stackpilot's menu creates for someone who
// has none yet: a one-service compose file with every x-stackpilot section
// shown (most commented out), its .env and .env.example. The files are
// plain ones in this directory, embedded in the binary.
package starter

import (
	"embed"
	"io/fs"
)

//go:embed compose.yaml .env .env.example
var files embed.FS

// Names are the starter's files.
var Names = []string{"compose.yaml", ".env", ".env.example"}

// Files returns the starter's files by name.
func Files() map[string][]byte {
	out := make(map[string][]byte, len(Names))
	for _, n := range Names {
		b, err := fs.ReadFile(files, n)
		if err != nil {
			panic("starter: " + n + " is not embedded: " + err.Error())
		}
		out[n] = b
	}
	return out
}
