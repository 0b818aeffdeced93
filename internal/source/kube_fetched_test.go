package source

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
	"github.com/trustbroker/trustbroker/internal/devkeys"
	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/testtools/apiserver"
)

// TestRelyingPartyCertificatesAreReadNotWatched: a relying party's
// encryption certificate Secret costs the pod no watch. A new version is
// read when the operator records it in the relying party's status, or at
// the next resync when nobody did; a deleted Secret recorded as gone takes
// the relying party out of service.
func TestRelyingPartyCertificatesAreReadNotWatched(t *testing.T) {
	api := apiserver.Start(t)
	ctx := context.Background()
	c := api.Client
	signing, _ := tlsSecret(t, "signing")
	first, err := devkeys.NewRSA("app.example.com", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	certSecret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: kubeNS, Name: "app-encryption"}, Data: map[string][]byte{"tls.crt": first.CertPEM}}
	rp := &stsv1alpha1.RelyingParty{ObjectMeta: metav1.ObjectMeta{Namespace: kubeNS, Name: "app"}, Spec: stsv1alpha1.RelyingPartySpec{
		STSRef: stsv1alpha1.LocalObjectReference{Name: "sts"}, Endpoint: "urn:test:app",
		Encryption: &stsv1alpha1.EncryptionSpec{Enabled: true, Certificate: &stsv1alpha1.CertificateSource{SecretRef: &stsv1alpha1.SecretKeySelector{Name: certSecret.Name}}}}}
	for _, o := range []client.Object{signing, certSecret, rp,
		&stsv1alpha1.SecurityTokenService{ObjectMeta: metav1.ObjectMeta{Namespace: kubeNS, Name: "sts"}, Spec: stsv1alpha1.SecurityTokenServiceSpec{
			Issuer: "urn:test:sts", Endpoint: "https://sts.example.com/sts", Signing: stsv1alpha1.SigningSpec{SecretRef: &stsv1alpha1.SecretKeySelector{Name: "signing"}}}},
	} {
		if err := c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}

	src, holder := runKubeSource(t, api, time.Hour)
	encryptsTo := func(want *devkeys.Pair) func(*policy.Snapshot) bool {
		return func(s *policy.Snapshot) bool {
			rp, ok := s.RelyingPartyFor("urn:test:app")
			return ok && rp.Encryption != nil && rp.Encryption.Certificates[0].Equal(want.Cert)
		}
	}
	eventually(t, holder, "the relying party encrypts to its certificate", encryptsTo(first))
	if secrets, _ := src.secrets.Objects(); len(secrets) != 1 || secrets[0].Name != "signing" {
		t.Fatalf("the pod watches %d Secrets; want only the signing Secret", len(secrets))
	}

	// Rotated, and recorded in the status as the operator does.
	second := rotate(t, c, certSecret)
	setSourceVersion(t, c, rp, second.version)
	eventually(t, holder, "the recorded rotation is read", encryptsTo(second.pair))

	// Rotated with nobody recording it: rebuilds keep the certificate read
	// before, until the resync reads it.
	third := rotate(t, c, certSecret)
	before := holder.Load().Generation
	if err := c.Get(ctx, client.ObjectKeyFromObject(rp), rp); err != nil {
		t.Fatal(err)
	}
	rp.Labels = map[string]string{"touched": "yes"} // an unrelated change
	if err := c.Update(ctx, rp); err != nil {
		t.Fatal(err)
	}
	snap := eventually(t, holder, "a rebuild", func(s *policy.Snapshot) bool { return s.Generation > before })
	if !encryptsTo(second.pair)(snap) {
		t.Fatal("an unrecorded change was read before the resync")
	}
	src.fetched.Resync()
	src.notify()
	eventually(t, holder, "the unrecorded rotation is read at the resync", encryptsTo(third.pair))

	// Deleted and recorded as gone: the relying party is not served.
	if err := c.Delete(ctx, certSecret); err != nil {
		t.Fatal(err)
	}
	setSourceVersion(t, c, rp, "")
	eventually(t, holder, "the relying party without its certificate is left out", func(s *policy.Snapshot) bool {
		_, ok := s.RelyingPartyFor("urn:test:app")
		return !ok
	})
}

