package envcrypt

import (
	"testing"

	"filippo.io/age"
)

// BenchmarkOpenAll20 is the decryption of a .env with 20 encrypted values.
func BenchmarkOpenAll20(b *testing.B) {
	id, _ := age.GenerateX25519Identity()
	values := make([]Sealed, 20)
	for i := range values {
		v, err := Encrypt("value-0123456789abcdef", []age.Recipient{id.Recipient()})
		if err != nil {
			b.Fatal(err)
		}
		values[i] = Sealed{Key: "K", Value: v}
	}
	o := &Opener{loaded: true, ids: []age.Identity{id}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := o.OpenAll(values, func(string) string { return "" }); err != nil {
			b.Fatal(err)
		}
	}
}
