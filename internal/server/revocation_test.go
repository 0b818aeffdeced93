package server_test

import (
	"crypto/x509"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trustbroker/trustbroker/internal/client"
	"github.com/trustbroker/trustbroker/internal/devkeys"
	"github.com/trustbroker/trustbroker/internal/saml"
	"github.com/trustbroker/trustbroker/internal/testfixture"
	"github.com/trustbroker/trustbroker/internal/xmlsec"
)

// encryptedEndpoint is a relying party whose tokens are encrypted for a
// certificate read from a Secret.
const encryptedEndpoint = "urn:example:encrypted"

// revocationPEM indents PEM text under a YAML block scalar.
func revocationPEM(pemText []byte, indent string) string {
	return indent + strings.ReplaceAll(strings.TrimSpace(string(pemText)), "\n", "\n"+indent)
}

// revocationCertSecret is a Secret manifest holding a certificate under ca.crt.
func revocationCertSecret(name string, pemText []byte) string {
	return "apiVersion: v1\nkind: Secret\nmetadata: {name: " + name + "}\nstringData:\n  ca.crt: |\n" + revocationPEM(pemText, "    ") + "\n"
}

// revocationReload applies the folder's current manifests, as the watcher would.
func revocationReload(t *testing.T, sts *testfixture.STS) {
	t.Helper()
	if err := sts.Source.Load(); err != nil {
		t.Fatalf("the changed folder was not loaded: %v", err)
	}
}

// revocationRemove deletes a manifest, as `kubectl delete` of its object would.
func revocationRemove(t *testing.T, sts *testfixture.STS, name string) {
	t.Helper()
	if err := os.Remove(filepath.Join(sts.Dir, name)); err != nil {
		t.Fatal(err)
	}
}

// revocationSend sends r to the STS and returns the status and body.
func revocationSend(t *testing.T, sts *testfixture.STS, r client.Request) (int, []byte) {
	t.Helper()
	r.Endpoint, r.Now = sts.URL, time.Now()
	status, body, err := r.Do(http.DefaultClient)
	if err != nil {
		t.Fatal(err)
	}
	return status, body
}

// revocationVerifies reports whether a token's signature verifies with cert.
func revocationVerifies(t *testing.T, token string, cert *x509.Certificate) bool {
	t.Helper()
	_, err := xmlsec.VerifyAt(parse(t, []byte(token)).Root(), saml.SAML20.IDAttr(), []*x509.Certificate{cert}, xmlsec.AlgorithmPolicy{}, time.Now())
	return err == nil
}

// revocationStatus sends a Validate request and returns the status code
// and reason of the answer.
func revocationStatus(t *testing.T, sts *testfixture.STS, r client.Request) (string, string) {
	t.Helper()
	doc := parse(t, issueOK(t, sts, r))
	code, reason := doc.FindElement("//Status/Code"), doc.FindElement("//Status/Reason")
	if code == nil || reason == nil {
		t.Fatal("the Validate answer has no Status")
	}
	return code.Text(), reason.Text()
}

// TestRevocationFailsClosed: deleting a partner's certificate Secret or
// the users Secret takes effect at the next reload, while everyone else is
// still served; deleting the signing Secret does not stop issuance.
func TestRevocationFailsClosed(t *testing.T) {
	p := newPartner(t)
	rpCert, err := devkeys.NewRSA("encrypted.example", time.Now(), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	m := p.manifests(t, "[Validate]")
	// The partner's certificate comes from a Secret, as in a cluster.
	before := m["partner.yaml"]
	start := strings.Index(before, "  certificates:\n")
	end := strings.Index(before, "\n---\n")
	m["partner.yaml"] = before[:start] + "  certificates: {secretRef: {name: partner-cert}}" + before[end:]
	m["partner-cert.yaml"] = revocationCertSecret("partner-cert", p.pair.CertPEM)
	m["encrypted.yaml"] = `apiVersion: sts.trustbroker.io/v1alpha1
kind: RelyingParty
metadata: {name: encrypted}
spec:
  stsRef: {name: dev-sts}
  endpoint: ` + encryptedEndpoint + `
  encryption: {enabled: true, certificate: {secretRef: {name: encrypted-cert}}}
`
	m["encrypted-cert.yaml"] = revocationCertSecret("encrypted-cert", rpCert.CertPEM)
	sts := testfixture.StartSTS(t, m)

	alice := client.Request{Username: "alice", Password: "alice-password", AppliesTo: echoService}
	validate := alice
	validate.RequestType, validate.TokenType, validate.Target = "Validate", "status", p.assertion(t, saml.SAML20, nil)
	encrypted := alice
	encrypted.AppliesTo = encryptedEndpoint
	if code, reason := revocationStatus(t, sts, validate); code != nsTrust13+"/status/valid" {
		t.Fatalf("the partner's token: %s (%s), want valid", code, reason)
	}
	issue(t, sts, encrypted)

	t.Run("trusted issuer certificate deleted", func(t *testing.T) {
		revocationRemove(t, sts, "partner-cert.yaml")
		revocationReload(t, sts)
		if code, reason := revocationStatus(t, sts, validate); code != nsTrust13+"/status/invalid" || !strings.Contains(reason, "issuer this STS does not trust") {
			t.Errorf("the partner's token: %s (%s), want invalid, from an issuer not trusted", code, reason)
		}
		issue(t, sts, alice) // everyone else is still served
	})

	t.Run("relying party certificate deleted", func(t *testing.T) {
		revocationRemove(t, sts, "encrypted-cert.yaml")
		revocationReload(t, sts)
		status, body := revocationSend(t, sts, encrypted)
		expectFault(t, status, body, "1.2", nsTrust13, "InvalidRequest", "No relying party is registered")
		issue(t, sts, alice)
	})

	t.Run("signing key deleted", func(t *testing.T) {
		revocationRemove(t, sts, "signing.key.yaml")
		revocationReload(t, sts)
		if token := issue(t, sts, alice); !revocationVerifies(t, token, sts.Signing.Cert) {
			t.Error("the token is not signed with the last good signing key")
		}
		if !strings.Contains(sts.Logs.String(), "the last good signing key stays in use") {
			t.Error("the log does not say that the last good signing key is used")
		}
	})

	t.Run("users deleted", func(t *testing.T) {
		revocationRemove(t, sts, "users.yaml")
		revocationReload(t, sts)
		status, body := revocationSend(t, sts, alice)
		expectFault(t, status, body, "1.2", nsSecExt, "FailedAuthentication", "could not be verified")
		dave := client.Request{Username: "dave", Password: "dave-password", Digest: true, AppliesTo: echoService}
		status, body = revocationSend(t, sts, dave)
		expectFault(t, status, body, "1.2", nsSecExt, "FailedAuthentication", "could not be verified")
		logs := sts.Logs.String()
		for _, want := range []string{"no user can sign in", "Secret default/dev-users not found"} {
			if !strings.Contains(logs, want) {
				t.Errorf("the log does not say %q", want)
			}
		}
	})
}

// revocationManifests reads a manifests folder as file name → content.
func revocationManifests(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") || !strings.HasSuffix(e.Name(), ".yaml") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = string(data)
	}
	return out
}

