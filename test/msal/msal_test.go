// Package msal checks the AD FS-compatible endpoints with MSAL for Python's
// own code, as a federated user's sign-in runs it: its mex reader picks the
// usernamemixed endpoints from /adfs/services/trust/mex, its WS-Trust
// client sends the RST and reads the token from the RSTR, and the tokens
// are verified with xmlsec1.
package msal

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trustbroker/trustbroker/internal/testfixture"
	"github.com/trustbroker/trustbroker/internal/testtools"
)

const (
	python    = "/usr/bin/python3"
	appliesTo = "https://localhost:9444/services/echo"
	saml20    = "urn:oasis:names:tc:SAML:2.0:assertion"
)

// result is what testdata/wstrust.py prints.
type result struct {
	Picked    *msalEndpoint           `json:"picked"`
	Endpoints []msalEndpoint          `json:"endpoints"`
	Tokens    map[string]msalResponse `json:"tokens"`
}

type msalEndpoint struct {
	Address string `json:"address"`
	Action  string `json:"action"`
}

type msalResponse struct {
	Type  string `json:"type"`
	Token string `json:"token"`
	Error string `json:"error"`
}

// TestMSALThroughMex: MSAL reads the AD FS mex without failing, prefers
// WS-Trust 1.3, sees the 2005 endpoint too, and gets a verifiable token
// from both.
func TestMSALThroughMex(t *testing.T) {
	sts, base, ca := start(t)
	got := runMSAL(t, ca, "alice", "alice-password", "mex", base+"/adfs/services/trust/mex")
	want13 := msalEndpoint{base + "/adfs/services/trust/13/usernamemixed", "http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Issue"}
	want2005 := msalEndpoint{base + "/adfs/services/trust/2005/usernamemixed", "http://schemas.xmlsoap.org/ws/2005/02/trust/RST/Issue"}
	if got.Picked == nil || *got.Picked != want13 {
		t.Errorf("MSAL picked %+v, want %+v", got.Picked, want13)
	}
	if len(got.Endpoints) != 2 || got.Endpoints[0] != want13 || got.Endpoints[1] != want2005 {
		t.Errorf("MSAL's mex reader sees %+v, want the 1.3 and 2005 usernamemixed endpoints", got.Endpoints)
	}
	for _, ep := range []msalEndpoint{want13, want2005} {
		checkToken(t, sts, ep.Address, got.Tokens[ep.Address])
	}
}

// TestMSALWithKnownEndpoint: MSAL given the endpoint (no mex; the action
// comes from the path) gets a token from both versions, and a wrong
// password is refused with AD FS's fault, which MSAL reports.
func TestMSALWithKnownEndpoint(t *testing.T) {
	sts, base, ca := start(t)
	for _, version := range []string{"13", "2005"} {
		t.Run(version, func(t *testing.T) {
			url := base + "/adfs/services/trust/" + version + "/usernamemixed"
			checkToken(t, sts, url, runMSAL(t, ca, "alice", "alice-password", "endpoint", url).Tokens[url])

			refused := runMSAL(t, ca, "alice", "wrong-password", "endpoint", url).Tokens[url]
			if refused.Token != "" || !strings.Contains(refused.Error, "FailedAuthentication") {
				t.Errorf("a wrong password: MSAL got %+v, want an error naming FailedAuthentication", refused)
			}
		})
	}
}

// start serves the standalone samples over TLS (MSAL takes only https
// endpoints from the mex).
func start(t *testing.T) (*testfixture.STS, string, string) {
	t.Helper()
	if out, err := exec.Command(python, "-c", "import msal.mex, msal.wstrust_request").CombinedOutput(); err != nil {
		testtools.Missing(t, "python3-msal is not installed for "+python+" (apt-get install python3-msal, or `make test-deps` as root): "+strings.TrimSpace(string(out)))
	}
	sts := testfixture.StartSTS(t, nil)
	base, ca := sts.ServeTLS(t)
	return sts, base, ca
}

// checkToken checks that MSAL read a SAML 2.0 token from url's answer, and
// that the token's signature verifies against the signing certificate.
func checkToken(t *testing.T, sts *testfixture.STS, url string, got msalResponse) {
	t.Helper()
	if got.Error != "" || got.Type != saml20 || got.Token == "" {
		t.Fatalf("%s: MSAL got %+v, want a %s token", url, got, saml20)
	}
	if err := testtools.XMLSec1Verify(t, sts.CertFile, []byte(got.Token), "ID "+saml20+":Assertion"); err != nil {
		t.Fatalf("%s: the token MSAL read does not verify: %v\n%s", url, err, got.Token)
	}
	if !strings.Contains(got.Token, `nameid-format:emailAddress">alice@example.com</saml2:NameID>`) {
		t.Errorf("%s: the token does not name alice:\n%s", url, got.Token)
	}
}

// runMSAL runs testdata/wstrust.py for the echo service and decodes what
// it prints.
func runMSAL(t *testing.T, ca, username, password, mode, url string) result {
	t.Helper()
	return runMSALFor(t, ca, username, password, appliesTo, mode, url)
}

// runMSALFor runs testdata/wstrust.py for appliesTo.
func runMSALFor(t *testing.T, ca, username, password, appliesTo, mode, url string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, filepath.Join("testdata", "wstrust.py"), ca, username, password, appliesTo, mode, url)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("MSAL failed: %v\n%s%s", err, stderr.String(), stdout.String())
	}
	var r result
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("MSAL's script printed no JSON: %v\n%s\n%s", err, stdout.String(), stderr.String())
	}
	return r
}
