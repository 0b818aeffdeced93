package source

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
	"github.com/trustbroker/trustbroker/internal/devkeys"
)

// TestParsedCertificatesAreRemembered: a certificate parsed in one build is
// the same in the next, a changed one is parsed anew, and one no build uses
// any more is forgotten.
func TestParsedCertificatesAreRemembered(t *testing.T) {
	pair, err := devkeys.NewRSA("rp.example.com", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	other := certifyKey(t, pair, "other.example.com")
	var p parsedCertificates

	first, err := p.parse(pair.CertPEM)
	if err != nil || len(first) != 1 {
		t.Fatalf("parse: %v, %d certificates", err, len(first))
	}
	first[0] = nil // callers own the slice
	p.sweep()

	again, _ := p.parse(pair.CertPEM)
	if again[0] == nil || again[0] != mustParse(t, &p, pair.CertPEM) {
		t.Fatal("the next build parsed the unchanged certificate again, or shares its slice")
	}
	changed, _ := p.parse(other)
	if changed[0].Subject.CommonName != "other.example.com" {
		t.Fatalf("changed content gave %q", changed[0].Subject.CommonName)
	}
	p.sweep()
	p.sweep() // a build that used neither
	if len(p.last) != 0 {
		t.Fatalf("%d parsed certificates kept after a build that used none", len(p.last))
	}
	if _, err := p.parse([]byte("not a certificate")); err == nil {
		t.Fatal("garbage parsed")
	}
}

func mustParse(t *testing.T, p *parsedCertificates, data []byte) *x509.Certificate {
	t.Helper()
	certs, err := p.parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return certs[0]
}

// certifyKey issues another self-signed certificate for pair's key: many
// distinct certificates without generating many RSA keys.
func certifyKey(t testing.TB, pair *devkeys.Pair, commonName string) []byte {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: commonName},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageKeyEncipherment}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &pair.Key.PublicKey, pair.Key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// BenchmarkRebuild measures one rebuild of the policy of an STS with 1,000
// and 10,000 relying parties that each encrypt to their own certificate,
// after one of them changed: the work between an API event and the new
// policy.
func BenchmarkRebuild(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("rps=%d", n), func(b *testing.B) { benchmarkRebuild(b, n) })
	}
}

func benchmarkRebuild(b *testing.B, n int) {
	signing, err := devkeys.NewRSA("sts.example.com", time.Now(), time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	objs := &Objects{
		SecurityTokenServices: []*stsv1alpha1.SecurityTokenService{{ObjectMeta: metav1.ObjectMeta{Namespace: kubeNS, Name: "sts"},
			Spec: stsv1alpha1.SecurityTokenServiceSpec{Issuer: "urn:test:sts", Endpoint: "https://sts.example.com/sts",
				Signing: stsv1alpha1.SigningSpec{SecretRef: &stsv1alpha1.SecretKeySelector{Name: "signing"}}}}},
		Secrets: map[types.NamespacedName]*corev1.Secret{Key(kubeNS, "signing"): {ObjectMeta: metav1.ObjectMeta{Namespace: kubeNS, Name: "signing"},
			Data: map[string][]byte{"tls.crt": signing.CertPEM, "tls.key": signing.KeyPEM}}},
		ConfigMaps: map[types.NamespacedName]*corev1.ConfigMap{},
	}
	for i := range n {
		name := fmt.Sprintf("rp-%d", i)
		objs.Secrets[Key(kubeNS, name)] = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: kubeNS, Name: name},
			Data: map[string][]byte{"tls.crt": certifyKey(b, signing, name+".example.com")}}
		objs.RelyingParties = append(objs.RelyingParties, &stsv1alpha1.RelyingParty{ObjectMeta: metav1.ObjectMeta{Namespace: kubeNS, Name: name},
			Spec: stsv1alpha1.RelyingPartySpec{STSRef: stsv1alpha1.LocalObjectReference{Name: "sts"}, Endpoint: "urn:test:" + name,
				Encryption: &stsv1alpha1.EncryptionSpec{Enabled: true, Certificate: &stsv1alpha1.CertificateSource{SecretRef: &stsv1alpha1.SecretKeySelector{Name: name}}}}})
	}
	var builder Builder
	snap, problems, err := builder.Build(objs, nil)
	if err != nil || len(problems) > 0 || len(snap.RelyingParties) != n {
		b.Fatalf("build: %v %v, %d relying parties", err, problems, len(snap.RelyingParties))
	}
	// rp-0's certificate alternates between two, so that each build parses
	// exactly one certificate the build before did not use.
	rotations := [][]byte{certifyKey(b, signing, "a.example.com"), certifyKey(b, signing, "b.example.com")}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		objs.Secrets[Key(kubeNS, "rp-0")].Data = map[string][]byte{"tls.crt": rotations[i%2]}
		if snap, _, err = builder.Build(objs, snap); err != nil {
			b.Fatal(err)
		}
	}
}
