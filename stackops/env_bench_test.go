package stackops

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// bigEnv is a 10,000-line .env of the kind bench/env.sh generates.
func bigEnv() []byte {
	var b strings.Builder
	for i := 0; i < 10000; i++ {
		switch i % 5 {
		case 0:
			fmt.Fprintf(&b, "# comment %d\n", i)
		case 1:
			fmt.Fprintf(&b, "KEY_%05d=value-%d\n", i, i)
		case 2:
			fmt.Fprintf(&b, "QUOTED_%05d=\"double $$ %d\"\n", i, i)
		case 3:
			fmt.Fprintf(&b, "SINGLE_%05d='single # %d'\n", i, i)
		default:
			fmt.Fprintf(&b, "REF_%05d=${KEY_%05d:-x}\n", i, i-3)
		}
	}
	return []byte(b.String())
}

func BenchmarkEnvScan(b *testing.B) {
	data := bigEnv()
	for b.Loop() {
		ParseEnvDocument(data, nil)
	}
}

func BenchmarkEnvEvaluate(b *testing.B) {
	d, _ := ParseEnvDocument(bigEnv(), nil)
	for b.Loop() {
		d.Evaluate(nil)
	}
}

func BenchmarkEnvComposeParse(b *testing.B) {
	data := bigEnv()
	for b.Loop() {
		composeReference(data, nil)
	}
}

func BenchmarkEnvVerify(b *testing.B) {
	before, _ := ParseEnvDocument(bigEnv(), nil)
	after := before.clone()
	after.Set("KEY_00001", "new")
	for b.Loop() {
		if err := verifyEdit(before, after, composeReference); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEnvLoadStack(b *testing.B) {
	dir := b.TempDir()
	os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(envTestCompose), 0o644)
	os.WriteFile(filepath.Join(dir, ".env"), append(bigEnv(), "DB_PASSWORD=x\n"...), 0o644)
	for b.Loop() {
		if _, err := Load(context.Background(), LoadOptions{ProjectDir: dir, Environ: []string{}}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEnvSetBig(b *testing.B) {
	dir := b.TempDir()
	os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(envTestCompose), 0o644)
	os.WriteFile(filepath.Join(dir, ".env"), bigEnv(), 0o644)
	st := helperStack(dir)
	i := 0
	for b.Loop() {
		i++
		if _, err := st.EnvSet(context.Background(), EnvSetOptions{Values: []EnvAssignment{{"KEY_00001", fmt.Sprint(i)}}}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEnvGet(b *testing.B) {
	dir := b.TempDir()
	os.WriteFile(filepath.Join(dir, ".env"), bigEnv(), 0o644)
	st := helperStack(dir)
	for b.Loop() {
		if _, err := st.EnvGet(context.Background(), EnvGetOptions{Key: "KEY_05001"}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEnvGetCommand is what `stackpilot env get` does after start-up:
// the lenient project load, then the read.
func BenchmarkEnvGetCommand(b *testing.B) {
	dir := b.TempDir()
	os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(envTestCompose), 0o644)
	os.WriteFile(filepath.Join(dir, ".env"), bigEnv(), 0o644)
	for b.Loop() {
		envParseCache.byPath = nil // a new process starts with an empty cache
		st, err := Load(context.Background(), LoadOptions{ProjectDir: dir, Environ: []string{}, Lenient: true})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := st.EnvGet(context.Background(), EnvGetOptions{Key: "KEY_05001"}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEnvSetCommand is what `stackpilot env set` does after start-up.
func BenchmarkEnvSetCommand(b *testing.B) {
	dir := b.TempDir()
	os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(envTestCompose), 0o644)
	os.WriteFile(filepath.Join(dir, ".env"), bigEnv(), 0o644)
	i := 0
	for b.Loop() {
		i++
		envParseCache.byPath = nil
		st, err := Load(context.Background(), LoadOptions{ProjectDir: dir, Environ: []string{}, Lenient: true})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := st.EnvSet(context.Background(), EnvSetOptions{Values: []EnvAssignment{{"KEY_05001", fmt.Sprint(i)}}}); err != nil {
			b.Fatal(err)
		}
		if _, err := st.EnvKeyServices(context.Background(), []string{"KEY_05001"}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEnvScanFileForKey(b *testing.B) {
	path := filepath.Join(b.TempDir(), ".env")
	os.WriteFile(path, bigEnv(), 0o644)
	for b.Loop() {
		if _, _, err := scanEnvFileForKey(path, "KEY_05001", nil); err != nil {
			b.Fatal(err)
		}
	}
}
