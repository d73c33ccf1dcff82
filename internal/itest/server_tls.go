package itest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stackpilot/stackpilot/internal/testcerts"
)

// TLSCerts are the files of a test's own certificate authority: the
// server's certificate for an IP, and a client certificate, in the layout
// DOCKER_CERT_PATH wants (ca.pem, cert.pem, key.pem) and dockerd's
// (server-cert.pem, server-key.pem).
type TLSCerts struct {
	Dir string // ca.pem, cert.pem, key.pem (client), server-cert.pem, server-key.pem
}

// NewTLSCerts makes a CA, a server certificate valid for ip, and a client
// certificate (package testcerts: crypto/x509, no openssl).
func NewTLSCerts(t testing.TB, ip string) *TLSCerts {
	t.Helper()
	dir := t.TempDir()
	ca := testcerts.NewCA(t)
	ca.WriteClientFiles(t, dir)
	cert, key := ca.Server(t, ip)
	writeFiles(t, dir, map[string][]byte{"server-cert.pem": cert, "server-key.pem": key})
	return &TLSCerts{Dir: dir}
}

// OtherCA writes a CA certificate nobody signed the server's with, as
// ca.pem in a directory that holds the same client certificate: a client
// that cannot verify the server.
func (c *TLSCerts) OtherCA(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string][]byte{"ca.pem": testcerts.NewCA(t).PEM}
	for _, f := range []string{"cert.pem", "key.pem"} {
		b, err := os.ReadFile(filepath.Join(c.Dir, f))
		if err != nil {
			t.Fatal(err)
		}
		files[f] = b
	}
	writeFiles(t, dir, files)
	return dir
}

func writeFiles(t testing.TB, dir string, files map[string][]byte) {
	t.Helper()
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
