package source

import (
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"

	"github.com/trustbroker/trustbroker/internal/testtools"
)

// rpManifest is a relying party of the sample STS created at created.
func rpManifest(name, created, endpoint string) string {
	return `apiVersion: sts.trustbroker.io/v1alpha1
kind: RelyingParty
metadata: {name: ` + name + `, creationTimestamp: "` + created + `"}
spec:
  stsRef: {name: dev-sts}
  endpoint: ` + endpoint + `
`
}

// tiManifest is a trusted issuer of the sample STS created at created,
// trusting the PEM certificates given.
func tiManifest(name, created, issuer, pemText string) string {
	return `apiVersion: sts.trustbroker.io/v1alpha1
kind: TrustedIssuer
metadata: {name: ` + name + `, creationTimestamp: "` + created + `"}
spec:
  stsRef: {name: dev-sts}
  issuer: ` + issuer + `
  allowedUsages: [OnBehalfOf]
  certificates:
    pem: |
      ` + strings.ReplaceAll(strings.TrimSpace(pemText), "\n", "\n      ") + `
`
}

func certPEM(t *testing.T, name, kind string) string {
	t.Helper()
	k := testtools.CachedKeyPair(t, name, kind, name, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: k.Cert.Raw}))
}

// TestDuplicatesLeftOut: of two relying parties with one endpoint, and of
// two trusted issuers with one issuer name, the snapshot holds only the
// older, even when its name sorts second; the loser is logged as a
// conflict. Before, the alphabetically first relying party and whichever
// trusted issuer came first were used.
func TestDuplicatesLeftOut(t *testing.T) {
	dir := standaloneFolder(t)
	const older, newer = "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"
	writeFile(t, dir, "dup.yaml", rpManifest("b-older", older, "urn:example:dup")+"---\n"+rpManifest("a-newer", newer, "urn:example:dup")+"---\n"+
		tiManifest("y-newer", newer, "https://idp.example/", certPEM(t, "y-newer", "rsa2048"))+"---\n"+
		tiManifest("z-older", older, "https://idp.example/", certPEM(t, "z-older", "rsa2048")))
	s := newSource(t, dir)
	var logs strings.Builder
	s.Log = funcr.New(func(prefix, args string) { logs.WriteString(args + "\n") }, funcr.Options{})
	if err := s.Load(); err != nil {
		t.Fatal(err)
	}
	snap := s.Holder.Load()
	if rp, ok := snap.RelyingPartyFor("urn:example:dup"); !ok || rp.Name != "b-older" {
		t.Errorf("urn:example:dup is served by %v, want b-older", rp)
	}
	for _, rp := range snap.RelyingParties {
		if rp.Name == "a-newer" {
			t.Error("the losing relying party is in the snapshot")
		}
	}
	if ti, ok := snap.TrustedIssuerFor("https://idp.example/"); !ok || ti.Name != "z-older" {
		t.Errorf("https://idp.example/ is trusted through %v, want z-older", ti)
	}
	if len(snap.TrustedIssuers) != 1 {
		t.Errorf("%d trusted issuers in the snapshot, want the winner only", len(snap.TrustedIssuers))
	}
	for _, want := range []string{
		`"object"="default/a-newer"`, "RelyingParty b-older already claims endpoint urn:example:dup (match Exact) and takes precedence",
		`"object"="default/y-newer"`, "TrustedIssuer z-older already claims issuer https://idp.example/ and takes precedence",
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log does not contain %q:\n%s", want, logs.String())
		}
	}
}

// TestWeakIssuerCertificateLeftOut: a trusted issuer's RSA certificate
// under 2048 bits is left out of the snapshot with a log line naming it;
// an issuer with nothing else is not served at all.
func TestWeakIssuerCertificateLeftOut(t *testing.T) {
	dir := standaloneFolder(t)
	const created = "2026-01-01T00:00:00Z"
	weak := certPEM(t, "weak-idp", "rsa1024")
	writeFile(t, dir, "tis.yaml", tiManifest("rollover", created, "https://rollover.example/", weak+certPEM(t, "strong-idp", "rsa2048"))+"---\n"+
		tiManifest("weak-only", created, "https://weak.example/", weak))
	s := newSource(t, dir)
	var logs strings.Builder
	s.Log = funcr.New(func(prefix, args string) { logs.WriteString(args + "\n") }, funcr.Options{})
	if err := s.Load(); err != nil {
		t.Fatal(err)
	}
	snap := s.Holder.Load()
	ti, ok := snap.TrustedIssuerFor("https://rollover.example/")
	if !ok || len(ti.Certificates) != 1 || ti.Certificates[0].Subject.CommonName != "strong-idp" {
		t.Errorf("rollover issuer: %v, want only its 2048-bit certificate", ti)
	}
	if ti, ok := snap.TrustedIssuerFor("https://weak.example/"); ok {
		t.Errorf("an issuer with only a 1024-bit certificate is trusted: %v", ti.Certificates)
	}
	for _, want := range []string{"certificate left out", `certificate 1 of 2 (subject \"CN=weak-idp\"`, "has a 1024-bit RSA key"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log does not contain %q:\n%s", want, logs.String())
		}
	}
}
