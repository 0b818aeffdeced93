package wssec

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"testing"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/xmlsec"
)

// FuzzVerifySignature feeds envelopes to the whole signature path
// (envelope shape, id index, signature and KeyInfo parsing, key lookup,
// digests, trust, coverage) and to ParseKeyInfo alone. No input may
// panic; every refusal is a *soap.Fault; an accepted message must cover
// its Body. The seeds are valid signed messages in each KeyInfo form, so
// the fuzzer mutates real signatures.
func FuzzVerifySignature(f *testing.F) {
	p := testPKI(f)
	for _, kind := range []string{"direct", "ski", "thumbprint", "issuerserial", "embedded"} {
		f.Add(signedMessage(f, sigCase{keyInfo: kind}))
	}
	f.Add(signedMessage(f, sigCase{key: p.ecKey, cert: p.ecClient, prefixes: []string{"s", "#default"}}))
	v := &SignatureVerifier{Trust: X509Trust{Roots: p.pinnedRoots, Pinned: p.pinnedList()}}

	f.Fuzz(func(t *testing.T, data []byte) {
		if doc := etree.NewDocument(); doc.ReadFromBytes(data) == nil {
			for _, ki := range doc.FindElements("//KeyInfo") {
				if ref, err := ParseKeyInfo(ki); err == nil {
					ref.Matches(p.client)
				} else {
					mustBeFault(t, err)
				}
			}
			for _, sig := range doc.FindElements("//Signature") {
				if _, err := xmlsec.ParseDetachedSignature(sig, xmlsec.DetachedOptions{}); err != nil {
					mustBeFault(t, err)
				}
			}
		}
		env, err := soap.Parse(data, "", soap.Limits{})
		if err != nil {
			return
		}
		blocks := env.Blocks(NSSecExt, "Security")
		if len(blocks) != 1 {
			return
		}
		h, err := ParseHeader(blocks[0])
		if err != nil {
			return
		}
		sig, err := v.Verify(env, h, sigNow)
		if err != nil {
			mustBeFault(t, err)
			return
		}
		if !sig.Covers(env.Body) || sig.Certificate == nil {
			t.Fatal("accepted a signature that does not cover the Body")
		}
	})
}

func mustBeFault(t *testing.T, err error) {
	t.Helper()
	var f *soap.Fault
	if !errors.As(err, &f) || f.Reason == "" {
		t.Fatalf("error is not a fault with a reason: %v", err)
	}
}

func (p *sigPKI) pinnedList() []*x509.Certificate { return []*x509.Certificate{p.client, p.selfSigned} }

// BenchmarkVerifySignedRST measures verifying a signed RST (Body,
// Timestamp and two addressing headers, BST DirectReference, CA trust)
// against one bare RSA-2048 verification, the floor of its cost.
func BenchmarkVerifySignedRST(b *testing.B) {
	p := testPKI(b)
	data := signedMessage(b, sigCase{})
	v := &SignatureVerifier{Trust: p.caTrust()}
	b.Run("parse+verify", func(b *testing.B) {
		for b.Loop() {
			env, err := soap.Parse(data, "", soap.Limits{})
			if err != nil {
				b.Fatal(err)
			}
			h, err := ParseHeader(env.Block(NSSecExt, "Security"))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := v.Verify(env, h, sigNow); err != nil {
				b.Fatal(err)
			}
		}
	})
	m := parseMessage(b, data)
	b.Run("verify", func(b *testing.B) {
		for b.Loop() {
			if _, err := v.Verify(m.env, m.header, sigNow); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("one RSA verify", func(b *testing.B) {
		digest := sha256.Sum256(data)
		sig, err := rsa.SignPKCS1v15(rand.Reader, p.clientKey, crypto.SHA256, digest[:])
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if err := rsa.VerifyPKCS1v15(&p.clientKey.PublicKey, crypto.SHA256, digest[:], sig); err != nil {
				b.Fatal(err)
			}
		}
	})
}
