package envfile

import "strings"

// DefaultSecretPatterns are the substrings that make a key secret-looking.
var DefaultSecretPatterns = []string{"PASSWORD", "PASSWD", "PASS", "SECRET", "TOKEN", "KEY", "PRIVATE", "CREDENTIAL"}

// IsSecret reports whether key looks secret: it contains one of patterns
// (case-insensitive) and is not listed in notSecret.
func IsSecret(key string, patterns, notSecret []string) bool {
	for _, k := range notSecret {
		if k == key {
			return false
		}
	}
	up := strings.ToUpper(key)
	for _, p := range patterns {
		if p != "" && strings.Contains(up, strings.ToUpper(p)) {
			return true
		}
	}
	return false
}
