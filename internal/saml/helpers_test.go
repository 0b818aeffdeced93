package saml

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/xmlsec"
)

// testNow is the fixed instant all test assertions are issued at.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type testKey struct {
	key  crypto.Signer
	cert *x509.Certificate
}

var (
	keys   = map[string]testKey{}
	keysMu sync.Mutex
)

// newTestKey returns a short-lived self-signed key pair valid around the
// real current time (external verifiers check it against their clock),
// generated once per name; kind is "rsa" (2048 bits) or "p256".
func newTestKey(t testing.TB, name, kind string) testKey {
	t.Helper()
	keysMu.Lock()
	defer keysMu.Unlock()
	if k, ok := keys[name]; ok {
		return k
	}
	var key crypto.Signer
	var err error
	if kind == "p256" {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	} else {
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano()),
		Subject:      pkix.Name{CommonName: "trustbroker test " + name},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	k := testKey{key: key, cert: cert}
	keys[name] = k
	return k
}

func newSigner(t testing.TB, k testKey, sig xmlsec.SignatureAlgorithm, digest xmlsec.DigestAlgorithm) *xmlsec.Signer {
	t.Helper()
	s, err := xmlsec.NewSigner(k.key, []*x509.Certificate{k.cert}, sig, digest, xmlsec.AlgorithmPolicy{AllowSHA1: true})
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

func serialize(t testing.TB, el *etree.Element) []byte {
	t.Helper()
	doc := etree.NewDocument()
	doc.SetRoot(el.Copy())
	b, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
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

// requireTool returns the path of an external program, or skips the test
// when it is missing (fails instead under CI=true).
func requireTool(t *testing.T, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	msg := name + " not found: install the Debian package " + pkg + " to run this interoperability test"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// corpusDir finds shared/corpus above the working directory.
func corpusDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		c := filepath.Join(dir, "shared", "corpus")
		if st, err := os.Stat(c); err == nil && st.IsDir() {
			return c
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("shared/corpus not found above the working directory")
		}
		dir = parent
	}
}
