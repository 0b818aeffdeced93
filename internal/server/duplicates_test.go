package server_test

import (
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/trustbroker/trustbroker/internal/client"
	"github.com/trustbroker/trustbroker/internal/saml"
	"github.com/trustbroker/trustbroker/internal/testfixture"
	"github.com/trustbroker/trustbroker/internal/testtools"
)

// TestDuplicateRelyingPartiesServeTheOlder: two relying parties claim one
// endpoint; the older, whose name sorts second, is the one whose token
// the STS issues (its audience), as the operator's status says. Before,
// the one first by name was used.
func TestDuplicateRelyingPartiesServeTheOlder(t *testing.T) {
	rp := func(name, created, audience string) string {
		return fmt.Sprintf(`apiVersion: sts.trustbroker.io/v1alpha1
kind: RelyingParty
metadata: {name: %s, creationTimestamp: "%s"}
spec:
  stsRef: {name: dev-sts}
  endpoint: urn:example:claimed-twice
  audiences: [%s]
`, name, created, audience)
	}
	sts := testfixture.StartSTS(t, map[string]string{
		"claimed.yaml": rp("a-newer", "2026-02-01T00:00:00Z", "urn:audience:newer") + "---\n" + rp("b-older", "2026-01-01T00:00:00Z", "urn:audience:older"),
	})
	token := issue(t, sts, client.Request{Username: "alice", Password: "alice-password", AppliesTo: "urn:example:claimed-twice"})
	a, err := saml.Parse(parse(t, []byte(token)).Root())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.Audiences, []string{"urn:audience:older"}) {
		t.Errorf("audiences %v: the token is shaped by the wrong relying party, want b-older's", a.Audiences)
	}
	if logs := sts.Logs.String(); !strings.Contains(logs, "RelyingParty b-older already claims endpoint urn:example:claimed-twice") {
		t.Errorf("the conflict is not logged:\n%s", logs)
	}
}

// signingPartner is a partner issuer whose key the test holds, of any
// size: tokens are signed with goxmldsig directly, since this project's
// own signer refuses keys under 2048 bits.
type signingPartner struct {
	issuer string
	key    *rsa.PrivateKey
	cert   *x509.Certificate
}

func newSigningPartner(t *testing.T, name, kind, issuer string) *signingPartner {
	t.Helper()
	k := testtools.CachedKeyPair(t, "duplicates-"+name, kind, name, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	return &signingPartner{issuer: issuer, key: k.Key.(*rsa.PrivateKey), cert: k.Cert}
}

func (p *signingPartner) pem() string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.cert.Raw}))
}

