package envfile_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/stackops/env"
	"github.com/stackpilot/stackpilot/stackops/envfile"
)

// The benchmarks of what a command pays for a large .env, from the stack's
// lenient load to the read or the edit (bench/env.sh runs the Command ones).

// benchCompose refers to a key of the big .env and requires one it lacks
// (BenchmarkEnvLoadStack adds it), as a project's compose file does.
const benchCompose = `services:
  api:
    image: stackpilot-busybox:latest
    environment:
      DB_PASSWORD: ${DB_PASSWORD:?set DB_PASSWORD}
      SETTING: ${KEY_05001}
      LOG_LEVEL: ${LOG_LEVEL:-info}
`

// loadBenchStack opens dir the way the env commands do.
func loadBenchStack(b *testing.B, dir string) *stackops.Stack {
	b.Helper()
	st, err := stackops.Load(context.Background(), stackops.LoadOptions{ProjectDir: dir, WorkDir: dir, Environ: []string{}, Lenient: true})
	if err != nil {
		b.Fatal(err)
	}
	return st
}

func BenchmarkEnvLoadStack(b *testing.B) {
	dir := b.TempDir()
	os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(benchCompose), 0o644)
	os.WriteFile(filepath.Join(dir, ".env"), append(envfile.BigEnv(), "DB_PASSWORD=x\n"...), 0o644)
	for b.Loop() {
		if _, err := stackops.Load(context.Background(), stackops.LoadOptions{ProjectDir: dir, Environ: []string{}}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEnvSetBig(b *testing.B) {
	dir := b.TempDir()
	os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(benchCompose), 0o644)
	os.WriteFile(filepath.Join(dir, ".env"), envfile.BigEnv(), 0o644)
	st := loadBenchStack(b, dir)
	i := 0
	for b.Loop() {
		i++
		if _, err := env.Set(context.Background(), st, env.SetOptions{Values: []env.Assignment{{Key: "KEY_00001", Value: fmt.Sprint(i)}}}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEnvGet(b *testing.B) {
	dir := b.TempDir()
	os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(benchCompose), 0o644)
	os.WriteFile(filepath.Join(dir, ".env"), envfile.BigEnv(), 0o644)
	st := loadBenchStack(b, dir)
	for b.Loop() {
		if _, err := env.Get(context.Background(), st, env.GetOptions{Key: "KEY_05001"}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEnvGetCommand is what `stackpilot env get` does after start-up:
// the lenient project load, then the read.
func BenchmarkEnvGetCommand(b *testing.B) {
	dir := b.TempDir()
	os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(benchCompose), 0o644)
	os.WriteFile(filepath.Join(dir, ".env"), envfile.BigEnv(), 0o644)
	for b.Loop() {
		envfile.ResetCache() // a new process starts with an empty cache
		st, err := stackops.Load(context.Background(), stackops.LoadOptions{ProjectDir: dir, Environ: []string{}, Lenient: true})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := env.Get(context.Background(), st, env.GetOptions{Key: "KEY_05001"}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEnvSetCommand is what `stackpilot env set` does after start-up.
func BenchmarkEnvSetCommand(b *testing.B) {
	dir := b.TempDir()
	os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(benchCompose), 0o644)
	os.WriteFile(filepath.Join(dir, ".env"), envfile.BigEnv(), 0o644)
	i := 0
	for b.Loop() {
		i++
		envfile.ResetCache()
		st, err := stackops.Load(context.Background(), stackops.LoadOptions{ProjectDir: dir, Environ: []string{}, Lenient: true})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := env.Set(context.Background(), st, env.SetOptions{Values: []env.Assignment{{Key: "KEY_05001", Value: fmt.Sprint(i)}}}); err != nil {
			b.Fatal(err)
		}
		if _, err := env.KeyServices(context.Background(), st, []string{"KEY_05001"}); err != nil {
			b.Fatal(err)
		}
	}
}
