package controllers

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
)

func newTI(ns, name, sts string, src stsv1alpha1.CertificateSource) *stsv1alpha1.TrustedIssuer {
	return &stsv1alpha1.TrustedIssuer{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: stsv1alpha1.TrustedIssuerSpec{
			STSRef:       stsv1alpha1.LocalObjectReference{Name: sts},
			Issuer:       "http://adfs.example.com/adfs/services/trust",
			Certificates: &src,
		},
	}
}

func TestTrustedIssuerStatus(t *testing.T) {
	needCluster(t)
	ns := newNamespace(t, "ti-status")
	current, _, _ := makeCert(t, certSpec{cn: "adfs-2025"})
	next, _, _ := makeCert(t, certSpec{cn: "adfs-2026", notAfter: time.Now().AddDate(2, 0, 0)})
	expiredAt := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	expired, _, _ := makeCert(t, certSpec{cn: "adfs-2023", notBefore: expiredAt.AddDate(-1, 0, 0), notAfter: expiredAt})

	// A rollover: both certificates are trusted and reported.
	rollover := newTI(ns, "adfs", "corp-sts", stsv1alpha1.CertificateSource{PEM: string(current) + string(next)})
	create(t, rollover)
	waitCondition(t, rollover, stsv1alpha1.ConditionAccepted, metav1.ConditionFalse, stsv1alpha1.ReasonSTSNotFound)
	waitCondition(t, rollover, stsv1alpha1.ConditionCertificateValid, metav1.ConditionTrue, ReasonValid)
	if got := len(rollover.Status.Certificates); got != 2 {
		t.Fatalf("status.certificates has %d entries, want 2", got)
	}
	if rollover.Status.Certificates[1].Subject != "CN=adfs-2026,O=Example" || rollover.Status.Certificates[1].SHA256Fingerprint == "" {
		t.Errorf("status.certificates[1] = %+v", rollover.Status.Certificates[1])
	}

	create(t, newSTS(ns, "corp-sts", "corp-sts-signing"))
	waitCondition(t, rollover, stsv1alpha1.ConditionReady, metav1.ConditionTrue, stsv1alpha1.ConditionReady)

	// One expired certificate in a Secret is named in the condition.
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "old-idp"},
		Data: map[string][]byte{"ca.crt": append(append([]byte{}, current...), expired...)}})
	stale := newTI(ns, "old-idp", "corp-sts", stsv1alpha1.CertificateSource{SecretRef: &stsv1alpha1.SecretKeySelector{Name: "old-idp"}})
	// An issuer name of its own: two trusted issuers with one name conflict.
	stale.Spec.Issuer = "http://old-idp.example.com/adfs/services/trust"
	create(t, stale)
	c := waitCondition(t, stale, stsv1alpha1.ConditionCertificateValid, metav1.ConditionFalse, stsv1alpha1.ReasonCertificateExpired)
	want := "certificate 2 of 2 (subject \"CN=adfs-2023,O=Example\") expired at " + expiredAt.Format(time.RFC3339)
	if !strings.Contains(c.Message, want) {
		t.Errorf("message %q does not contain %q", c.Message, want)
	}
	waitCondition(t, stale, stsv1alpha1.ConditionReady, metav1.ConditionFalse, stsv1alpha1.ReasonCertificateExpired)
	waitEvent(t, stale, corev1.EventTypeWarning, stsv1alpha1.ReasonCertificateExpired)
}