type rotated struct {
	pair    *devkeys.Pair
	version string
}

// rotate puts a new certificate in the Secret.
func rotate(t *testing.T, c client.Client, s *corev1.Secret) rotated {
	t.Helper()
	pair, err := devkeys.NewRSA("app.example.com", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(s), s); err != nil {
		t.Fatal(err)
	}
	s.Data = map[string][]byte{"tls.crt": pair.CertPEM}
	if err := c.Update(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	return rotated{pair: pair, version: s.ResourceVersion}
}

func setSourceVersion(t *testing.T, c client.Client, rp *stsv1alpha1.RelyingParty, version string) {
	t.Helper()
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(rp), rp); err != nil {
		t.Fatal(err)
	}
	rp.Status.CertificateSourceVersion = version
	if err := c.Status().Update(context.Background(), rp); err != nil {
		t.Fatal(err)
	}
}

// TestWatchedSourceWinsOverFetched: a Secret that a trusted issuer and a
// relying party both name is watched, and its deletion takes both out of
// service at once, with nobody recording it in the relying party's status.
func TestWatchedSourceWinsOverFetched(t *testing.T) {
	api := apiserver.Start(t)
	ctx := context.Background()
	c := api.Client
	signing, _ := tlsSecret(t, "signing")
	shared, pair := tlsSecret(t, "shared")
	for _, o := range []client.Object{signing, shared,
		&stsv1alpha1.SecurityTokenService{ObjectMeta: metav1.ObjectMeta{Namespace: kubeNS, Name: "sts"}, Spec: stsv1alpha1.SecurityTokenServiceSpec{
			Issuer: "urn:test:sts", Endpoint: "https://sts.example.com/sts", Signing: stsv1alpha1.SigningSpec{SecretRef: &stsv1alpha1.SecretKeySelector{Name: "signing"}}}},
		&stsv1alpha1.RelyingParty{ObjectMeta: metav1.ObjectMeta{Namespace: kubeNS, Name: "app"}, Spec: stsv1alpha1.RelyingPartySpec{
			STSRef: stsv1alpha1.LocalObjectReference{Name: "sts"}, Endpoint: "urn:test:app",
			Encryption: &stsv1alpha1.EncryptionSpec{Enabled: true, Certificate: &stsv1alpha1.CertificateSource{SecretRef: &stsv1alpha1.SecretKeySelector{Name: "shared", Key: "tls.crt"}}}}},
		&stsv1alpha1.TrustedIssuer{ObjectMeta: metav1.ObjectMeta{Namespace: kubeNS, Name: "partner"}, Spec: stsv1alpha1.TrustedIssuerSpec{
			STSRef: stsv1alpha1.LocalObjectReference{Name: "sts"}, Issuer: "urn:test:partner",
			Certificates: &stsv1alpha1.CertificateSource{SecretRef: &stsv1alpha1.SecretKeySelector{Name: "shared", Key: "tls.crt"}}}},
	} {
		if err := c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	_, holder := runKubeSource(t, api, time.Hour)
	eventually(t, holder, "the relying party and the issuer are served", func(s *policy.Snapshot) bool {
		rp, ok := s.RelyingPartyFor("urn:test:app")
		return ok && rp.Encryption.Certificates[0].Equal(pair.Cert) && len(s.TrustedIssuers) == 1
	})
	if err := c.Delete(ctx, shared); err != nil {
		t.Fatal(err)
	}
	eventually(t, holder, "both are out of service", func(s *policy.Snapshot) bool {
		_, ok := s.RelyingPartyFor("urn:test:app")
		return !ok && len(s.TrustedIssuers) == 0
	})
}
