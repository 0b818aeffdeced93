package source

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
	"github.com/trustbroker/trustbroker/internal/policy"
)

// webhookTI is a trusted issuer of the sample STS with the given spec
// lines after stsRef and issuer.
func webhookTI(name, created, spec string) string {
	meta := "{name: " + name + "}"
	if created != "" {
		meta = "{name: " + name + `, creationTimestamp: "` + created + `"}`
	}
	return "apiVersion: sts.trustbroker.io/v1alpha1\nkind: TrustedIssuer\nmetadata: " + meta + "\nspec:\n  stsRef: {name: dev-sts}\n  issuer: urn:example:" + name + "\n" + spec
}

// TestWebhookManifestsRefusedWhenApplied: the schema refuses a webhook that
// is not https, a timeout over 30s, a custom token type without a webhook
// and a webhook without one, SAML types without certificates, and a token
// type that is neither a built-in name nor a URI, each saying what to fix.
func TestWebhookManifestsRefusedWhenApplied(t *testing.T) {
	cases := map[string]struct{ manifest, want string }{
		"http webhook": {webhookTI("x", "", "  tokenTypes: [urn:example:jwt]\n  webhook: {url: 'http://review.example/tokens'}\n"),
			"webhook.url must be an https:// URL"},
		"credentials in the URL": {webhookTI("x", "", "  tokenTypes: [urn:example:jwt]\n  webhook: {url: 'https://user:pw@review.example/tokens'}\n"),
			"must not carry a fragment or user credentials"},
		"long timeout": {webhookTI("x", "", "  tokenTypes: [urn:example:jwt]\n  webhook: {url: 'https://review.example/tokens', timeout: 1m}\n"),
			"webhook.timeout must be a duration such as 5s, greater than zero and at most 30s"},
		"custom type without a webhook": {webhookTI("x", "", "  tokenTypes: [SAML20, urn:example:jwt]\n  certificates: {pem: '-----BEGIN CERTIFICATE-----'}\n"),
			"a custom token type URI in spec.tokenTypes needs spec.webhook"},
		"webhook without a custom type": {webhookTI("x", "", "  tokenTypes: [SAML20]\n  certificates: {pem: '-----BEGIN CERTIFICATE-----'}\n  webhook: {url: 'https://review.example/tokens'}\n"),
			"spec.webhook needs the custom token type URIs it validates"},
		"SAML types without certificates": {webhookTI("x", "", "  webhook: {url: 'https://review.example/tokens'}\n"),
			"SAML20 and SAML11 in spec.tokenTypes need spec.certificates"},
		"neither certificates nor webhook": {webhookTI("x", "", ""),
			"give spec.certificates (to verify SAML tokens), spec.webhook (to validate custom token types), or both"},
		"token type not a URI": {webhookTI("x", "", "  tokenTypes: [JWT]\n  webhook: {url: 'https://review.example/tokens'}\n"),
			"spec.tokenTypes[0]: Invalid value"},
		"allowedTokenTypes not a URI": {"", "spec.onBehalfOf.allowedTokenTypes[0]: Invalid value"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			dir := standaloneFolder(t)
			if tc.manifest == "" {
				setAllowedTokenTypes(t, dir, "JWT")
			} else {
				writeFile(t, dir, "bad.yaml", tc.manifest)
			}
			err := newSource(t, dir).Load()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// setAllowedTokenTypes sets the folder's STS's onBehalfOf.allowedTokenTypes.
func setAllowedTokenTypes(t *testing.T, dir string, types ...string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "sts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var sts map[string]any
	if err := yaml.Unmarshal(raw, &sts); err != nil {
		t.Fatal(err)
	}
	spec := sts["spec"].(map[string]any)
	obo, _ := spec["onBehalfOf"].(map[string]any)
	if obo == nil {
		obo = map[string]any{}
		spec["onBehalfOf"] = obo
	}
	obo["allowedTokenTypes"] = types
	out, err := yaml.Marshal(sts)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "sts.yaml", string(out))
}

// TestWebhookTrustedIssuerPolicy: a webhook trusted issuer needs no
// certificates, reads its caBundle like any certificate source, defaults
// its timeout to 5s, and of two webhooks claiming one token type only the
// older reviews it. A caBundle that cannot be read leaves the issuer out.
func TestWebhookTrustedIssuerPolicy(t *testing.T) {
	dir := standaloneFolder(t)
	ca := certPEM(t, "review-ca", "rsa2048")
	const older, newer = "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"
	writeFile(t, dir, "review-ca.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: review-ca}\ndata:\n  ca.crt: |\n"+indent(ca, "    ")+"\n")
	writeFile(t, dir, "hooks.yaml", webhookTI("b-jwt", older, "  tokenTypes: [urn:example:jwt, urn:example:only-b]\n  webhook:\n    url: https://b.example/review\n    caBundle: {configMapRef: {name: review-ca}}\n")+
		"---\n"+webhookTI("a-jwt", newer, "  tokenTypes: [urn:example:jwt, urn:example:only-a]\n  allowedUsages: [Validate]\n  webhook: {url: 'https://a.example/review', timeout: 2s}\n")+
		"---\n"+webhookTI("c-broken", older, "  tokenTypes: [urn:example:only-c]\n  webhook:\n    url: https://c.example/review\n    caBundle: {secretRef: {name: missing}}\n"))
	s := newSource(t, dir)
	snap, problems := build(t, s, nil)

	b, ok := snap.TokenReviewerFor("urn:example:jwt")
	if !ok || b.Name != "b-jwt" {
		t.Fatalf("urn:example:jwt is reviewed by %v, want the older b-jwt", b)
	}
	if b.Webhook.URL != "https://b.example/review" || b.Webhook.Timeout != 5*time.Second || len(b.Webhook.CAs) != 1 || b.Webhook.CAs[0].Subject.CommonName != "review-ca" {
		t.Errorf("b-jwt's webhook = %+v", b.Webhook)
	}
	if len(b.Certificates) != 0 || b.AcceptsTokenType(policy.SAML20) {
		t.Errorf("a webhook-only issuer verifies SAML tokens: certificates %d, token types %v", len(b.Certificates), b.TokenTypes)
	}
	a, ok := snap.TokenReviewerFor("urn:example:only-a")
	if !ok || a.Name != "a-jwt" || a.Webhook.Timeout != 2*time.Second || a.Webhook.CAs != nil || slices.Contains(a.Webhook.TokenTypes, "urn:example:jwt") {
		t.Errorf("a-jwt = %+v, %+v; want it to review only-a, with the system roots, and not jwt", a, a.Webhook)
	}
	if p, ok := problemFor(problems, "TrustedIssuer", "a-jwt"); !ok || !strings.Contains(p.Err.Error(), "TrustedIssuer b-jwt's webhook already validates token type urn:example:jwt") {
		t.Errorf("no conflict reported for a-jwt: %v", problems)
	}
	if _, ok := snap.TokenReviewerFor("urn:example:only-c"); ok {
		t.Error("an issuer whose caBundle cannot be read reviews tokens")
	}
	if p, ok := problemFor(problems, "TrustedIssuer", "c-broken"); !ok || !strings.Contains(p.Err.Error(), "webhook.caBundle") {
		t.Errorf("no problem names c-broken's caBundle: %v", problems)
	}
}

// TestReferencesNameWebhookCABundles: an STS pod may read, and watches, the
// Secret or ConfigMap of a webhook's caBundle.
func TestReferencesNameWebhookCABundles(t *testing.T) {
	sts := &stsv1alpha1.SecurityTokenService{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "sts"}}
	ti := &stsv1alpha1.TrustedIssuer{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "hook"}, Spec: stsv1alpha1.TrustedIssuerSpec{
		STSRef: stsv1alpha1.LocalObjectReference{Name: "sts"},
		Webhook: &stsv1alpha1.TokenReviewWebhook{URL: "https://review.example/", CABundle: &stsv1alpha1.CertificateSource{
			ConfigMapRef: &stsv1alpha1.ConfigMapKeySelector{Name: "review-ca"}}},
	}}
	refs := ReferencesOf(sts, nil, []*stsv1alpha1.TrustedIssuer{ti})
	if !slices.Contains(refs.ConfigMaps, "review-ca") {
		t.Errorf("references %+v lack the webhook's caBundle ConfigMap", refs)
	}
}
