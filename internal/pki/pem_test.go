package pki

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/trustbroker/trustbroker/internal/devkeys"
)

func pair(t testing.TB, cn string) *devkeys.Pair {
	t.Helper()
	p, err := devkeys.NewRSA(cn, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseCertificates(t *testing.T) {
	one, two := pair(t, "one"), pair(t, "two")
	tests := []struct {
		name    string
		data    []byte
		want    []string // subjects' common names
		wantErr string
	}{
		{"one", one.CertPEM, []string{"one"}, ""},
		{"bundle keeps order", append(append([]byte{}, one.CertPEM...), two.CertPEM...), []string{"one", "two"}, ""},
		{"skips other blocks", append(append([]byte{}, one.KeyPEM...), two.CertPEM...), []string{"two"}, ""},
		{"comments around", []byte("partner cert, renewed 2025\n" + string(one.CertPEM) + "\nend\n"), []string{"one"}, ""},
		{"empty", nil, nil, "no PEM CERTIFICATE block"},
		{"key only", one.KeyPEM, nil, "no PEM CERTIFICATE block"},
		{"garbage in block", []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), nil, "certificate 1"},
		{"too many", bytes.Repeat(one.CertPEM, MaxCertificates+1), nil, "more than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			certs, err := ParseCertificates(tt.data)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range certs {
				got = append(got, c.Subject.CommonName)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseKeyPair(t *testing.T) {
	p, other := pair(t, "sts"), pair(t, "other")
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(p.Key)})
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sec1DER, err := x509.MarshalECPrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	sec1 := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1DER})
	tests := []struct {
		name      string
		cert, key []byte
		wantErr   string
	}{
		{"PKCS#8", p.CertPEM, p.KeyPEM, ""},
		{"PKCS#1", p.CertPEM, pkcs1, ""},
		{"SEC1 key for an RSA certificate", p.CertPEM, sec1, "does not match"},
		{"another key", p.CertPEM, other.KeyPEM, "does not match"},
		{"no key", p.CertPEM, p.CertPEM, "tls.key: no PEM private key block"},
		{"no certificate", p.KeyPEM, p.KeyPEM, "tls.crt: no PEM CERTIFICATE block"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, chain, err := ParseKeyPair(tt.cert, tt.key)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !chain[0].Equal(p.Cert) || !p.Key.PublicKey.Equal(key.Public()) {
				t.Fatalf("ParseKeyPair = %v, %v, %v", key, chain, err)
			}
		})
	}
}

// FuzzParseCertificates feeds arbitrary bytes to the certificate reader,
// which reads what users put into Secrets, ConfigMaps and pem fields.
func FuzzParseCertificates(f *testing.F) {
	p := pair(f, "seed")
	f.Add(p.CertPEM)
	f.Add(append(append([]byte("leading text\n"), p.CertPEM...), p.CertPEM...))
	f.Add(p.CertPEM[:len(p.CertPEM)/2])
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		certs, err := ParseCertificates(data)
		if err == nil && len(certs) == 0 {
			t.Fatal("no error and no certificates")
		}
		if len(certs) > MaxCertificates {
			t.Fatalf("%d certificates, above the limit", len(certs))
		}
	})
}
