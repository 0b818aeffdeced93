package controllers

import (
	"context"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/go-logr/logr/testr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
	stsclient "github.com/trustbroker/trustbroker/internal/client"
	"github.com/trustbroker/trustbroker/internal/devkeys"
	"github.com/trustbroker/trustbroker/internal/issuer"
	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/saml"
	"github.com/trustbroker/trustbroker/internal/server"
	"github.com/trustbroker/trustbroker/internal/source"
	"github.com/trustbroker/trustbroker/internal/xmlsec"
)

// serveKube runs an STS that follows the namespace through the API server,
// as `sts serve --kube` does, and returns its endpoint URL.
func serveKube(t *testing.T, ns, name string) string {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", cluster.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	log := testr.New(t)
	holder := &policy.Holder{}
	src := &source.KubeSource{Config: cfg, Namespace: ns, Builder: &source.Builder{STS: source.Key(ns, name)}, Holder: holder, Log: log}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := src.Run(ctx); err != nil {
			t.Error(err)
		}
	}()
	t.Cleanup(func() { stop(); <-done })
	s := &server.Server{
		Policy:  holder,
		Issuer:  &issuer.Issuer{Log: log},
		Replay:  &server.ReplayStores{Memory: server.NewMemoryStores(1000, time.Now), Log: log},
		Now:     time.Now,
		Log:     log,
		Audit:   log,
		Metrics: server.NewMetrics(prometheus.NewRegistry(), holder),
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	return hs.URL + "/sts"
}

// partnerToken is a SAML 2.0 assertion for carol signed by the partner.
func partnerToken(t *testing.T, partner *devkeys.Pair, issuerName, audience string) string {
	t.Helper()
	signer, err := xmlsec.NewSigner(partner.Key, []*x509.Certificate{partner.Cert}, xmlsec.RSASHA256, xmlsec.SHA256, xmlsec.AlgorithmPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	el, err := saml.BuildSigned(saml.SAML20, &saml.Assertion{
		ID: saml.NewID(), IssueInstant: now, Issuer: issuerName,
		Subject:   saml.Subject{NameID: "carol@partner.example", Format: saml.NameIDEmail},
		NotBefore: now.Add(-time.Minute), NotOnOrAfter: now.Add(time.Hour),
		Audiences: []string{audience},
		Authn:     &saml.AuthnStatement{Instant: now, Method: saml.AuthnMethodURI(saml.SAML20, saml.AuthnPassword)},
	}, signer)
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	doc.SetRoot(el)
	out, err := doc.WriteToString()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDeletedIssuerCertificateRevokesTrust: deleting the Secret a
// TrustedIssuer's certificates come from makes the STS (in --kube mode)
// refuse the issuer's tokens, and the operator's status says so, naming
// what to fix and what the STS does meanwhile.
func TestDeletedIssuerCertificateRevokesTrust(t *testing.T) {
	needCluster(t)
	ns := newNamespace(t, "revocation")
	const partnerIssuer = "https://idp.partner.example/trust"
	signing, err := devkeys.NewRSA("sts.example.com", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	partner, err := devkeys.NewRSA("idp.partner.example", time.Now(), 90*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	sts := newSTS(ns, "sts", "sts-signing")
	sts.Spec.Authentication.UsernameToken = &stsv1alpha1.UsernameTokenSpec{Enabled: true, AllowPasswordText: true,
		UserStore: &stsv1alpha1.UserStoreSpec{SecretRef: &stsv1alpha1.SecretKeySelector{Name: "users"}}}
	ti := newTI(ns, "partner", "sts", stsv1alpha1.CertificateSource{SecretRef: &stsv1alpha1.SecretKeySelector{Name: "partner-cert"}})
	ti.Spec.Issuer = partnerIssuer
	ti.Spec.AllowedUsages = []stsv1alpha1.TokenUsage{stsv1alpha1.TokenUsage(policy.UsageValidate)}
	certSecret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "partner-cert"}, Data: map[string][]byte{"ca.crt": partner.CertPEM}}
	create(t, tlsSecret(ns, "sts-signing", signing.CertPEM, signing.KeyPEM))
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "users"},
		StringData: map[string]string{"users.yaml": "- {username: alice, password: alice-pw, roles: [admin]}\n"}})
	create(t, sts)
	create(t, newRP(ns, "app", "sts", "urn:test:app"))
	create(t, certSecret)
	create(t, ti)
	url := serveKube(t, ns, "sts")

	// Validate answers with the STS's verdict on the partner's token.
	validate := func() (int, string) {
		r := stsclient.Request{Endpoint: url, Username: "alice", Password: "alice-pw", AppliesTo: "urn:test:app",
			RequestType: "Validate", TokenType: "status", Target: partnerToken(t, partner, partnerIssuer, sts.Spec.Issuer), Now: time.Now()}
		status, body, err := r.Do(http.DefaultClient)
		if err != nil {
			t.Fatal(err)
		}
		return status, string(body)
	}
	eventually(t, "the partner's token is accepted", func() string {
		if status, body := validate(); status != http.StatusOK || !strings.Contains(body, "/status/valid<") {
			return body
		}
		return ""
	})
	waitCondition(t, ti, stsv1alpha1.ConditionCertificateValid, metav1.ConditionTrue, ReasonValid)

	if err := cluster.client.Delete(context.Background(), certSecret); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the partner's token is refused", func() string {
		if status, body := validate(); status != http.StatusOK || !strings.Contains(body, "/status/invalid<") || !strings.Contains(body, "issuer this STS does not trust") {
			return body
		}
		return ""
	})
	c := waitCondition(t, ti, stsv1alpha1.ConditionCertificateValid, metav1.ConditionFalse, ReasonSecretNotFound)
	for _, want := range []string{"Secret partner-cert not found in namespace " + ns, "spec.certificates.secretRef.name", "the STS refuses every token from this issuer"} {
		if !strings.Contains(c.Message, want) {
			t.Errorf("CertificateValid message %q does not say %q", c.Message, want)
		}
	}
	if ready := waitCondition(t, ti, stsv1alpha1.ConditionReady, metav1.ConditionFalse, ReasonSecretNotFound); ready.Message != c.Message {
		t.Errorf("Ready message %q, want the CertificateValid message", ready.Message)
	}
}

