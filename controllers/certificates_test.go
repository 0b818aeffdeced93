package controllers

import (
	"bufio"
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trustbroker/trustbroker/internal/pki"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
)

// TestCertificateInfoMatchesOpenSSL compares the status summary of a
// certificate with what `openssl x509 -fingerprint -sha256 -subject -enddate
// -nameopt RFC2253` printed for it (testdata/fingerprint.golden).
func TestCertificateInfoMatchesOpenSSL(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "fingerprint.crt"))
	if err != nil {
		t.Fatal(err)
	}
	golden, err := os.ReadFile(filepath.Join("testdata", "fingerprint.golden"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(golden))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		want[k] = v
	}
	certs, err := pki.ParseCertificates(data)
	if err != nil {
		t.Fatal(err)
	}
	info := certificateInfo(certs[0])
	if info.SHA256Fingerprint != want["sha256 Fingerprint"] {
		t.Errorf("fingerprint %s, openssl says %s", info.SHA256Fingerprint, want["sha256 Fingerprint"])
	}
	if info.Subject != want["subject"] {
		t.Errorf("subject %q, openssl says %q", info.Subject, want["subject"])
	}
	notAfter, err := time.Parse("Jan _2 15:04:05 2006 MST", want["notAfter"])
	if err != nil {
		t.Fatal(err)
	}
	if !info.NotAfter.Time.Equal(notAfter) {
		t.Errorf("notAfter %s, openssl says %s", info.NotAfter.Time, notAfter)
	}
}

func TestCheckEncryptionCertificate(t *testing.T) {
	testKeys(t)
	now := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		spec       certSpec
		wantOK     bool
		wantReason string
		wantInMsg  []string
		wantRetry  time.Time
	}{
		{"valid", certSpec{notAfter: now.AddDate(1, 0, 0)}, true, "Valid", []string{"valid until 2031-06-01T12:00:00Z"}, now.AddDate(1, 0, 0).Add(-ExpiryWarning)},
		{"key usage allows key encipherment", certSpec{notAfter: now.AddDate(1, 0, 0), keyUsage: x509.KeyUsageKeyEncipherment | x509.KeyUsageDigitalSignature}, true, "Valid", nil, now.AddDate(1, 0, 0).Add(-ExpiryWarning)},
		{"expiring in 10 days", certSpec{notAfter: now.AddDate(0, 0, 10)}, true, "ExpiringSoon", []string{"expires at 2030-06-11T12:00:00Z", "in 10 days", "FIX"}, now.AddDate(0, 0, 10)},
		{"expired", certSpec{notBefore: now.AddDate(-2, 0, 0), notAfter: now.AddDate(0, 0, -1)}, false, "CertificateExpired", []string{"expired at 2030-05-31T12:00:00Z (notAfter)", "FIX"}, time.Time{}},
		{"expires exactly now", certSpec{notBefore: now.AddDate(-2, 0, 0), notAfter: now}, false, "CertificateExpired", nil, time.Time{}},
		{"not yet valid", certSpec{notBefore: now.Add(time.Hour), notAfter: now.AddDate(1, 0, 0)}, false, "CertificateNotYetValid", []string{"not valid before 2030-06-01T13:00:00Z"}, now.Add(time.Hour)},
		{"signing-only key usage", certSpec{notAfter: now.AddDate(1, 0, 0), keyUsage: x509.KeyUsageDigitalSignature}, false, "CertificateInvalid", []string{"keyEncipherment"}, time.Time{}},
		{"RSA 1024", certSpec{key: keys.rsa1024, notAfter: now.AddDate(1, 0, 0)}, false, "CertificateInvalid", []string{"1024-bit", "at least 2048"}, time.Time{}},
		{"EC key", certSpec{key: keys.ec, notAfter: now.AddDate(1, 0, 0)}, false, "CertificateInvalid", []string{"ECDSA", "needs an RSA key"}, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.spec.notBefore.IsZero() {
				tt.spec.notBefore = now.AddDate(0, -1, 0)
			}
			_, _, cert := makeCert(t, tt.spec)
			v := checkEncryptionCertificate(cert, now, "FIX")
			if v.OK != tt.wantOK || v.Reason != tt.wantReason {
				t.Fatalf("got %v/%s (%s), want %v/%s", v.OK, v.Reason, v.Message, tt.wantOK, tt.wantReason)
			}
			for _, s := range tt.wantInMsg {
				if !strings.Contains(v.Message, s) {
					t.Errorf("message %q does not contain %q", v.Message, s)
				}
			}
			if !v.Recheck.Equal(tt.wantRetry) {
				t.Errorf("recheck at %s, want %s", v.Recheck, tt.wantRetry)
			}
		})
	}
}