// assertion is a SAML 2.0 assertion for carol, signed with the partner's key.
func (p *signingPartner) assertion(t *testing.T) string {
	t.Helper()
	now := time.Now()
	el, err := saml.Build(saml.SAML20, &saml.Assertion{
		ID: saml.NewID(), IssueInstant: now, Issuer: p.issuer,
		Subject:   saml.Subject{NameID: "carol@partner.example", Format: saml.NameIDEmail},
		NotBefore: now.Add(-time.Minute), NotOnOrAfter: now.Add(time.Hour),
		Authn: &saml.AuthnStatement{Instant: now.Add(-time.Minute), Method: saml.AuthnMethodURI(saml.SAML20, saml.AuthnPassword)},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := dsig.NewDefaultSigningContext(dsig.TLSCertKeyStore(tls.Certificate{Certificate: [][]byte{p.cert.Raw}, PrivateKey: p.key}))
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	if err := ctx.SetSignatureMethod(dsig.RSASHA256SignatureMethod); err != nil {
		t.Fatal(err)
	}
	ctx.IdAttribute = "ID"
	signed, err := ctx.SignEnveloped(el)
	if err != nil {
		t.Fatal(err)
	}
	// The schema puts the Signature right after the Issuer; the enveloped
	// transform leaves the digest as it is wherever it sits.
	for i, tok := range signed.Child {
		if sig, ok := tok.(*etree.Element); ok && sig.Tag == "Signature" {
			signed.RemoveChildAt(i)
			signed.InsertChildAt(signed.SelectElement("Issuer").Index()+1, sig)
			break
		}
	}
	doc := etree.NewDocument()
	doc.SetRoot(signed)
	out, err := doc.WriteToString()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// withoutBlock removes the spec block of a manifest that starts with
// start, if there is one: its first line and the deeper indented lines
// after it.
func withoutBlock(manifest, start string) string {
	i := strings.Index(manifest, start)
	if i < 0 {
		return manifest
	}
	lines := strings.SplitAfter(manifest[i:], "\n")
	n := len(lines[0])
	for _, l := range lines[1:] {
		if !strings.HasPrefix(l, "    ") {
			break
		}
		n += len(l)
	}
	return manifest[:i] + manifest[i+n:]
}

// trustedIssuer is a TrustedIssuer manifest for OnBehalfOf.
func trustedIssuer(name, created, issuer, pemText string) string {
	return fmt.Sprintf(`apiVersion: sts.trustbroker.io/v1alpha1
kind: TrustedIssuer
metadata: {name: %s, creationTimestamp: "%s"}
spec:
  stsRef: {name: dev-sts}
  issuer: %s
  allowedUsages: [OnBehalfOf]
  certificates:
    pem: |
      %s
`, name, created, issuer, strings.ReplaceAll(strings.TrimSpace(pemText), "\n", "\n      "))
}

// TestPartnerTokensAndIssuerConflicts: tokens presented OnBehalfOf by
// alice, an allowed requestor. A partner signing with a 1024-bit RSA key is
// not trusted, though its certificate is configured (the certificate is
// left out when the policy loads, with a log line); before, its tokens were
// translated. Of two trusted issuers claiming one issuer name, only the
// older one's certificate verifies that issuer's tokens; before, whichever
// came first did. A 2048-bit partner's token is translated, so the
// refusals are about the keys and the conflict, not the setup.
func TestPartnerTokensAndIssuerConflicts(t *testing.T) {
	strong := newSigningPartner(t, "strong", "rsa2048", "https://strong.partner.example/")
	weak := newSigningPartner(t, "weak", "rsa1024", "https://weak.partner.example/")
	older := newSigningPartner(t, "older", "rsa2048", "https://shared.partner.example/")
	newer := newSigningPartner(t, "newer", "rsa2048", "https://shared.partner.example/")

	m := stsManifest(t, "  saml:\n", `  onBehalfOf:
    allowedTokenTypes: [SAML20]
    allowedRequestors: {users: [alice]}
  saml:
`)
	m["sts.yaml"] = withoutBlock(m["sts.yaml"], "  onBehalfOf:\n    allowedTokenTypes: [UsernameToken")
	const t0, t1 = "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"
	m["partners.yaml"] = strings.Join([]string{
		trustedIssuer("strong", t0, strong.issuer, strong.pem()),
		trustedIssuer("weak", t0, weak.issuer, weak.pem()),
		// The newer claimant sorts first by name and comes first in the file.
		trustedIssuer("a-newer", t1, newer.issuer, newer.pem()),
		trustedIssuer("b-older", t0, older.issuer, older.pem()),
		`apiVersion: sts.trustbroker.io/v1alpha1
kind: RelyingParty
metadata: {name: translated-for}
spec:
  stsRef: {name: dev-sts}
  endpoint: urn:example:translated-for
`,
	}, "---\n")
	sts := testfixture.StartSTS(t, m)

	onBehalfOf := func(p *signingPartner) (int, []byte) {
		r := client.Request{Endpoint: sts.URL, Now: time.Now(), Username: "alice", Password: "alice-password",
			AppliesTo: "urn:example:translated-for", OnBehalfOf: p.assertion(t)}
		status, body, err := r.Do(http.DefaultClient)
		if err != nil {
			t.Fatal(err)
		}
		return status, body
	}
	for _, p := range []*signingPartner{strong, older} {
		status, body := onBehalfOf(p)
		if status != http.StatusOK {
			t.Fatalf("%s: status %d\n%s", p.cert.Subject.CommonName, status, body)
		}
		token, err := client.Token(body)
		if err != nil {
			t.Fatal(err)
		}
		if a := parseToken(t, token); a.Subject.NameID != "carol@partner.example" {
			t.Errorf("%s: subject %q, want carol's", p.cert.Subject.CommonName, a.Subject.NameID)
		}
	}

	status, body := onBehalfOf(weak)
	expectFault(t, status, body, "1.2", nsTrust13, "FailedAuthentication", "issuer this STS does not trust")
	logs := sts.Logs.String()
	for _, want := range []string{"certificate left out", `(subject \"CN=weak\"`, "has a 1024-bit RSA key"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log does not contain %q:\n%s", want, logs)
		}
	}

	status, body = onBehalfOf(newer)
	expectFault(t, status, body, "1.2", nsSecExt, "InvalidSecurityToken", "signature that is not valid")
	if !strings.Contains(logs, "TrustedIssuer b-older already claims issuer https://shared.partner.example/") {
		t.Errorf("the issuer conflict is not logged:\n%s", logs)
	}
}
