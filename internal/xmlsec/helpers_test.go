package xmlsec

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/soap"
)

// testNow is the fixed "current time" of the tests; certificates are valid
// around it.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type testKey struct {
	key  crypto.Signer
	cert *x509.Certificate
}

var (
	keyCache   = map[string]testKey{}
	keyCacheMu sync.Mutex
)

// newTestKey returns a self-signed key pair, cached per name so that RSA
// generation runs once per test binary. kind is "rsa2048", "rsa1024" or
// "p256"; names sharing a kind give different keys.
func newTestKey(t testing.TB, name, kind string) testKey {
	t.Helper()
	keyCacheMu.Lock()
	defer keyCacheMu.Unlock()
	if k, ok := keyCache[name]; ok {
		return k
	}
	var key crypto.Signer
	var err error
	switch kind {
	case "rsa2048":
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	case "rsa1024":
		key, err = rsa.GenerateKey(rand.Reader, 1024)
	case "p256":
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		t.Fatalf("unknown key kind %q", kind)
	}
	if err != nil {
		t.Fatal(err)
	}
	k := testKey{key: key, cert: selfSigned(t, key, name, testNow.Add(-time.Hour), testNow.Add(24*time.Hour))}
	keyCache[name] = k
	return k
}

func selfSigned(t testing.TB, key crypto.Signer, cn string, notBefore, notAfter time.Time) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
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
	return cert
}

func mustSigner(t testing.TB, k testKey, sig SignatureAlgorithm, digest DigestAlgorithm, policy AlgorithmPolicy) *Signer {
	t.Helper()
	s, err := NewSigner(k.key, []*x509.Certificate{k.cert}, sig, digest, policy)
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
