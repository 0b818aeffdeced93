package controllers

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
)

func TestRelyingPartyWaitsForItsSTS(t *testing.T) {
	needCluster(t)
	ns := newNamespace(t, "rp-sts-later")
	rp := newRP(ns, "portal", "corp-sts", "https://portal.example.com/")
	create(t, rp)

	c := waitCondition(t, rp, stsv1alpha1.ConditionAccepted, metav1.ConditionFalse, stsv1alpha1.ReasonSTSNotFound)
	want := "SecurityTokenService corp-sts not found in namespace " + ns + ": create it or fix spec.stsRef.name (this clears by itself once it exists)"
	if c.Message != want {
		t.Errorf("Accepted message %q, want %q", c.Message, want)
	}
	ready := waitCondition(t, rp, stsv1alpha1.ConditionReady, metav1.ConditionFalse, stsv1alpha1.ReasonSTSNotFound)
	if ready.Message != want {
		t.Errorf("Ready message %q, want the Accepted message", ready.Message)
	}
	waitCondition(t, rp, stsv1alpha1.ConditionCertificateValid, metav1.ConditionTrue, stsv1alpha1.ReasonNotRequired)
	waitEvent(t, rp, corev1.EventTypeWarning, stsv1alpha1.ReasonSTSNotFound)

	create(t, newSTS(ns, "corp-sts", "corp-sts-signing"))
	c = waitCondition(t, rp, stsv1alpha1.ConditionAccepted, metav1.ConditionTrue, stsv1alpha1.ConditionAccepted)
	if !strings.Contains(c.Message, "corp-sts") {
		t.Errorf("Accepted message %q does not name the STS", c.Message)
	}
	waitCondition(t, rp, stsv1alpha1.ConditionReady, metav1.ConditionTrue, stsv1alpha1.ConditionReady)
	waitEvent(t, rp, corev1.EventTypeNormal, stsv1alpha1.ConditionAccepted)
	if rp.Status.ObservedGeneration != rp.Generation {
		t.Errorf("observedGeneration %d, generation %d", rp.Status.ObservedGeneration, rp.Generation)
	}

	// The STS going away takes the relying party out of effect again.
	if err := cluster.client.Delete(context.Background(), newSTS(ns, "corp-sts", "")); err != nil {
		t.Fatal(err)
	}
	waitCondition(t, rp, stsv1alpha1.ConditionAccepted, metav1.ConditionFalse, stsv1alpha1.ReasonSTSNotFound)
}

