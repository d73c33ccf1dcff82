package envfile

import (
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
		Parse(data, nil)
	}
}

func BenchmarkEnvEvaluate(b *testing.B) {
	d, _ := Parse(bigEnv(), nil)
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
	before, _ := Parse(bigEnv(), nil)
	after := before.Clone()
	after.Set("KEY_00001", "new")
	for b.Loop() {
		if err := verifyEdit(before, after, composeReference); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEnvScanFileForKey(b *testing.B) {
	path := filepath.Join(b.TempDir(), ".env")
	os.WriteFile(path, bigEnv(), 0o644)
	for b.Loop() {
		if _, _, err := ScanFileForKey(path, "KEY_05001", nil); err != nil {
			b.Fatal(err)
		}
	}
}
