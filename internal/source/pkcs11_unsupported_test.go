//go:build !pkcs11

package source

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trustbroker/trustbroker/internal/devkeys"
)

// TestPKCS11KeyInABuildWithoutIt: this build cannot sign through PKCS#11,
// and says so, naming the build that can: a first load fails, and a
// running STS keeps its last good key with a problem that says why.
func TestPKCS11KeyInABuildWithoutIt(t *testing.T) {
	dir := standaloneFolder(t)
	cert, err := devkeys.NewRSA("hsm signer", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	stsYAML, err := os.ReadFile(filepath.Join(dir, "sts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	withPKCS11 := strings.Replace(string(stsYAML), "  signing:\n    secretRef:\n      name: dev-sts-signing\n",
		"  signing:\n    pkcs11:\n      module: /usr/lib/softhsm/libsofthsm2.so\n      tokenLabel: sts-token\n      keyLabel: sts-signing\n      pinSecretRef: {name: hsm-pin}\n    certificate:\n      pem: |\n"+indent(string(cert.CertPEM), "        ")+"\n", 1)
	if withPKCS11 == string(stsYAML) {
		t.Fatal("the sample's signing section was not found")
	}
	pin := "apiVersion: v1\nkind: Secret\nmetadata: {name: hsm-pin}\nstringData: {pin: \"1234\"}\n"
	const want = "this build of the STS has no PKCS#11 support: run the trustbroker-pkcs11 image"

	s := newSource(t, dir)
	if err := s.Load(); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "sts.yaml", withPKCS11)
	writeFile(t, dir, "pin.yaml", pin)
	_, problems := build(t, s, s.Holder.Load())
	if p, ok := problemFor(problems, "SecurityTokenService", "dev-sts"); !ok || !strings.Contains(p.Err.Error(), want) {
		t.Errorf("problems %v, want one saying %q", problems, want)
	}

	fresh := newSource(t, dir)
	if err := fresh.Load(); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("a first load: %v, want an error saying %q", err, want)
	}
}