func TestRelyingPartyExpiredCertificate(t *testing.T) {
	needCluster(t)
	ns := newNamespace(t, "rp-expired")
	create(t, newSTS(ns, "corp-sts", "corp-sts-signing"))
	notAfter := time.Now().Add(-48 * time.Hour).UTC().Truncate(time.Second)
	certPEM, _, _ := makeCert(t, certSpec{cn: "portal.example.com", notBefore: notAfter.AddDate(-1, 0, 0), notAfter: notAfter})
	create(t, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "portal-cert"},
		Data:       map[string][]byte{"tls.crt": certPEM},
	})
	rp := newRP(ns, "portal", "corp-sts", "https://portal.example.com/")
	rp.Spec.Encryption = &stsv1alpha1.EncryptionSpec{
		Enabled:     true,
		Certificate: &stsv1alpha1.CertificateSource{SecretRef: &stsv1alpha1.SecretKeySelector{Name: "portal-cert"}},
	}
	create(t, rp)

	c := waitCondition(t, rp, stsv1alpha1.ConditionCertificateValid, metav1.ConditionFalse, stsv1alpha1.ReasonCertificateExpired)
	notAfterText := notAfter.Format(time.RFC3339)
	for _, s := range []string{notAfterText, "CN=portal.example.com", "put a renewed certificate in Secret portal-cert"} {
		if !strings.Contains(c.Message, s) {
			t.Errorf("CertificateValid message %q does not contain %q", c.Message, s)
		}
	}
	waitCondition(t, rp, stsv1alpha1.ConditionReady, metav1.ConditionFalse, stsv1alpha1.ReasonCertificateExpired)
	if rp.Status.Certificate == nil || !rp.Status.Certificate.NotAfter.Time.Equal(notAfter) || rp.Status.Certificate.Subject != "CN=portal.example.com,O=Example" {
		t.Errorf("status.certificate %+v, want the expired certificate", rp.Status.Certificate)
	}
	note := waitEvent(t, rp, corev1.EventTypeWarning, stsv1alpha1.ReasonCertificateExpired)
	if !strings.Contains(note, notAfterText) {
		t.Errorf("event note %q does not name the notAfter", note)
	}

	out := kubectl(t, "describe", "rp", "portal", "-n", ns)
	for _, s := range []string{"CertificateExpired", "expired at " + notAfterText + " (notAfter)", "Warning"} {
		if !strings.Contains(out, s) {
			t.Errorf("kubectl describe rp does not show %q:\n%s", s, out)
		}
	}

	// Renewing the certificate in the Secret is noticed without touching the RP.
	renewed, _, _ := makeCert(t, certSpec{cn: "portal.example.com"})
	var secret corev1.Secret
	if err := cluster.client.Get(context.Background(), key(ns, "portal-cert"), &secret); err != nil {
		t.Fatal(err)
	}
	secret.Data["tls.crt"] = renewed
	if err := cluster.client.Update(context.Background(), &secret); err != nil {
		t.Fatal(err)
	}
	waitCondition(t, rp, stsv1alpha1.ConditionCertificateValid, metav1.ConditionTrue, ReasonValid)
	waitCondition(t, rp, stsv1alpha1.ConditionReady, metav1.ConditionTrue, stsv1alpha1.ConditionReady)
}

func TestRelyingPartyCertificateSources(t *testing.T) {
	needCluster(t)
	ns := newNamespace(t, "rp-sources")
	create(t, newSTS(ns, "corp-sts", "corp-sts-signing"))
	soon, _, _ := makeCert(t, certSpec{cn: "soon", notAfter: time.Now().Add(10 * 24 * time.Hour)})
	valid, _, _ := makeCert(t, certSpec{cn: "valid"})
	signOnly, _, _ := makeCert(t, certSpec{cn: "signonly", keyUsage: 1}) // digitalSignature only
	create(t, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "certs"},
		Data: map[string]string{"ca.crt": string(soon), "other.pem": string(valid)}})

	tests := []struct {
		name       string
		src        stsv1alpha1.CertificateSource
		wantOK     metav1.ConditionStatus
		wantReason string
		wantInMsg  string
	}{
		{"configmap-default-key", stsv1alpha1.CertificateSource{ConfigMapRef: &stsv1alpha1.ConfigMapKeySelector{Name: "certs"}}, metav1.ConditionTrue, stsv1alpha1.ReasonCertificateExpiringSoon, "(in 9 days)"},
		{"configmap-named-key", stsv1alpha1.CertificateSource{ConfigMapRef: &stsv1alpha1.ConfigMapKeySelector{Name: "certs", Key: "other.pem"}}, metav1.ConditionTrue, ReasonValid, "CN=valid"},
		{"configmap-missing-key", stsv1alpha1.CertificateSource{ConfigMapRef: &stsv1alpha1.ConfigMapKeySelector{Name: "certs", Key: "nope"}}, metav1.ConditionFalse, stsv1alpha1.ReasonCertificateInvalid, "ConfigMap certs has no key nope"},
		{"configmap-missing", stsv1alpha1.CertificateSource{ConfigMapRef: &stsv1alpha1.ConfigMapKeySelector{Name: "gone"}}, metav1.ConditionFalse, stsv1alpha1.ReasonCertificateInvalid, "ConfigMap gone not found in namespace " + ns},
		{"secret-missing", stsv1alpha1.CertificateSource{SecretRef: &stsv1alpha1.SecretKeySelector{Name: "gone"}}, metav1.ConditionFalse, ReasonSecretNotFound, "spec.encryption.certificate.secretRef.name"},
		{"pem-sign-only", stsv1alpha1.CertificateSource{PEM: string(signOnly)}, metav1.ConditionFalse, stsv1alpha1.ReasonCertificateInvalid, "keyEncipherment"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := tt.src
			rp := newRP(ns, tt.name, "corp-sts", fmt.Sprintf("https://app%d.example.com/", i))
			rp.Spec.Encryption = &stsv1alpha1.EncryptionSpec{Enabled: true, Certificate: &src}
			create(t, rp)
			c := waitCondition(t, rp, stsv1alpha1.ConditionCertificateValid, tt.wantOK, tt.wantReason)
			if !strings.Contains(c.Message, tt.wantInMsg) {
				t.Errorf("message %q does not contain %q", c.Message, tt.wantInMsg)
			}
			if tt.wantOK == metav1.ConditionTrue && rp.Status.Certificate == nil {
				t.Error("status.certificate is empty")
			}
		})
	}
}

