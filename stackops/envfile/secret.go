package envfile

import (
	"net/url"
	"strings"
	"unicode"

	"github.com/stackpilot/stackpilot/stackops/internal/lazyre"
)

// IsSecret reports whether key looks secret. With patterns (a project's
// x-stackpilot.env.secrets) it is any case-insensitive substring of them;
// without (nil), the default rules of LooksSecret. A key in notSecret never is.
func IsSecret(key string, patterns, notSecret []string) bool {
	for _, k := range notSecret {
		if k == key {
			return false
		}
	}
	if patterns == nil {
		return LooksSecret(key)
	}
	up := strings.ToUpper(key)
	for _, p := range patterns {
		if p != "" && strings.Contains(up, strings.ToUpper(p)) {
			return true
		}
	}
	return false
}

// The default rules, by the words of a key (split at _, -, . and
// camelCase; compared upper-cased). They aim at what keys holding secrets
// are called, while a key that merely mentions one (AUTH_ENABLED,
// SESSION_LIFETIME, COOKIE_DOMAIN, JWT_TTL, TOKEN_FILE) keeps its value
// visible — a list that masks everything is a list people turn off.
var (
	// secretAnywhere are substrings that make a key secret wherever they
	// are, whatever follows: nobody names a non-secret PASSWORD_x.
	secretAnywhere = []string{"PASSWORD", "PASSWD", "PASSPHRASE", "SECRET", "PRIVATEKEY", "PRIVATE_KEY", "CONNECTION_STRING", "CONNECTIONSTRING", "WEBHOOK"}
	// secretWords are words that make a key secret unless its last word
	// says it holds something about the secret rather than the secret
	// (notSecretLast).
	secretWords = map[string]bool{
		"PASS": true, "PWD": true, "TOKEN": true, "TOKENS": true, "KEY": true, "KEYS": true, "APIKEY": true,
		"AUTH": true, "AUTHORIZATION": true, "BEARER": true, "JWT": true, "SESSION": true, "COOKIE": true, "COOKIES": true,
		"DSN": true, "SALT": true, "PEPPER": true, "HMAC": true, "NONCE": true, "CREDENTIAL": true, "CREDENTIALS": true, "CREDS": true,
		"PRIVATE": true, "SIGNING": true, "CERTKEY": true,
	}
	// secretSuffixes make a word secret when it ends with one (DBPASS,
	// GITHUBTOKEN, APIKEY, MASTERKEY), except the words in notSecretWords.
	secretSuffixes = []string{"PASS", "TOKEN", "TOKENS", "KEY", "KEYS"}
	notSecretWords = map[string]bool{"BYPASS": true, "COMPASS": true, "SURPASS": true, "MONKEY": true, "TURNKEY": true, "HOTKEY": true,
		"HOCKEY": true, "JOCKEY": true, "WHISKEY": true, "TURKEY": true, "DONKEY": true}
	// notSecretLast are last words that describe a setting around a secret.
	notSecretLast = map[string]bool{
		"ENABLED": true, "ENABLE": true, "DISABLED": true, "DISABLE": true, "REQUIRED": true,
		"URL": true, "URLS": true, "URI": true, "ENDPOINT": true, "HOST": true, "HOSTNAME": true, "PORT": true, "DOMAIN": true,
		"ADDR": true, "ADDRESS": true, "SOCK": true, "SOCKET": true, "PATH": true, "FILE": true, "DIR": true,
		"NAME": true, "ID": true, "USER": true, "USERNAME": true, "EMAIL": true,
		"TYPE": true, "MODE": true, "METHOD": true, "PROVIDER": true, "DRIVER": true, "BACKEND": true, "ADAPTER": true, "STORE": true,
		"STRATEGY": true, "SCHEME": true, "ALGORITHM": true, "ALG": true, "ISSUER": true, "AUDIENCE": true, "REALM": true, "SCOPE": true, "SCOPES": true,
		"TIMEOUT": true, "TTL": true, "LIFETIME": true, "EXPIRY": true, "EXPIRE": true, "EXPIRES": true, "EXPIRATION": true, "AGE": true,
		"SECURE": true, "SAMESITE": true, "HTTPONLY": true, "PREFIX": true, "VERSION": true, "LEVEL": true,
		"LENGTH": true, "SIZE": true, "COUNT": true, "LIMIT": true, "CLASS": true,
	}
)

