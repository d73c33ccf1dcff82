package envfile

import (
	"strings"
	"testing"
)

// The default rules mask what keys holding secrets are called, and leave
// visible the keys that merely mention one — both sides matter: a rule that
// masks AUTHOR or PWD gets turned off.
func TestLooksSecret(t *testing.T) {
	secret := []string{
		"DB_PASSWORD", "POSTGRES_PASSWORD_FILE", "MYSQL_PWD", "DB_PWD", "SMTP_PASS", "DBPASS", "REDIS_PASSWD", "GPG_PASSPHRASE",
		"GITHUB_TOKEN", "API_TOKEN", "ACCESS_TOKENS", "APITOKEN", "API_KEY", "APIKEY", "STRIPE_SECRET_KEY", "MASTERKEY", "SECRET_KEY_BASE",
		"AWS_SECRET_ACCESS_KEY", "SENTRY_DSN", "DATABASE_DSN", "AUTH_HEADER", "BASIC_AUTH", "HTTP_AUTHORIZATION", "AUTH",
		"JWT_SIGNING", "JWT_SECRET", "JWT", "AUTH_SALT", "NONCE_SALT", "PASSWORD_PEPPER", "SESSION_SECRET", "TELEGRAM_SESSION",
		"ADMIN_COOKIE", "COOKIE_SECRET", "CLIENT_CREDENTIALS", "GOOGLE_CREDENTIALS", "REGISTRY_CREDS", "PRIVATE_KEY", "SSH_PRIVATE_KEY",
		"SLACK_WEBHOOK_URL", "DISCORD_WEBHOOK", "AZURE_STORAGE_CONNECTION_STRING", "HMAC_KEY", "dbPassword", "apiKey", "stripe.secret",
		"OAUTH_TOKEN", "BEARER", "SIGNING_KEY",
	}
	notSecret := []string{
		"AUTHOR", "AUTHORS_FILE", "PWD", "OLDPWD", "KEYCLOAK_URL", "KEYCLOAK_REALM", "TOKENIZERS_PARALLELISM", "BYPASS_CACHE", "COMPASS_URL",
		"AUTH_ENABLED", "AUTH_PROVIDER", "AUTH_URL", "OAUTH_CALLBACK_URL", "OAUTH_CLIENT_ID", "SESSION_DRIVER", "SESSION_LIFETIME",
		"XDG_SESSION_TYPE", "XDG_SESSION_ID", "XDG_SESSION_CLASS", "DBUS_SESSION_BUS_ADDRESS", "COOKIE_DOMAIN", "COOKIE_SECURE", "SESSION_COOKIE_NAME",
		"JWT_TTL", "JWT_ALGORITHM", "JWT_ISSUER", "TOKEN_FILE", "TLS_KEY_PATH", "AWS_ACCESS_KEY_ID", "SSH_AUTH_SOCK", "FTP_PASSIVE",
		"PASSENGER_COUNT", "DB_HOST", "DATABASE_URL", "REDIS_URL", "LOG_LEVEL", "WEB_PORT", "MONKEY_PATCH", "HOTKEY_ENABLED",
		"KEYSPACE", "PRIVATE_REGISTRY_URL", "DSN_TIMEOUT",
	}
	for _, k := range secret {
		if !LooksSecret(k) || !IsSecret(k, nil, nil) {
			t.Errorf("%s: not secret, want secret", k)
		}
	}
	for _, k := range notSecret {
		if LooksSecret(k) {
			t.Errorf("%s: secret, want shown (%q)", k, keyWords(k))
		}
	}
	// A project's own list replaces the rules (substrings), not_secret wins.
	if !IsSecret("KEYCLOAK_URL", []string{"KEY"}, nil) || IsSecret("DB_PASSWORD", []string{"TOKEN"}, nil) || IsSecret("API_KEY", nil, []string{"API_KEY"}) {
		t.Error("configured patterns and not_secret are not honoured")
	}
}

func TestMaskURLCredentials(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://app:hunter2@db/app":                       "postgres://********@db/app",
		"redis://:s3cret@redis:6379/0":                        "redis://********@redis:6379/0",
		"https://ghp_token@github.com/org/repo.git":           "https://********@github.com/org/repo.git",
		"mysql://u:p@ss@db:3306/x":                            "mysql://********@db:3306/x",
		"a=amqp://u:p@mq/ b=http://x:y@h/":                    "a=amqp://********@mq/ b=http://********@h/",
		"https://registry.npmjs.org/@scope/pkg":               "https://registry.npmjs.org/@scope/pkg",
		"http://db:5432/app?user=me@example.com":              "http://db:5432/app?user=me@example.com",
		"mailto:me@example.com":                               "mailto:me@example.com",
		"plain value":                                         "plain value",
		"https://o123@o.ingest.sentry.io/456":                 "https://********@o.ingest.sentry.io/456",
		"postgres://app:p%40ss@db/app?sslmode=disable":        "postgres://********@db/app?sslmode=disable",
		"DATABASE_URL=postgres://app:hunter2@db/app # a note": "DATABASE_URL=postgres://********@db/app # a note",
	} {
		got, ok := MaskURLCredentials(in)
		if got != want || ok != (got != in) {
			t.Errorf("MaskURLCredentials(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	creds := strings.Join(URLCredentials("postgres://app:p%40ss@db/app https://tok@gh/x"), "|")
	if creds != "app:p%40ss|p%40ss|p@ss|tok" {
		t.Errorf("URLCredentials: %q", creds)
	}
}

// A value's Refs name the variables that went into it.
func TestValueRefs(t *testing.T) {
	d, err := Parse([]byte("A=1\nB=x${A}y${NOPE:-d}\nC='${A}'\nD=\"$B\"\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	refs := map[string]string{}
	for _, v := range d.Evaluate(nil) {
		refs[v.Key] = strings.Join(v.Refs, ",")
	}
	if refs["A"] != "" || refs["B"] != "A,NOPE" || refs["C"] != "" || refs["D"] != "B" {
		t.Errorf("refs: %v", refs)
	}
	if v, _ := d.Get("B", nil); strings.Join(v.Refs, ",") != "A,NOPE" {
		t.Errorf("Get refs: %v", v.Refs)
	}
}
