package main

import (
	"os"
	"strings"
	"testing"

	"github.com/stackpilot/stackpilot/stackops/selfupdate"
)

// The key compiled in is the one published: in docs/stackpilot.pub and in
// the README's install line and key block. A rotation changes all three.
func TestReleaseKeyIsThePublishedOne(t *testing.T) {
	keys, err := selfupdate.ParseKeys(releaseKeys)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := os.ReadFile("docs/stackpilot.pub")
	if err != nil {
		t.Fatal(err)
	}
	published, err := selfupdate.ParseKeys(string(pub))
	if err != nil || len(published) != 1 {
		t.Fatalf("docs/stackpilot.pub: %v", err)
	}
	found := false
	for _, k := range keys {
		found = found || k.Equal(published[0])
	}
	if !found {
		t.Fatalf("main.releaseKeys does not hold the key of docs/stackpilot.pub")
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	key := published[0].String()
	if n := strings.Count(string(readme), key); n < 2 {
		t.Fatalf("README shows the release key %d times, want the install line and the key block", n)
	}
}
