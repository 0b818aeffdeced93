package controllers

import (
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
)

// TestRoleNamesTheSignInSessionKey: the Role grants the pods every Secret
// they read, the sign-in page's session key included (the operator once kept
// its own list, which lacked it: every pod then made a key of its own).
func TestRoleNamesTheSignInSessionKey(t *testing.T) {
	sts := &stsv1alpha1.SecurityTokenService{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "corp-sts"}, Spec: stsv1alpha1.SecurityTokenServiceSpec{
		Signing:    stsv1alpha1.SigningSpec{SecretRef: &stsv1alpha1.SecretKeySelector{Name: "signing"}},
		SignInPage: &stsv1alpha1.SignInPageSpec{SessionKeySecretRef: &stsv1alpha1.SecretKeySelector{Name: "signin-session"}},
	}}
	rp := *newRP("ns", "portal", "corp-sts", "https://portal.example.com/")
	rp.Spec.Encryption = &stsv1alpha1.EncryptionSpec{Enabled: true, Certificate: &stsv1alpha1.CertificateSource{SecretRef: &stsv1alpha1.SecretKeySelector{Name: "portal-cert"}}}
	ti := *newTI("ns", "adfs", "corp-sts", stsv1alpha1.CertificateSource{SecretRef: &stsv1alpha1.SecretKeySelector{Name: "adfs-certs"}})
	got := secretNames(sts, []stsv1alpha1.RelyingParty{rp}, []stsv1alpha1.TrustedIssuer{ti})
	if want := []string{"adfs-certs", "portal-cert", "signin-session", "signing"}; !slices.Equal(got, want) {
		t.Fatalf("the Role names %v, want %v", got, want)
	}
}