// LooksSecret is the default rule set: DB_PASSWORD, MYSQL_PWD, SMTP_PASS,
// GITHUB_TOKEN, API_KEY, SENTRY_DSN, AUTH_HEADER, BASIC_AUTH, JWT_SIGNING,
// AUTH_SALT, SESSION_SECRET, ADMIN_COOKIE, CLIENT_CREDENTIALS, PRIVATE_KEY,
// SLACK_WEBHOOK_URL are secret; AUTHOR, PWD and OLDPWD (the shell's working
// directories), KEYCLOAK_URL, TOKENIZERS_PARALLELISM, BYPASS_CACHE,
// AUTH_ENABLED, SESSION_DRIVER, COOKIE_DOMAIN, JWT_TTL, TOKEN_FILE and
// AWS_ACCESS_KEY_ID are not.
func LooksSecret(key string) bool {
	up := strings.ToUpper(key)
	for _, s := range secretAnywhere {
		if strings.Contains(up, s) {
			return true
		}
	}
	words := keyWords(key)
	if len(words) == 0 || notSecretLast[words[len(words)-1]] {
		return false
	}
	if len(words) == 1 && words[0] == "PWD" {
		return false // the shell's working directory
	}
	for _, w := range words {
		if secretWords[w] {
			return true
		}
		if notSecretWords[w] {
			continue
		}
		for _, s := range secretSuffixes {
			if strings.HasSuffix(w, s) {
				return true
			}
		}
	}
	return false
}

// keyWords splits a key into upper-cased words at '_', '-', '.' and
// lower-to-upper case changes (dbPassword → DB, PASSWORD).
func keyWords(key string) []string {
	var words []string
	var cur []rune
	prevLower := false
	flush := func() {
		if len(cur) > 0 {
			words = append(words, strings.ToUpper(string(cur)))
			cur = cur[:0]
		}
	}
	for _, r := range key {
		switch {
		case r == '_' || r == '-' || r == '.' || unicode.IsSpace(r):
			flush()
			prevLower = false
			continue
		case unicode.IsUpper(r) && prevLower:
			flush()
		}
		cur = append(cur, r)
		prevLower = unicode.IsLower(r) || unicode.IsDigit(r)
	}
	flush()
	return words
}

// urlUserinfoRe finds the user:pass@ (or token@) part of URL-looking text:
// a scheme, "://", then credentials up to the last @ of the authority (a
// password written with a raw @ is still masked whole; an @ in the path,
// after the first /, is not credentials).
var urlUserinfoRe = lazyre.New(`([A-Za-z][A-Za-z0-9+.-]*://)([^/?#\s]*@)`)

// MaskURLCredentials replaces the credentials of every URL in s —
// postgres://app:hunter2@db/app, https://TOKEN@github.com/… — with Mask
// (postgres://********@db/app), and reports whether there were any.
func MaskURLCredentials(s string) (string, bool) {
	if !strings.Contains(s, "://") || !strings.Contains(s, "@") {
		return s, false
	}
	found := false
	out := urlUserinfoRe().ReplaceAllStringFunc(s, func(m string) string {
		sub := urlUserinfoRe().FindStringSubmatch(m)
		if sub[2] == "@" {
			return m
		}
		found = true
		return sub[1] + Mask + "@"
	})
	return out, found
}

// URLCredentials returns the credentials in s's URLs as they are written
// and decoded ("app:hunter2", "hunter2"): values to hide wherever they
// appear.
func URLCredentials(s string) []string {
	if !strings.Contains(s, "://") || !strings.Contains(s, "@") {
		return nil
	}
	var out []string
	for _, sub := range urlUserinfoRe().FindAllStringSubmatch(s, -1) {
		info := strings.TrimSuffix(sub[2], "@")
		if info == "" {
			continue
		}
		out = append(out, info)
		user, pass, ok := strings.Cut(info, ":")
		if ok && pass != "" {
			out = append(out, pass)
			if dec, err := url.PathUnescape(pass); err == nil && dec != pass {
				out = append(out, dec)
			}
		} else if !ok {
			if dec, err := url.PathUnescape(user); err == nil && dec != user {
				out = append(out, dec)
			}
		}
	}
	return out
}
