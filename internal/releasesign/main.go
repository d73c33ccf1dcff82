// Command releasesign makes and uses stackpilot's release signing key: the
// one step of scripts/release.sh that needs the secret key.
//
//	go run ./internal/releasesign keygen -s SECRET_KEY_FILE -p PUBLIC_KEY_FILE
//	go run ./internal/releasesign sign -s SECRET_KEY_FILE -version 1.2.0 DIR/SHA256SUMS
//
// Keys and signatures are minisign's formats (aead.dev/minisign), so anyone
// verifies a release with the standard tool: minisign -Vm SHA256SUMS -P KEY.
// The signature is minisign's default, pre-hashed (BLAKE2b) Ed25519, and its
// signed ("trusted") comment names the version, which self-update checks.
//
// A secret key written by keygen is not encrypted: keep it out of the
// repository, readable only by whoever publishes releases. An encrypted key
// (minisign -G without -W) works too, with its password in
// STACKPILOT_SIGNING_KEY_PASSWORD.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"aead.dev/minisign"

	"github.com/stackpilot/stackpilot/stackops/selfupdate"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "releasesign:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: releasesign keygen|sign [flags] (see the package comment)")
	}
	switch args[0] {
	case "keygen":
		fs := flag.NewFlagSet("keygen", flag.ContinueOnError)
		secret := fs.String("s", "", "secret key file to create (0600)")
		public := fs.String("p", "", "public key file to create")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if *secret == "" || *public == "" {
			return errors.New("keygen needs -s SECRET_KEY_FILE and -p PUBLIC_KEY_FILE")
		}
		return keygen(*secret, *public)
	case "sign":
		fs := flag.NewFlagSet("sign", flag.ContinueOnError)
		secret := fs.String("s", "", "secret key file")
		version := fs.String("version", "", "the release's version, e.g. 1.2.0")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if *secret == "" || *version == "" || fs.NArg() != 1 {
			return errors.New("sign needs -s SECRET_KEY_FILE -version VERSION and the SHA256SUMS file")
		}
		return sign(*secret, *version, fs.Arg(0))
	}
	return fmt.Errorf("unknown command %q (keygen or sign)", args[0])
}

func keygen(secretPath, publicPath string) error {
	pub, priv, err := minisign.GenerateKey(nil)
	if err != nil {
		return err
	}
	secretText, err := priv.MarshalText()
	if err != nil {
		return err
	}
	publicText, err := pub.MarshalText()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(secretPath), 0o700); err != nil {
		return err
	}
	if err := writeNew(secretPath, append(secretText, '\n'), 0o600); err != nil {
		return err
	}
	if err := writeNew(publicPath, append(publicText, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Printf("public key %s: %s\n", selfupdate.KeyID(pub.ID()), pub.String())
	return nil
}

func writeNew(path string, data []byte, mode fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("%w (refusing to overwrite a key)", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func sign(secretPath, version, sumsPath string) error {
	v, ok := selfupdate.ParseVersion(version)
	if !ok || strings.HasPrefix(version, "v") || v.String() != version {
		return fmt.Errorf("version %q: want MAJOR.MINOR.PATCH[-PRERELEASE], without a leading v", version)
	}
	if filepath.Base(sumsPath) != selfupdate.SumsFile {
		return fmt.Errorf("sign signs a release's %s, not %s", selfupdate.SumsFile, sumsPath)
	}
	keyText, err := os.ReadFile(secretPath)
	if err != nil {
		return fmt.Errorf("read the secret key: %w", err)
	}
	var priv minisign.PrivateKey
	if minisign.IsEncrypted(keyText) {
		pass := os.Getenv("STACKPILOT_SIGNING_KEY_PASSWORD")
		if pass == "" {
			return errors.New("the secret key is encrypted: set STACKPILOT_SIGNING_KEY_PASSWORD")
		}
		if priv, err = minisign.DecryptKey(pass, keyText); err != nil {
			return fmt.Errorf("decrypt the secret key: %w", err)
		}
	} else if err := priv.UnmarshalText(keyText); err != nil {
		return fmt.Errorf("read the secret key: %w", err)
	}
	sums, err := os.ReadFile(sumsPath)
	if err != nil {
		return err
	}
	if _, err := selfupdate.ParseSums(sums); err != nil {
		return err
	}
	pub := priv.Public().(minisign.PublicKey)
	untrusted := "signature from stackpilot release key " + selfupdate.KeyID(priv.ID())
	r := minisign.NewReader(bytes.NewReader(sums))
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	sig := r.SignWithComments(priv, selfupdate.TrustedComment(version, time.Now()), untrusted)
	// Prove the signature is what self-update accepts before publishing it.
	signed, err := selfupdate.VerifySums([]minisign.PublicKey{pub}, sums, sig)
	if err != nil {
		return fmt.Errorf("the new signature does not verify: %w", err)
	}
	if signed.Version != version {
		return fmt.Errorf("the new signature names version %s, not %s", signed.Version, version)
	}
	if err := os.WriteFile(sumsPath+".minisig", append(bytes.TrimRight(sig, "\n"), '\n'), 0o644); err != nil {
		return err
	}
	fmt.Printf("signed %s (version %s) with key %s\n", sumsPath, version, selfupdate.KeyID(priv.ID()))
	return nil
}