func TestRelyingPartyEndpointConflict(t *testing.T) {
	needCluster(t)
	ns := newNamespace(t, "rp-conflict")
	create(t, newSTS(ns, "corp-sts", "corp-sts-signing"))
	first := newRP(ns, "first", "corp-sts", "https://app.example.com/service")
	create(t, first)
	waitCondition(t, first, stsv1alpha1.ConditionAccepted, metav1.ConditionTrue, stsv1alpha1.ConditionAccepted)
	// Creation timestamps have second resolution: make the order unambiguous.
	time.Sleep(1100 * time.Millisecond)

	second := newRP(ns, "second", "corp-sts", "https://app.example.com/service")
	create(t, second)
	prefix := newRP(ns, "prefix", "corp-sts", "https://app.example.com/service")
	prefix.Spec.Match = stsv1alpha1.MatchPrefix
	create(t, prefix)

	c := waitCondition(t, second, stsv1alpha1.ConditionAccepted, metav1.ConditionFalse, stsv1alpha1.ReasonConflict)
	if !strings.Contains(c.Message, "RelyingParty first") || !strings.Contains(c.Message, "https://app.example.com/service (match Exact)") {
		t.Errorf("conflict message %q does not name the other relying party and the endpoint", c.Message)
	}
	waitEvent(t, second, corev1.EventTypeWarning, stsv1alpha1.ReasonConflict)
	// The older one keeps its endpoint; a Prefix match is a different claim.
	waitCondition(t, first, stsv1alpha1.ConditionAccepted, metav1.ConditionTrue, stsv1alpha1.ConditionAccepted)
	waitCondition(t, prefix, stsv1alpha1.ConditionAccepted, metav1.ConditionTrue, stsv1alpha1.ConditionAccepted)

	if err := cluster.client.Delete(context.Background(), first); err != nil {
		t.Fatal(err)
	}
	waitCondition(t, second, stsv1alpha1.ConditionAccepted, metav1.ConditionTrue, stsv1alpha1.ConditionAccepted)
}

