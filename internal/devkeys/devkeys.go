// Package devkeys makes throw-away signing keys for development and tests:
// a self-signed certificate and its key, as PEM and as the kubernetes.io/tls
// Secret manifest the STS reads.
package devkeys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"strings"
	"time"
)

// Pair is a PEM certificate and its PEM (PKCS#8) private key.
type Pair struct {
	CertPEM, KeyPEM []byte
	Cert            *x509.Certificate
	Key             *rsa.PrivateKey // nil for an EC pair
	Signer          crypto.Signer   // the private key, RSA or EC
}

// NewRSA makes a 2048-bit RSA key and a certificate for commonName, valid
// from an hour before now for the given duration.
func NewRSA(commonName string, now time.Time, validFor time.Duration) (*Pair, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	p, err := newPair(key, commonName, now, validFor)
	if err != nil {
		return nil, err
	}
	p.Key = key
	return p, nil
}

// NewECDSA makes a P-256 key and a certificate for commonName, as NewRSA.
func NewECDSA(commonName string, now time.Time, validFor time.Duration) (*Pair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return newPair(key, commonName, now, validFor)
}

func newPair(key crypto.Signer, commonName string, now time.Time, validFor time.Duration) (*Pair, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: commonName, Organization: []string{"trustbroker development"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(validFor),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	// The name is also the subject alternative name, so the certificate can
	// serve TLS for it.
	if ip := net.ParseIP(commonName); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = []string{commonName}
	}
	if _, ok := key.(*ecdsa.PrivateKey); ok {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return &Pair{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}),
		Cert:    cert,
		Signer:  key,
	}, nil
}

// SecretYAML renders the pair as a kubernetes.io/tls Secret manifest.
func (p *Pair) SecretYAML(name string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# Development signing key, generated; never commit it.\napiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\ntype: kubernetes.io/tls\nstringData:\n", name)
	for _, kv := range []struct {
		k string
		v []byte
	}{{"tls.crt", p.CertPEM}, {"tls.key", p.KeyPEM}} {
		fmt.Fprintf(&b, "  %s: |\n", kv.k)
		for _, line := range strings.Split(strings.TrimSpace(string(kv.v)), "\n") {
			fmt.Fprintf(&b, "    %s\n", line)
		}
	}
	return []byte(b.String())
}
