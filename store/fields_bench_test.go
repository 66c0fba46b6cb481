package store

import (
	"bytes"
	"testing"
)

// BenchmarkRuleStateSeal: what encrypting a household's saved rule state
// (about 300 bytes with five devices) adds to a checkpoint, and decrypting
// it to a restart.
func BenchmarkRuleStateSeal(b *testing.B) {
	c, err := newFieldCipher(bytes.Repeat([]byte{7}, FieldKeySize))
	if err != nil {
		b.Fatal(err)
	}
	state := bytes.Repeat([]byte{2}, 300)
	aad := ruleStateAAD("h-000001")
	sealedState, err := c.sealBlob(nil, state, aad)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("Seal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.sealBlob(nil, state, aad); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Open", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.openBlob(sealedState, aad); err != nil {
				b.Fatal(err)
			}
		}
	})
}
