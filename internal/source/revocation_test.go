package source

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
	"github.com/trustbroker/trustbroker/internal/devkeys"
	"github.com/trustbroker/trustbroker/internal/policy"
)

// indent puts text under a YAML block scalar.
func indent(text, by string) string {
	return by + strings.ReplaceAll(strings.TrimSpace(text), "\n", "\n"+by)
}

// certSecretYAML is a Secret holding a certificate under ca.crt.
func certSecretYAML(name string, certPEM []byte) string {
	return "apiVersion: v1\nkind: Secret\nmetadata: {name: " + name + "}\nstringData:\n  ca.crt: |\n" + indent(string(certPEM), "    ") + "\n"
}

// build reads dir and builds a snapshot on top of prev.
func build(t *testing.T, s *FolderSource, prev *policy.Snapshot) (*policy.Snapshot, []Problem) {
	t.Helper()
	objs, err := s.Folder.Read(s.Dir)
	if err != nil {
		t.Fatal(err)
	}
	snap, problems, err := s.Builder.Build(objs, prev)
	if err != nil {
		t.Fatal(err)
	}
	return snap, problems
}

// problemFor returns the problem reported about kind/name, if any.
func problemFor(problems []Problem, kind, name string) (Problem, bool) {
	for _, p := range problems {
		if p.Kind == kind && p.Name == name {
			return p, true
		}
	}
	return Problem{}, false
}