func TestCheckVerificationCertificates(t *testing.T) {
	testKeys(t)
	now := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	cert := func(cn string, key *certSpec) *x509.Certificate {
		s := *key
		s.cn = cn
		if s.notBefore.IsZero() {
			s.notBefore = now.AddDate(-1, 0, 0)
		}
		_, _, c := makeCert(t, s)
		return c
	}
	long := cert("long", &certSpec{notAfter: now.AddDate(2, 0, 0)})
	year := cert("year", &certSpec{notAfter: now.AddDate(1, 0, 0)})
	soon := cert("soon", &certSpec{notAfter: now.AddDate(0, 0, 5)})
	expired := cert("expired", &certSpec{notAfter: now.AddDate(0, 0, -3)})
	ec := cert("ec", &certSpec{key: keys.ec, notAfter: now.AddDate(1, 0, 0)})
	weak := cert("weak", &certSpec{key: keys.rsa1024, notAfter: now.AddDate(1, 0, 0)})

	tests := []struct {
		name       string
		certs      []*x509.Certificate
		wantOK     bool
		wantReason string
		wantInMsg  string
		wantRetry  time.Time
	}{
		{"two valid: earliest turning point", []*x509.Certificate{long, year}, true, "Valid", "2 certificate(s) valid; the first expires at 2031-06-01T12:00:00Z", now.AddDate(1, 0, 0).Add(-ExpiryWarning)},
		{"EC accepted", []*x509.Certificate{ec}, true, "Valid", "", now.AddDate(1, 0, 0).Add(-ExpiryWarning)},
		{"one expiring soon", []*x509.Certificate{long, soon}, true, "ExpiringSoon", "certificate 2 of 2 (subject \"CN=soon,O=Example\")", now.AddDate(0, 0, 5)},
		{"one expired during a rollover", []*x509.Certificate{long, expired}, false, "CertificateExpired", "certificate 2 of 2 (subject \"CN=expired,O=Example\") expired at 2030-05-29T12:00:00Z", time.Time{}},
		{"weak RSA", []*x509.Certificate{weak}, false, "CertificateInvalid", "1024-bit", time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := checkVerificationCertificates(tt.certs, now, "FIX")
			if v.OK != tt.wantOK || v.Reason != tt.wantReason {
				t.Fatalf("got %v/%s (%s), want %v/%s", v.OK, v.Reason, v.Message, tt.wantOK, tt.wantReason)
			}
			if !strings.Contains(v.Message, tt.wantInMsg) {
				t.Errorf("message %q does not contain %q", v.Message, tt.wantInMsg)
			}
			if !v.Recheck.Equal(tt.wantRetry) {
				t.Errorf("recheck at %s, want %s", v.Recheck, tt.wantRetry)
			}
		})
	}
}

func TestCheckSigningKeyPair(t *testing.T) {
	testKeys(t)
	now := time.Now()
	good, goodKey, _ := makeCert(t, certSpec{cn: "signer"})
	_, otherKey, _ := makeCert(t, certSpec{key: keys.rsa2nd})
	ecCert, ecKey, _ := makeCert(t, certSpec{key: keys.ec})
	weak, weakKey, _ := makeCert(t, certSpec{key: keys.rsa1024})
	old, oldKey, _ := makeCert(t, certSpec{notBefore: now.AddDate(-2, 0, 0), notAfter: now.AddDate(0, 0, -1)})
	pkcs1 := pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(keys.rsa2048))
	sec1DER, err := x509.MarshalECPrivateKey(keys.ec)
	if err != nil {
		t.Fatal(err)
	}
	sec1 := pemBlock("EC PRIVATE KEY", sec1DER)

	tests := []struct {
		name       string
		cert, key  []byte
		alg        stsv1alpha1.SignatureAlgorithm
		wantOK     bool
		wantReason string
		wantInMsg  string
	}{
		{"RSA PKCS#8, default algorithm", good, goodKey, "", true, "Valid", "CN=signer,O=Example"},
		{"RSA PKCS#1", good, pkcs1, "rsa-sha256", true, "Valid", ""},
		{"EC SEC1 with ecdsa-sha256", ecCert, sec1, "ecdsa-sha256", true, "Valid", ""},
		{"EC key with rsa-sha256", ecCert, ecKey, "rsa-sha256", false, ReasonKeyUnsuitable, "set spec.signing.signatureAlgorithm: ecdsa-sha256"},
		{"RSA key with ecdsa-sha256", good, goodKey, "ecdsa-sha256", false, ReasonKeyUnsuitable, "needs an EC key"},
		{"RSA 1024", weak, weakKey, "rsa-sha256", false, ReasonKeyUnsuitable, "1024 bits"},
		{"key of another pair", good, otherKey, "rsa-sha256", false, ReasonKeyPairInvalid, "does not match the first certificate"},
		{"expired", old, oldKey, "rsa-sha256", false, stsv1alpha1.ReasonCertificateExpired, "(notAfter)"},
		{"certificate not PEM", []byte("not a certificate"), goodKey, "rsa-sha256", false, ReasonKeyPairInvalid, "certificate cannot be read"},
		{"key not PEM", good, []byte("secret"), "rsa-sha256", false, ReasonKeyPairInvalid, "private key cannot be read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, _ := checkSigningKeyPair(tt.cert, tt.key, tt.alg, now, "FIX")
			if v.OK != tt.wantOK || v.Reason != tt.wantReason {
				t.Fatalf("got %v/%s (%s), want %v/%s", v.OK, v.Reason, v.Message, tt.wantOK, tt.wantReason)
			}
			if !strings.Contains(v.Message, tt.wantInMsg) {
				t.Errorf("message %q does not contain %q", v.Message, tt.wantInMsg)
			}
			if strings.Contains(v.Message, "PRIVATE KEY") {
				t.Errorf("message %q shows key material", v.Message)
			}
		})
	}
}

func TestRequeueAt(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		at   time.Time
		want time.Duration
	}{
		{"never", time.Time{}, 0},
		{"past", now.Add(-time.Minute), 0},
		{"soon", now.Add(time.Minute), time.Minute + time.Second},
		{"far: capped", now.AddDate(1, 0, 0), maxRequeue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := requeueAt(tt.at, now).RequeueAfter; got != tt.want {
				t.Errorf("requeue after %s, want %s", got, tt.want)
			}
		})
	}
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
