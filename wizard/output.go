package wizard

import (
	"encoding/json"
	"io"
)

// writeJSON prints a --json result: indented, one document, on stdout.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
