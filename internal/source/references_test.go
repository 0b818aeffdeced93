package source

import (
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
)

// TestReferencesOfRelyingPartiesAndIssuers: what an STS's pods read of its
// relying parties and trusted issuers is what the operator indexes each of
// them by, for those bound to that STS only.
func TestReferencesOfRelyingPartiesAndIssuers(t *testing.T) {
	meta := metav1.ObjectMeta{Namespace: "ns"}
	sts := &stsv1alpha1.SecurityTokenService{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "sts"}}
	rp := &stsv1alpha1.RelyingParty{ObjectMeta: meta, Spec: stsv1alpha1.RelyingPartySpec{STSRef: stsv1alpha1.LocalObjectReference{Name: "sts"},
		Encryption: &stsv1alpha1.EncryptionSpec{Certificate: &stsv1alpha1.CertificateSource{SecretRef: &stsv1alpha1.SecretKeySelector{Name: "rp-cert"}}}}}
	ti := &stsv1alpha1.TrustedIssuer{ObjectMeta: meta, Spec: stsv1alpha1.TrustedIssuerSpec{STSRef: stsv1alpha1.LocalObjectReference{Name: "sts"},
		Certificates: &stsv1alpha1.CertificateSource{ConfigMapRef: &stsv1alpha1.ConfigMapKeySelector{Name: "ti-certs"}},
		Webhook:      &stsv1alpha1.TokenReviewWebhook{CABundle: &stsv1alpha1.CertificateSource{SecretRef: &stsv1alpha1.SecretKeySelector{Name: "ti-ca"}}}}}
	other := rp.DeepCopy()
	other.Spec.STSRef.Name = "another-sts"
	other.Spec.Encryption.Certificate.SecretRef.Name = "other-cert"

	refs := ReferencesOf(sts, []*stsv1alpha1.RelyingParty{rp, other}, []*stsv1alpha1.TrustedIssuer{ti})
	if want := []string{"rp-cert", "ti-ca"}; !slices.Equal(refs.Secrets, want) {
		t.Errorf("Secrets %v, want %v", refs.Secrets, want)
	}
	if want := []string{"ti-certs"}; !slices.Equal(refs.ConfigMaps, want) {
		t.Errorf("ConfigMaps %v, want %v", refs.ConfigMaps, want)
	}
	if got := RelyingPartyReferences(other); !slices.Equal(got.Secrets, []string{"other-cert"}) || got.ConfigMaps != nil {
		t.Errorf("relying party of another STS: %+v", got)
	}
	if got := TrustedIssuerReferences(ti); !slices.Equal(got.Secrets, []string{"ti-ca"}) || !slices.Equal(got.ConfigMaps, []string{"ti-certs"}) {
		t.Errorf("trusted issuer: %+v", got)
	}
}
