package zeep

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/devkeys"
	"github.com/trustbroker/trustbroker/internal/saml"
	"github.com/trustbroker/trustbroker/internal/testtools"
)

// TestZeepSignedRequestAndResponse: zeep signs its request with an X.509
// certificate the STS has registered, and, as zeep's BinarySignature does,
// accepts the answer only if it is signed too. Zeep checks the response
// with the certificate it signed with, so here the STS signs with the same
// key pair.
func TestZeepSignedRequestAndResponse(t *testing.T) {
	requireZeep(t)
	testtools.Tool(t, "xmlsec1")
	if out, err := exec.Command(python, "-c", "import xmlsec").CombinedOutput(); err != nil {
		testtools.Missing(t, "python3-xmlsec is not installed (run `make test-deps` as root): "+strings.TrimSpace(string(out)))
	}
	sts := startSTS(t)
	pair, err := devkeys.NewRSA("zeep-client", time.Now(), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyFile, certFile := filepath.Join(dir, "key.pem"), filepath.Join(dir, "cert.pem")
	if err := os.WriteFile(keyFile, pair.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pair.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	manifest, err := os.ReadFile(filepath.Join(sts.Dir, "sts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	patched := strings.Replace(string(manifest), "    allowedRoles: [admin]\n",
		"    x509:\n      enabled: true\n      clientCertificates:\n        pem: |\n          "+
			strings.ReplaceAll(strings.TrimSpace(string(pair.CertPEM)), "\n", "\n          ")+"\n", 1)
	patched = strings.Replace(patched, "  replayDetection:\n", "  responseSecurity:\n    signResponse: true\n  replayDetection:\n", 1)
	sts.WriteManifest(t, "sts.yaml", patched)
	sts.WriteManifest(t, "signing.key.yaml", string(pair.SecretYAML("dev-sts-signing")))
	if err := sts.Source.Load(); err != nil {
		t.Fatal(err)
	}

	got := runZeep(t, sts.URL, call{port: "Trust13Soap12", trust: "13", keyFile: keyFile, certFile: certFile, appliesTo: "urn:example:portal"})
	if got.Fault != nil {
		t.Fatalf("the STS answered with a fault: %+v", *got.Fault)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromString(got.Assertion); err != nil {
		t.Fatal(err)
	}
	a, err := saml.Parse(doc.Root())
	if err != nil {
		t.Fatal(err)
	}
	// The certificate has no UPN or e-mail: the default identity names the
	// caller by its subject DN.
	if want := pair.Cert.Subject.String(); a.Subject.NameID != want || saml.AuthnKindOf(a.Authn.Method) != saml.AuthnX509 {
		t.Errorf("subject %q, authentication %q; want %s by X.509", a.Subject.NameID, a.Authn.Method, want)
	}
}
