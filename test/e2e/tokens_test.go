//go:build e2e

package e2e

import (
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	stsclient "github.com/trustbroker/trustbroker/internal/client"
	"github.com/trustbroker/trustbroker/internal/testtools"
)

// endpoint is the STS endpoint of a pod, on the pod network.
func endpoint(p corev1.Pod) string { return "http://" + p.Status.PodIP + ":8080/sts" }

// readyz returns the status and body of a pod's /readyz.
func readyz(p corev1.Pod) (int, string) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + p.Status.PodIP + ":9090/readyz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b := make([]byte, 4096)
	n, _ := resp.Body.Read(b)
	return resp.StatusCode, string(b[:n])
}

// ask requests a token for alice (a sample user) and returns the HTTP
// status and the token, or the fault.
func ask(t *testing.T, hc *http.Client, url, appliesTo string) (int, string) {
	t.Helper()
	r := stsclient.Request{Endpoint: url, Username: "alice", Password: "alice-password", AppliesTo: appliesTo, Now: time.Now()}
	status, body, err := r.Do(hc)
	if err != nil {
		return 0, err.Error()
	}
	tok, err := stsclient.Token(body)
	if err != nil {
		return status, err.Error() + "\n" + string(body)
	}
	return status, tok
}

// mustToken asks for a token and fails unless one is issued.
func mustToken(t *testing.T, url, appliesTo string) string {
	t.Helper()
	status, tok := ask(t, http.DefaultClient, url, appliesTo)
	if status != http.StatusOK {
		t.Fatalf("token for %s from %s: %d\n%s", appliesTo, url, status, tok)
	}
	return tok
}

// signedBy says whether the token carries the certificate in its signature.
func signedBy(token string, certPEM []byte) bool {
	block, _ := pem.Decode(certPEM)
	return block != nil && strings.Contains(token, base64.StdEncoding.EncodeToString(block.Bytes))
}

// verify checks the token's signature with xmlsec1 and the signing
// certificate, and that xmlsec1 refuses it once altered.
func verify(t *testing.T, token string, certPEM []byte, saml1 bool) {
	t.Helper()
	xmlsec1 := testtools.Tool(t, "xmlsec1")
	dir := t.TempDir()
	cert := filepath.Join(dir, "sts.crt")
	if err := os.WriteFile(cert, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	idAttr := []string{"--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion"}
	if saml1 {
		idAttr = []string{"--id-attr:AssertionID", "urn:oasis:names:tc:SAML:1.0:assertion:Assertion"}
	}
	check := func(xml string) error {
		file := filepath.Join(dir, "token.xml")
		if err := os.WriteFile(file, []byte(xml), 0o600); err != nil {
			t.Fatal(err)
		}
		args := append(append([]string{"--verify", "--pubkey-cert-pem", cert}, idAttr...), file)
		out, err := exec.Command(xmlsec1, args...).CombinedOutput()
		if err != nil {
			return &xmlsecError{string(out)}
		}
		return nil
	}
	if err := check(token); err != nil {
		t.Fatalf("xmlsec1 does not verify the token: %v\n%s", err, token)
	}
	forged := strings.Replace(token, "alice@example.com", "mallory@example.com", 1)
	if forged == token {
		t.Fatalf("no e-mail address to alter in:\n%s", token)
	}
	if check(forged) == nil {
		t.Fatal("xmlsec1 verified an altered token")
	}
}

type xmlsecError struct{ out string }

func (e *xmlsecError) Error() string { return e.out }
