package controllers

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
)

// webhookTI is a trusted issuer that hands the token types to a webhook
// and verifies no SAML tokens.
func webhookTI(ns, name, sts string, caBundle *stsv1alpha1.CertificateSource, tokenTypes ...stsv1alpha1.IssuerTokenType) *stsv1alpha1.TrustedIssuer {
	return &stsv1alpha1.TrustedIssuer{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: stsv1alpha1.TrustedIssuerSpec{
			STSRef:     stsv1alpha1.LocalObjectReference{Name: sts},
			Issuer:     "urn:example:" + name,
			TokenTypes: tokenTypes,
			Webhook:    &stsv1alpha1.TokenReviewWebhook{URL: "https://review.example/tokens", CABundle: caBundle},
		},
	}
}

// TestUnhandledTokenTypeInStatus: a custom token type in
// onBehalfOf.allowedTokenTypes that no TrustedIssuer validates makes the
// STS Ready=False, reason UnhandledTokenType, naming the URI and what to
// add; a TrustedIssuer with a webhook for it clears the reason.
func TestUnhandledTokenTypeInStatus(t *testing.T) {
	needCluster(t)
	ns := newNamespace(t, "sts-tokentypes")
	certPEM, keyPEM, _ := makeCert(t, certSpec{cn: "sts-signing"})
	create(t, tlsSecret(ns, "signing", certPEM, keyPEM))
	const jwt = "urn:ietf:params:oauth:token-type:jwt"
	sts := newSTS(ns, "corp-sts", "signing")
	sts.Spec.OnBehalfOf.AllowedTokenTypes = []string{"SAML20", jwt}
	create(t, sts)

	c := waitCondition(t, sts, stsv1alpha1.ConditionReady, metav1.ConditionFalse, ReasonUnhandledTokenType)
	for _, want := range []string{jwt, "add a TrustedIssuer with spec.webhook and the type in spec.tokenTypes"} {
		if !strings.Contains(c.Message, want) {
			t.Errorf("message %q does not contain %q", c.Message, want)
		}
	}
	waitEvent(t, sts, corev1.EventTypeWarning, ReasonUnhandledTokenType)

	// A webhook for another type, or one bound to another STS, does not help.
	create(t, webhookTI(ns, "other-type", "corp-sts", nil, "urn:example:other"))
	create(t, webhookTI(ns, "other-sts", "another-sts", nil, jwt))
	waitCondition(t, sts, stsv1alpha1.ConditionReady, metav1.ConditionFalse, ReasonUnhandledTokenType)

	create(t, webhookTI(ns, "jwt-review", "corp-sts", nil, jwt))
	eventually(t, "Ready without UnhandledTokenType", func() string {
		if c := conditionOf(t, sts, stsv1alpha1.ConditionReady); c == nil || c.Reason == ReasonUnhandledTokenType {
			return "still unhandled"
		}
		return ""
	})
}

// TestWebhookTrustedIssuerStatus: a trusted issuer with only a webhook is
// Ready without certificates; its caBundle is checked like any certificate
// source, and a missing one is named. The API server refuses a webhook
// that is not https.
func TestWebhookTrustedIssuerStatus(t *testing.T) {
	needCluster(t)
	ns := newNamespace(t, "ti-webhook")
	certPEM, keyPEM, _ := makeCert(t, certSpec{cn: "sts-signing"})
	create(t, tlsSecret(ns, "signing", certPEM, keyPEM))
	create(t, newSTS(ns, "corp-sts", "signing"))

	system := webhookTI(ns, "system-roots", "corp-sts", nil, "urn:example:jwt")
	create(t, system)
	waitCondition(t, system, stsv1alpha1.ConditionReady, metav1.ConditionTrue, stsv1alpha1.ConditionReady)

	caPEM, _, _ := makeCert(t, certSpec{cn: "review-ca"})
	create(t, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "review-ca"}, Data: map[string]string{"ca.crt": string(caPEM)}})
	pinned := webhookTI(ns, "pinned", "corp-sts", &stsv1alpha1.CertificateSource{ConfigMapRef: &stsv1alpha1.ConfigMapKeySelector{Name: "review-ca"}}, "urn:example:pinned")
	create(t, pinned)
	c := waitCondition(t, pinned, stsv1alpha1.ConditionCertificateValid, metav1.ConditionTrue, ReasonValid)
	if !strings.Contains(c.Message, "spec.webhook.caBundle: 1 certificate(s) valid") || len(pinned.Status.Certificates) != 1 || pinned.Status.Certificates[0].Subject != "CN=review-ca,O=Example" {
		t.Errorf("CertificateValid %q, status.certificates %+v", c.Message, pinned.Status.Certificates)
	}

	missing := webhookTI(ns, "missing-ca", "corp-sts", &stsv1alpha1.CertificateSource{SecretRef: &stsv1alpha1.SecretKeySelector{Name: "nowhere"}}, "urn:example:missing")
	create(t, missing)
	c = waitCondition(t, missing, stsv1alpha1.ConditionCertificateValid, metav1.ConditionFalse, ReasonSecretNotFound)
	if !strings.Contains(c.Message, "spec.webhook.caBundle.secretRef.name") {
		t.Errorf("message %q does not name the caBundle", c.Message)
	}
	waitCondition(t, missing, stsv1alpha1.ConditionReady, metav1.ConditionFalse, ReasonSecretNotFound)

	plain := webhookTI(ns, "plain-http", "corp-sts", nil, "urn:example:plain")
	plain.Spec.Webhook.URL = "http://review.example/tokens"
	err := cluster.client.Create(context.Background(), plain)
	if err == nil || !strings.Contains(err.Error(), "webhook.url must be an https:// URL") {
		t.Errorf("an http:// webhook was accepted: %v", err)
	}
}
