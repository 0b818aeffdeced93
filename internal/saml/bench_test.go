package saml

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"testing"

	"github.com/trustbroker/trustbroker/internal/testtools"
	"github.com/trustbroker/trustbroker/internal/xmlsec"
)

// The budget is CPU per SAML 2.0 token ≤ 1.3 × one bare RSA-2048 signature.
// Run both in one go and divide:
//
//	go test -run '^$' -bench 'SignAssertion$|RSASign$' ./internal/saml/

// BenchmarkSignAssertion is the per-token cost in this package: build a
// typical SAML 2.0 assertion, sign it (rsa-sha256, sha256) and serialise it.
func BenchmarkSignAssertion(b *testing.B) {
	benchmarkSign(b, SAML20)
}

// BenchmarkSignAssertionSAML11 is the same for a SAML 1.1 assertion.
func BenchmarkSignAssertionSAML11(b *testing.B) {
	benchmarkSign(b, SAML11)
}

func benchmarkSign(b *testing.B, v Version) {
	k := newTestKey(b, "bench-rsa", "rsa2048")
	s := newSigner(b, k, xmlsec.RSASHA256, xmlsec.SHA256)
	a := sampleAssertion(v, Bearer)
	b.ReportAllocs()
	for b.Loop() {
		a.ID = NewID()
		el, err := BuildSigned(v, a, s)
		if err != nil {
			b.Fatal(err)
		}
		testtools.Serialize(b, el)
	}
}

// BenchmarkRSASign is one bare PKCS#1 v1.5 SHA-256 signature with the key
// BenchmarkSignAssertion uses, through the same crypto.Signer interface.
func BenchmarkRSASign(b *testing.B) {
	k := newTestKey(b, "bench-rsa", "rsa2048")
	digest := sha256.Sum256([]byte("SignedInfo"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Key.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyAssertion is the cost of checking and reading a signed
// SAML 2.0 token (issued-token authentication, Validate, OnBehalfOf).
func BenchmarkVerifyAssertion(b *testing.B) {
	k := newTestKey(b, "bench-rsa", "rsa2048")
	el, err := BuildSigned(SAML20, sampleAssertion(SAML20, Bearer), newSigner(b, k, "", ""))
	if err != nil {
		b.Fatal(err)
	}
	signed := parseXML(b, testtools.Serialize(b, el))
	trusted := []*x509.Certificate{k.Cert}
	b.ReportAllocs()
	for b.Loop() {
		verified, err := xmlsec.Verify(signed, IDAttrSAML20, trusted, xmlsec.AlgorithmPolicy{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Parse(verified); err != nil {
			b.Fatal(err)
		}
	}
}