// TestPreviousSigningKeys: once the signing key is rotated, a token signed
// with the old key is refused by Validate, Renew and OnBehalfOf unless
// spec.signing.previousCertificates lists the old certificate; an instance
// started afresh from the same manifests decides the same way.
func TestPreviousSigningKeys(t *testing.T) {
	// Translation on, alice allowed to translate.
	m := newPartner(t).manifests(t, "[OnBehalfOf]")
	sts := testfixture.StartSTS(t, m)
	alice := client.Request{Username: "alice", Password: "alice-password", AppliesTo: echoService}
	token := issue(t, sts, alice) // signed with the key about to be rotated out
	oldCert := sts.Signing.CertPEM

	rotated, err := devkeys.NewRSA("rotated-sts", time.Now(), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	sts.WriteManifest(t, "signing.key.yaml", string(rotated.SecretYAML("dev-sts-signing")))
	revocationReload(t, sts)

	// accepted says, for each use, whether an instance accepts the old token.
	accepted := func(inst *testfixture.STS) map[string]bool {
		t.Helper()
		out := map[string]bool{}
		v := alice
		v.RequestType, v.Target, v.TokenType = "Validate", token, "status"
		code, _ := revocationStatus(t, inst, v)
		out["Validate"] = code == nsTrust13+"/status/valid"

		r := alice
		r.RequestType, r.Target = "Renew", token
		status, body := revocationSend(t, inst, r)
		if out["Renew"] = status == http.StatusOK; out["Renew"] {
			renewed, err := client.Token(body)
			if err != nil {
				t.Fatal(err)
			}
			if !revocationVerifies(t, renewed, rotated.Cert) {
				t.Error("the renewed token is not signed with the current key")
			}
		}

		o := alice
		o.OnBehalfOf = token
		status, _ = revocationSend(t, inst, o)
		out["OnBehalfOf"] = status == http.StatusOK
		return out
	}
	expect := func(when string, want bool) {
		t.Helper()
		fresh := testfixture.StartSTS(t, revocationManifests(t, sts.Dir))
		for name, inst := range map[string]*testfixture.STS{"running": sts, "fresh": fresh} {
			for use, ok := range accepted(inst) {
				if ok != want {
					t.Errorf("%s, the %s instance: %s accepts the old token: %v, want %v", when, name, use, ok, want)
				}
			}
		}
	}
	expect("rotated, the old certificate not listed", false)

	stsYAML := m["sts.yaml"]
	listed := strings.Replace(stsYAML, "      name: dev-sts-signing\n",
		"      name: dev-sts-signing\n    previousCertificates:\n      pem: |\n"+revocationPEM(oldCert, "        ")+"\n", 1)
	if listed == stsYAML {
		t.Fatal("sts.yaml has no signing secretRef to add previousCertificates to")
	}
	sts.WriteManifest(t, "sts.yaml", listed)
	revocationReload(t, sts)
	expect("the old certificate listed", true)

	sts.WriteManifest(t, "sts.yaml", stsYAML)
	revocationReload(t, sts)
	expect("the old certificate no longer listed", false)
}