// TestStatusSaysWhatTheSTSDoes: a relying party whose certificate cannot be
// read is not served, also when the certificate only encrypts proof keys;
// a missing signing Secret leaves running pods with their last good key.
// The conditions say so, as the STS's log does.
func TestStatusSaysWhatTheSTSDoes(t *testing.T) {
	needCluster(t)
	ns := newNamespace(t, "status-sts")
	sts := newSTS(ns, "sts", "missing-signing")
	create(t, sts)
	rp := newRP(ns, "proof-keys", "sts", "urn:test:proof-keys")
	rp.Spec.Encryption = &stsv1alpha1.EncryptionSpec{Certificate: &stsv1alpha1.CertificateSource{SecretRef: &stsv1alpha1.SecretKeySelector{Name: "gone"}}}
	create(t, rp)

	c := waitCondition(t, rp, stsv1alpha1.ConditionCertificateValid, metav1.ConditionFalse, ReasonSecretNotFound)
	if !strings.Contains(c.Message, "Secret gone not found") || !strings.Contains(c.Message, "the STS does not serve this relying party") {
		t.Errorf("CertificateValid message %q does not say what is missing and that the relying party is not served", c.Message)
	}
	waitCondition(t, rp, stsv1alpha1.ConditionReady, metav1.ConditionFalse, ReasonSecretNotFound)

	c = waitCondition(t, sts, stsv1alpha1.ConditionSigningKeyValid, metav1.ConditionFalse, ReasonSecretNotFound)
	if !strings.Contains(c.Message, "spec.signing.secretRef.name") || !strings.Contains(c.Message, "keep signing with the last good key") {
		t.Errorf("SigningKeyValid message %q does not say what to fix and what the pods do meanwhile", c.Message)
	}
}