// TestRevocationFailsClosed: deleting the Secret a trusted issuer, a relying
// party or the user store reads takes away what it granted at the next
// build, with a problem saying what to fix, while the rest is still served.
func TestRevocationFailsClosed(t *testing.T) {
	dir := standaloneFolder(t)
	partner, err := devkeys.NewRSA("idp.partner.example", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "partner.yaml", certSecretYAML("partner-cert", partner.CertPEM)+`---
apiVersion: sts.trustbroker.io/v1alpha1
kind: TrustedIssuer
metadata: {name: partner}
spec:
  stsRef: {name: dev-sts}
  issuer: https://idp.partner.example/trust
  allowedUsages: [OnBehalfOf]
  certificates: {secretRef: {name: partner-cert}}
`)
	writeFile(t, dir, "app.yaml", certSecretYAML("app-cert", partner.CertPEM)+`---
apiVersion: sts.trustbroker.io/v1alpha1
kind: RelyingParty
metadata: {name: app}
spec:
  stsRef: {name: dev-sts}
  endpoint: urn:example:app
  encryption: {enabled: true, certificate: {secretRef: {name: app-cert}}}
`)
	s := newSource(t, dir)
	first, problems := build(t, s, nil)
	if len(problems) != 0 {
		t.Fatalf("problems with the intact folder: %v", problems)
	}
	if _, ok := first.TrustedIssuerFor("https://idp.partner.example/trust"); !ok {
		t.Fatal("the partner is not trusted to begin with")
	}
	if _, ok := first.RelyingPartyFor("urn:example:app"); !ok {
		t.Fatal("the app is not served to begin with")
	}

	cases := []struct {
		name, file, kind, object, inErr, inMsg string
		revoked                                func(*policy.Snapshot) bool
	}{
		{"trusted issuer certificate", "partner.yaml", "TrustedIssuer", "partner", "Secret default/partner-cert not found", "its tokens are refused",
			func(s *policy.Snapshot) bool {
				_, ok := s.TrustedIssuerFor("https://idp.partner.example/trust")
				return !ok
			}},
		{"relying party certificate", "app.yaml", "RelyingParty", "app", "spec.encryption.certificate: Secret default/app-cert not found", "not served",
			func(s *policy.Snapshot) bool { _, ok := s.RelyingPartyFor("urn:example:app"); return !ok }},
		{"users", "users.yaml", "SecurityTokenService", "dev-sts", "Secret default/dev-users not found", "no user can sign in",
			func(s *policy.Snapshot) bool {
				_, err := s.Users.Authenticate(context.Background(), "alice", "alice-password")
				return errors.Is(err, policy.ErrBadCredentials)
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			saved, err := os.ReadFile(filepath.Join(dir, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { writeFile(t, dir, tc.file, string(saved)) })
			// Only the Secret goes: the object that names it stays.
			kept := string(saved)
			if tc.file != "users.yaml" {
				kept = kept[strings.Index(kept, "\n---\n")+5:]
			} else {
				kept = ""
			}
			writeFile(t, dir, tc.file, kept)

			snap, problems := build(t, s, first)
			if !tc.revoked(snap) {
				t.Fatal("still granted after its Secret was deleted")
			}
			p, ok := problemFor(problems, tc.kind, tc.object)
			if !ok || !strings.Contains(p.Err.Error(), tc.inErr) || !strings.Contains(p.Msg, tc.inMsg) {
				t.Errorf("problem %+v, want one about %s %s naming %q and saying %q", p, tc.kind, tc.object, tc.inErr, tc.inMsg)
			}
			if _, ok := snap.RelyingPartyFor("https://localhost:9444/services/echo"); !ok {
				t.Error("the echo service is no longer served")
			}
			if !snap.STS.Signing.Chain[0].Equal(first.STS.Signing.Chain[0]) {
				t.Error("the signing key changed")
			}
		})
	}
}

// TestUnreadableTrustSourcesTrustNoOne: an X.509 CA Secret or Kerberos
// keytab that cannot be read switches its part off rather than keeping the
// whole policy as it was.
func TestUnreadableTrustSourcesTrustNoOne(t *testing.T) {
	dir := standaloneFolder(t)
	ca, err := devkeys.NewRSA("clients-ca", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "ca.yaml", certSecretYAML("clients-ca", ca.CertPEM))
	sts, _ := os.ReadFile(filepath.Join(dir, "sts.yaml"))
	withX509 := strings.Replace(string(sts), "    allowedRoles: [admin]\n",
		"    x509: {enabled: true, trustedCASecretRef: {name: clients-ca}}\n    allowedRoles: [admin]\n", 1)
	writeFile(t, dir, "sts.yaml", withX509)
	s := newSource(t, dir)
	first, _ := build(t, s, nil)
	if first.STS.X509.Roots == nil {
		t.Fatal("the client CA is not trusted to begin with")
	}
	if err := os.Remove(filepath.Join(dir, "ca.yaml")); err != nil {
		t.Fatal(err)
	}
	snap, problems := build(t, s, first)
	if !snap.STS.X509.Enabled || snap.STS.X509.Roots != nil {
		t.Errorf("X.509 = %+v, want it on with no CA trusted", snap.STS.X509)
	}
	if p, ok := problemFor(problems, "SecurityTokenService", "dev-sts"); !ok || !strings.Contains(p.Err.Error(), "x509.trustedCASecretRef") {
		t.Errorf("problem %+v, want the CA Secret named", p)
	}
	if _, ok := snap.RelyingPartyFor("https://localhost:9444/services/echo"); !ok {
		t.Error("the echo service is no longer served")
	}
}

// TestPreviousSigningCertificatesComeFromTheSpec: after a rotation no older
// key is accepted unless spec.signing.previousCertificates lists it; a
// fresh instance reading the same folder accepts exactly the same keys.
func TestPreviousSigningCertificatesComeFromTheSpec(t *testing.T) {
	dir := standaloneFolder(t)
	s := newSource(t, dir)
	if err := s.Load(); err != nil {
		t.Fatal(err)
	}
	old := s.Holder.Load().STS.Signing.Chain[0]
	rotated, err := devkeys.NewRSA("rotated", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "signing.key.yaml", string(rotated.SecretYAML("dev-sts-signing")))

	own := func(snap *policy.Snapshot) []*x509.Certificate { return snap.STS.Signing.OwnCertificates() }
	has := func(certs []*x509.Certificate, c *x509.Certificate) bool { return slices.ContainsFunc(certs, c.Equal) }
	check := func(what string, wantOld bool) {
		t.Helper()
		if err := s.Load(); err != nil {
			t.Fatal(err)
		}
		fresh := newSource(t, dir)
		if err := fresh.Load(); err != nil {
			t.Fatal(err)
		}
		for name, snap := range map[string]*policy.Snapshot{"running": s.Holder.Load(), "fresh": fresh.Holder.Load()} {
			certs := own(snap)
			if !certs[0].Equal(rotated.Cert) || has(certs, old) != wantOld || len(certs) != map[bool]int{false: 1, true: 2}[wantOld] {
				t.Errorf("%s, %s instance: own certificates %d, the old one among them %v; want %v", what, name, len(certs), has(certs, old), wantOld)
			}
		}
	}
	check("rotated, nothing listed", false)

	oldPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: old.Raw})
	sts, _ := os.ReadFile(filepath.Join(dir, "sts.yaml"))
	listed := strings.Replace(string(sts), "      name: dev-sts-signing\n",
		"      name: dev-sts-signing\n    previousCertificates:\n      secretRef: {name: previous-signing}\n", 1)
	writeFile(t, dir, "sts.yaml", listed)
	check("listed, Secret missing", false)

	writeFile(t, dir, "previous.yaml", certSecretYAML("previous-signing", oldPEM))
	check("listed", true)

	inline := strings.Replace(listed, "      secretRef: {name: previous-signing}\n", "      pem: |\n"+indent(string(oldPEM), "        ")+"\n", 1)
	writeFile(t, dir, "sts.yaml", inline)
	if err := os.Remove(filepath.Join(dir, "previous.yaml")); err != nil {
		t.Fatal(err)
	}
	check("listed inline", true)

	writeFile(t, dir, "sts.yaml", string(sts))
	check("unlisted again", false)
}

// TestReferencesNamePreviousCertificates: the pod watches, and its Role
// lets it read, the source of the previous signing certificates.
func TestReferencesNamePreviousCertificates(t *testing.T) {
	for _, tc := range []struct {
		src                stsv1alpha1.CertificateSource
		secrets, configMap []string
	}{
		{stsv1alpha1.CertificateSource{SecretRef: &stsv1alpha1.SecretKeySelector{Name: "old-signing"}}, []string{"old-signing", "signing"}, nil},
		{stsv1alpha1.CertificateSource{ConfigMapRef: &stsv1alpha1.ConfigMapKeySelector{Name: "old-signing"}}, []string{"signing"}, []string{"old-signing"}},
	} {
		sts := &stsv1alpha1.SecurityTokenService{Spec: stsv1alpha1.SecurityTokenServiceSpec{
			Signing: stsv1alpha1.SigningSpec{SecretRef: &stsv1alpha1.SecretKeySelector{Name: "signing"}, PreviousCertificates: &tc.src}}}
		refs := ReferencesOf(sts, nil, nil)
		if !slices.Equal(refs.Secrets, tc.secrets) || !slices.Equal(refs.ConfigMaps, tc.configMap) {
			t.Errorf("references %+v, want Secrets %v and ConfigMaps %v", refs, tc.secrets, tc.configMap)
		}
	}
}
