package controllers

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
)

// TestKubectlGetShowsCertificateExpiry runs `kubectl get` as an operator of
// the cluster would and reads the expiry of healthy certificates (a future
// date, which kubectl prints as <invalid> in a date column), and with -o
// wide the Ready condition's message.
func TestKubectlGetShowsCertificateExpiry(t *testing.T) {
	needCluster(t)
	ns := newNamespace(t, "kubectl-get")
	signingPEM, signingKey, signing := makeCert(t, certSpec{cn: "sts-signing", notAfter: time.Now().Add(400 * 24 * time.Hour)})
	create(t, tlsSecret(ns, "signing", signingPEM, signingKey))
	sts := newSTS(ns, "corp-sts", "signing")
	create(t, sts)
	portalPEM, _, portal := makeCert(t, certSpec{cn: "portal.example.com", notAfter: time.Now().Add(200 * 24 * time.Hour)})
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "portal-cert"}, Data: map[string][]byte{"tls.crt": portalPEM}})
	rp := newRP(ns, "portal", "corp-sts", "https://portal.example.com/")
	rp.Spec.Encryption = &stsv1alpha1.EncryptionSpec{Enabled: true, Certificate: &stsv1alpha1.CertificateSource{SecretRef: &stsv1alpha1.SecretKeySelector{Name: "portal-cert"}}}
	create(t, rp)
	waitCondition(t, sts, stsv1alpha1.ConditionSigningKeyValid, metav1.ConditionTrue, ReasonValid)
	waitCondition(t, rp, stsv1alpha1.ConditionReady, metav1.ConditionTrue, stsv1alpha1.ConditionReady)

	tests := []struct {
		args   []string
		column string
		want   []string
	}{
		{[]string{"get", "stsvc"}, "SIGNING CERT EXPIRY", []string{"corp-sts", signing.NotAfter.UTC().Format(time.RFC3339)}},
		{[]string{"get", "rp"}, "CERT EXPIRY", []string{"portal", portal.NotAfter.UTC().Format(time.RFC3339)}},
		{[]string{"get", "stsvc", "-o", "wide"}, "STATUS", []string{"0 of 1 STS pods are ready"}},
		{[]string{"get", "rp", "-o", "wide"}, "STATUS", []string{"tokens for https://portal.example.com/ are issued by SecurityTokenService corp-sts"}},
	}
	for _, tt := range tests {
		out := kubectl(t, append(tt.args, "-n", ns)...)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 2 || !strings.Contains(lines[0], tt.column) {
			t.Errorf("kubectl %s: want a header with %s and one row:\n%s", strings.Join(tt.args, " "), tt.column, out)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(lines[1], w) {
				t.Errorf("kubectl %s does not show %q:\n%s", strings.Join(tt.args, " "), w, out)
			}
		}
		if strings.Contains(out, "<invalid>") {
			t.Errorf("kubectl %s shows <invalid>:\n%s", strings.Join(tt.args, " "), out)
		}
	}
}
