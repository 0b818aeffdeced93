package testtools

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// KeyPair is a private key and a self-signed certificate for it.
type KeyPair struct {
	Key  crypto.Signer
	Cert *x509.Certificate
}

var (
	keyPairs   = map[string]KeyPair{}
	keyPairsMu sync.Mutex
)

// CachedKeyPair returns the key pair made for name, making it on the first
// call for that name (the arguments of that call decide): a key of the kind
// NewKey takes, with a certificate from SelfSigned. Caching runs the slow
// RSA generation once per name and test binary; names sharing a kind give
// different keys.
func CachedKeyPair(t testing.TB, name, kind, cn string, notBefore, notAfter time.Time) KeyPair {
	t.Helper()
	keyPairsMu.Lock()
	defer keyPairsMu.Unlock()
	if k, ok := keyPairs[name]; ok {
		return k
	}
	key := NewKey(t, kind)
	k := KeyPair{Key: key, Cert: SelfSigned(t, key, cn, notBefore, notAfter)}
	keyPairs[name] = k
	return k
}

// NewKey generates a key: kind is "rsa2048", "rsa1024" (too small: for
// tests of refusals) or "p256" (ECDSA).
func NewKey(t testing.TB, kind string) crypto.Signer {
	t.Helper()
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
	return key
}

// SelfSigned returns a self-signed certificate for key, for digital
// signatures, with common name cn, valid from notBefore to notAfter.
func SelfSigned(t testing.TB, key crypto.Signer, cn string, notBefore, notAfter time.Time) *x509.Certificate {
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

// KeyFiles are the paths of a private key (PKCS#8) and its certificate
// written for external programs, each as PEM and DER.
type KeyFiles struct {
	KeyPEM, KeyDER, CertPEM, CertDER string
}

// WriteKeyFiles writes key and cert into dir as name.key.pem,
// name.key.der, name.pem and name.der.
func WriteKeyFiles(t testing.TB, dir, name string, key crypto.Signer, cert *x509.Certificate) KeyFiles {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(dir, name)
	f := KeyFiles{KeyPEM: base + ".key.pem", KeyDER: base + ".key.der", CertPEM: base + ".pem", CertDER: base + ".der"}
	for path, content := range map[string][]byte{
		f.KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		f.KeyDER:  der,
		f.CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}),
		f.CertDER: cert.Raw,
	} {
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return f
}