// TestRelyingPartyRecordsItsCertificateSourceVersion: the status carries the
// resourceVersion of the certificate Secret as it changes, and nothing once
// it is gone, which is what tells STS pods to read it again.
func TestRelyingPartyRecordsItsCertificateSourceVersion(t *testing.T) {
	needCluster(t)
	ns := newNamespace(t, "rp-source-version")
	create(t, newSTS(ns, "corp-sts", "corp-sts-signing"))
	certPEM, _, _ := makeCert(t, certSpec{cn: "portal.example.com"})
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "portal-cert"}, Data: map[string][]byte{"tls.crt": certPEM}}
	create(t, secret)
	rp := newRP(ns, "portal", "corp-sts", "https://portal.example.com/")
	rp.Spec.Encryption = &stsv1alpha1.EncryptionSpec{Enabled: true, Certificate: &stsv1alpha1.CertificateSource{SecretRef: &stsv1alpha1.SecretKeySelector{Name: secret.Name}}}
	create(t, rp)
	recorded := func(want string) {
		t.Helper()
		eventually(t, "certificateSourceVersion "+want, func() string {
			if err := cluster.client.Get(context.Background(), client.ObjectKeyFromObject(rp), rp); err != nil {
				return err.Error()
			}
			if got := rp.Status.CertificateSourceVersion; got != want {
				return fmt.Sprintf("is %q", got)
			}
			return ""
		})
	}
	recorded(secret.ResourceVersion)

	rotated, _, _ := makeCert(t, certSpec{cn: "portal.example.com"})
	secret.Data = map[string][]byte{"tls.crt": rotated}
	if err := cluster.client.Update(context.Background(), secret); err != nil {
		t.Fatal(err)
	}
	recorded(secret.ResourceVersion)

	if err := cluster.client.Delete(context.Background(), secret); err != nil {
		t.Fatal(err)
	}
	recorded("")
	waitCondition(t, rp, stsv1alpha1.ConditionCertificateValid, metav1.ConditionFalse, ReasonSecretNotFound)
}

// TestRelyingPartyWSFederation: the WSFederation condition tells the owner
// when passive sign-in is refused (a plain-HTTP reply URL), and says when
// it is served again once fixed.
func TestRelyingPartyWSFederation(t *testing.T) {
	needCluster(t)
	ns := newNamespace(t, "rp-wsfed")
	create(t, newSTS(ns, "corp-sts", "corp-sts-signing"))
	rp := newRP(ns, "portal", "corp-sts", "https://portal.example.com/")
	create(t, rp)
	waitCondition(t, rp, stsv1alpha1.ConditionWSFederation, metav1.ConditionTrue, stsv1alpha1.ReasonNotRequired)

	updateRP(t, rp, func(rp *stsv1alpha1.RelyingParty) {
		rp.Spec.WSFederation = &stsv1alpha1.WSFederationSpec{ReplyURLs: []string{"https://portal.example.com/signin", "http://portal.example.com/signin"}}
	})
	c := waitCondition(t, rp, stsv1alpha1.ConditionWSFederation, metav1.ConditionFalse, stsv1alpha1.ReasonInsecureReplyURL)
	for _, want := range []string{"replyURLs[1]", "http://portal.example.com/signin", "https", "refuses passive sign-in"} {
		if !strings.Contains(c.Message, want) {
			t.Errorf("message %q does not say %q", c.Message, want)
		}
	}
	waitEvent(t, rp, corev1.EventTypeWarning, stsv1alpha1.ReasonInsecureReplyURL)
	waitCondition(t, rp, stsv1alpha1.ConditionReady, metav1.ConditionTrue, stsv1alpha1.ConditionReady)

	updateRP(t, rp, func(rp *stsv1alpha1.RelyingParty) {
		rp.Spec.WSFederation.ReplyURLs = rp.Spec.WSFederation.ReplyURLs[:1]
	})
	waitCondition(t, rp, stsv1alpha1.ConditionWSFederation, metav1.ConditionTrue, stsv1alpha1.ReasonConfigured)
}

// updateRP changes the stored relying party with change, retrying when
// the operator wrote its status in between.
func updateRP(t *testing.T, rp *stsv1alpha1.RelyingParty, change func(*stsv1alpha1.RelyingParty)) {
	t.Helper()
	for range 10 {
		var latest stsv1alpha1.RelyingParty
		if err := cluster.client.Get(context.Background(), client.ObjectKeyFromObject(rp), &latest); err != nil {
			t.Fatal(err)
		}
		change(&latest)
		err := cluster.client.Update(context.Background(), &latest)
		if err == nil {
			*rp = latest
			return
		}
		if !apierrors.IsConflict(err) {
			t.Fatal(err)
		}
	}
	t.Fatal("the relying party kept changing under the update")
}
