package saml

import (
	"crypto/x509"
	"encoding/base64"
	"errors"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/testtools"
	"github.com/trustbroker/trustbroker/internal/xmlsec"
)

// testNow is the fixed instant all test assertions are issued at.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// newTestKey returns a short-lived self-signed key pair valid around the
// real current time (external verifiers check it against their clock),
// made once per name (see testtools.CachedKeyPair); kind is "rsa2048" or
// "p256".
func newTestKey(t testing.TB, name, kind string) testtools.KeyPair {
	t.Helper()
	now := time.Now()
	return testtools.CachedKeyPair(t, name, kind, "trustbroker test "+name, now.Add(-time.Hour), now.Add(24*time.Hour))
}

func newSigner(t testing.TB, k testtools.KeyPair, sig xmlsec.SignatureAlgorithm, digest xmlsec.DigestAlgorithm) *xmlsec.Signer {
	t.Helper()
	s, err := xmlsec.NewSigner(k.Key, []*x509.Certificate{k.Cert}, sig, digest, xmlsec.AlgorithmPolicy{AllowSHA1: true})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// keyInfoOf returns a ds:KeyInfo holding cert, as a proof key reference.
func keyInfoOf(t testing.TB, cert *x509.Certificate) *etree.Element {
	t.Helper()
	doc := etree.NewDocument()
	err := doc.ReadFromString(`<ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>` +
		base64.StdEncoding.EncodeToString(cert.Raw) + `</ds:X509Certificate></ds:X509Data></ds:KeyInfo>`)
	if err != nil {
		t.Fatal(err)
	}
	return doc.Root()
}

// sampleAssertion is a typical token: fixed ID and times, so that the
// unsigned shape is reproducible.
func sampleAssertion(v Version, method ConfirmationMethod) *Assertion {
	a := &Assertion{
		ID:           "_0123456789abcdef0123456789abcdef",
		IssueInstant: testNow,
		Issuer:       "https://sts.example.test/trust",
		Subject: Subject{
			NameID:        "alice@example.test",
			Format:        NameIDUnspecified,
			NameQualifier: "example.test",
		},
		Confirmation: SubjectConfirmation{Method: method},
		NotBefore:    testNow,
		NotOnOrAfter: testNow.Add(time.Hour),
		Audiences:    []string{"urn:federation:MicrosoftOnline", "https://app.example.test/"},
		Authn:        &AuthnStatement{Instant: testNow.Add(-time.Second), Method: AuthnMethodURI(v, AuthnPassword)},
		Attributes: []Attribute{
			{Name: "upn", Namespace: "http://schemas.xmlsoap.org/claims", Values: []string{"alice@example.test"}},
			{Name: "role", Namespace: "http://schemas.xmlsoap.org/claims", Values: []string{"admin", "user & <friends>"}},
		},
	}
	if v == SAML20 {
		a.Attributes[0].Namespace = AttrNameFormatURI
		a.Attributes[0].Name = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"
	}
	return a
}

func parseXML(t testing.TB, b []byte) *etree.Element {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(b); err != nil {
		t.Fatal(err)
	}
	return doc.Root()
}

func faultCode(err error) (soap.FaultCode, bool) {
	var f *soap.Fault
	if errors.As(err, &f) {
		return f.Code, true
	}
	return soap.FaultCode{}, false
}
