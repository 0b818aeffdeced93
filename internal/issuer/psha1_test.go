package issuer

import (
	"bytes"
	"encoding/base64"
	"testing"
)

// The expected keys were computed with an independent implementation of
// TLS 1.0's P_SHA-1 (Python's hmac module).
func TestPSHA1(t *testing.T) {
	seq := func(from, n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(from + i)
		}
		return b
	}
	cases := []struct {
		secret, seed []byte
		n            int
		want         string
	}{
		{seq(0, 32), seq(100, 32), 32, "Xy87rmOFu3bEyFvYOT/AkbesSNgnDdOWEzKN1nzotWY="},
		{seq(0, 32), seq(100, 32), 16, "Xy87rmOFu3bEyFvYOT/AkQ=="},
		{[]byte("requestor"), []byte("issuer"), 64, "tuIdSHFqneSoy75BL/Gyj+fpGeFYVq2GYdbF5cRqDCAwp1sZ7lq4slt/Bw4OrmfUGzzMmqhKqrbzAnLg0NtG1Q=="},
	}
	for _, tc := range cases {
		want, _ := base64.StdEncoding.DecodeString(tc.want)
		if got := PSHA1(tc.secret, tc.seed, tc.n); !bytes.Equal(got, want) {
			t.Errorf("PSHA1(%d bytes) = %x, want %x", tc.n, got, want)
		}
	}
}
