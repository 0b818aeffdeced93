package xmlsec

import (
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/testtools"
)

// testNow is the fixed "current time" of the tests; certificates are valid
// around it.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// newTestKey returns a self-signed key pair valid around testNow, made
// once per name (see testtools.CachedKeyPair); kind is "rsa2048", "rsa1024"
// or "p256".
func newTestKey(t testing.TB, name, kind string) testtools.KeyPair {
	t.Helper()
	return testtools.CachedKeyPair(t, name, kind, name, testNow.Add(-time.Hour), testNow.Add(24*time.Hour))
}

func mustSigner(t testing.TB, k testtools.KeyPair, sig SignatureAlgorithm, digest DigestAlgorithm, policy AlgorithmPolicy) *Signer {
	t.Helper()
	s, err := NewSigner(k.Key, []*x509.Certificate{k.Cert}, sig, digest, policy)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const sampleDoc = `<a:Doc xmlns:a="urn:example:a" xmlns:unused="urn:example:unused" ID="_d1" Kind="x"><a:Item>value</a:Item><!-- note --><a:Other a:flag="1">text &amp; more</a:Other></a:Doc>`

func parseElement(t testing.TB, s string) *etree.Element {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromString(s); err != nil {
		t.Fatal(err)
	}
	return doc.Root()
}

// signSample signs sampleDoc, places the signature as the first child and
// returns the document re-read from its serialised form, as a receiver
// sees it.
func signSample(t testing.TB, s *Signer) *etree.Element {
	t.Helper()
	el := parseElement(t, sampleDoc)
	sig, err := s.Sign(el, "ID")
	if err != nil {
		t.Fatal(err)
	}
	el.InsertChildAt(0, sig)
	return reparse(t, el)
}

func reparse(t testing.TB, el *etree.Element) *etree.Element {
	t.Helper()
	doc := etree.NewDocument()
	doc.SetRoot(el)
	out, err := doc.WriteToString()
	if err != nil {
		t.Fatal(err)
	}
	return parseElement(t, out)
}

func faultCode(err error) (soap.FaultCode, bool) {
	var f *soap.Fault
	if errors.As(err, &f) {
		return f.Code, true
	}
	return soap.FaultCode{}, false
}
