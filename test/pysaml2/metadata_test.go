// Package pysaml2 checks the federation metadata with a real metadata
// consumer: pysaml2's loader fetches it from its URL, verifies its
// signature with the token-signing certificate, and finds the STS's role,
// its sign-in endpoint, NameID formats and signing certificate.
package pysaml2

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trustbroker/trustbroker/internal/devkeys"
	"github.com/trustbroker/trustbroker/internal/testfixture"
	"github.com/trustbroker/trustbroker/internal/testtools"
)

const python = "/usr/bin/python3"

// consumed is what testdata/consume.py prints.
type consumed struct {
	EntityID      string     `json:"entityID"`
	Roles         []string   `json:"roles"`
	SSO           []endpoint `json:"sso"`
	NameIDFormats []string   `json:"nameIDFormats"`
	SigningCerts  []string   `json:"signingCerts"`
	Error         string     `json:"error"`
}

type endpoint struct {
	Binding  string `json:"binding"`
	Location string `json:"location"`
}

func TestPysaml2ReadsFederationMetadata(t *testing.T) {
	if out, err := exec.Command(python, "-c", "import saml2.mdstore").CombinedOutput(); err != nil {
		testtools.Missing(t, "python3-pysaml2 is not installed for "+python+" (apt-get install python3-pysaml2, or `make test-deps` as root): "+strings.TrimSpace(string(out)))
	}
	testtools.Tool(t, "xmlsec1")
	sts := testfixture.StartSTS(t, nil)
	url := strings.TrimSuffix(sts.URL, "/sts") + "/FederationMetadata/2007-06/FederationMetadata.xml"

	got := consume(t, url, sts.CertFile)
	if got.Error != "" {
		t.Fatalf("pysaml2 refused the metadata: %s", got.Error)
	}
	if got.EntityID != "http://127.0.0.1:8080/trust" {
		t.Errorf("entityID %q, want the STS's issuer", got.EntityID)
	}
	if !slices.Equal(got.Roles, []string{"fed:SecurityTokenServiceType"}) {
		t.Errorf("role descriptors %v, want one fed:SecurityTokenServiceType", got.Roles)
	}
	if want := (endpoint{"http://schemas.xmlsoap.org/ws/2003/07/secext", "http://127.0.0.1:8080/adfs/ls/"}); !slices.Equal(got.SSO, []endpoint{want}) {
		t.Errorf("SingleSignOnService %v, want %v", got.SSO, want)
	}
	if !slices.Contains(got.NameIDFormats, "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress") {
		t.Errorf("NameID formats %v lack the echo service's", got.NameIDFormats)
	}
	if want := base64.StdEncoding.EncodeToString(sts.Signing.Cert.Raw); !slices.Equal(got.SigningCerts, []string{want}) {
		t.Errorf("%d signing certificates, want the token-signing certificate", len(got.SigningCerts))
	}

	// Another key's certificate: pysaml2 must refuse the metadata.
	other, err := devkeys.NewRSA("someone-else", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	otherFile := filepath.Join(t.TempDir(), "other.crt")
	if err := os.WriteFile(otherFile, other.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := consume(t, url, otherFile); !strings.Contains(got.Error, "SignatureError") {
		t.Errorf("checked against another certificate: pysaml2 said %q, want a SignatureError", got.Error)
	}
}

func consume(t *testing.T, url, certFile string) consumed {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, filepath.Join("testdata", "consume.py"), url, certFile)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("pysaml2 failed: %v\n%s%s", err, stderr.String(), stdout.String())
	}
	var c consumed
	if err := json.Unmarshal(stdout.Bytes(), &c); err != nil {
		t.Fatalf("the script printed no JSON: %v\n%s\n%s", err, stdout.String(), stderr.String())
	}
	return c
}
