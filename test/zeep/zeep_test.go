// Package zeep checks the STS with a real, independent WS-Trust client:
// python3-zeep builds itself from the STS's WSDL, asks for tokens over every
// port, and the tokens are verified with xmlsec1 against the signing
// certificate.
package zeep

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/testfixture"
	"github.com/trustbroker/trustbroker/internal/testtools"
)

const (
	python      = "/usr/bin/python3"
	echoService = "https://localhost:9444/services/echo"
	stsIssuer   = "http://127.0.0.1:8080/trust"

	nsSAML20 = "urn:oasis:names:tc:SAML:2.0:assertion"
	nsSecExt = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
)

// answer is what testdata/issue.py prints.
type answer struct {
	Assertion string `json:"assertion"`
	Fault     *struct {
		Code     string   `json:"code"`
		Subcodes []string `json:"subcodes"`
		Message  string   `json:"message"`
	} `json:"fault"`
}

// call is one run of the zeep client.
type call struct {
	port, trust        string
	username, password string
	digest             bool
	// keyFile and certFile sign the request; appliesTo defaults to echoService.
	keyFile, certFile, appliesTo string
}

func TestZeepGetsTokens(t *testing.T) {
	requireZeep(t)
	xmlsec1 := testtools.Tool(t, "xmlsec1")
	sts := startSTS(t)

	cases := []struct {
		name   string
		call   call
		nameID string
	}{
		{"SOAP 1.2, WS-Trust 1.3, PasswordText", call{port: "Trust13Soap12", trust: "13", username: "alice", password: "alice-password", digest: false}, "alice@example.com"},
		{"SOAP 1.1, WS-Trust 1.3, PasswordText", call{port: "Trust13Soap11", trust: "13", username: "alice", password: "alice-password", digest: false}, "alice@example.com"},
		{"SOAP 1.2, WS-Trust 2005, PasswordText", call{port: "TrustFeb2005Soap12", trust: "2005", username: "alice", password: "alice-password", digest: false}, "alice@example.com"},
		{"SOAP 1.1, WS-Trust 2005, PasswordText", call{port: "TrustFeb2005Soap11", trust: "2005", username: "alice", password: "alice-password", digest: false}, "alice@example.com"},
		{"SOAP 1.2, WS-Trust 1.3, PasswordDigest", call{port: "Trust13Soap12", trust: "13", username: "dave", password: "dave-password", digest: true}, "dave@example.com"},
		{"SOAP 1.1, WS-Trust 2005, PasswordDigest", call{port: "TrustFeb2005Soap11", trust: "2005", username: "dave", password: "dave-password", digest: true}, "dave@example.com"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := runZeep(t, sts.URL, tc.call)
			if got.Fault != nil {
				t.Fatalf("the STS answered with a fault: %+v", *got.Fault)
			}
			verifySignature(t, xmlsec1, sts.CertFile, got.Assertion)
			checkAssertion(t, got.Assertion, tc.nameID)
		})
	}
}

// TestZeepSeesFaults checks that a refused request reaches zeep as a Fault
// with the STS's code.
func TestZeepSeesFaults(t *testing.T) {
	requireZeep(t)
	sts := startSTS(t)

	cases := []struct {
		name string
		call call
		// code is zeep's Fault.code, subcodes its SOAP 1.2 subcodes.
		code     string
		subcodes []string
	}{
		{"SOAP 1.2 wrong password", call{port: "Trust13Soap12", trust: "13", username: "alice", password: "wrong-password", digest: false},
			"s:Sender", []string{"{" + nsSecExt + "}FailedAuthentication"}},
		{"SOAP 1.1 wrong password", call{port: "Trust13Soap11", trust: "13", username: "alice", password: "wrong-password", digest: false},
			"wsse:FailedAuthentication", nil},
		{"WS-Trust 2005 wrong digest", call{port: "TrustFeb2005Soap12", trust: "2005", username: "dave", password: "wrong-password", digest: true},
			"s:Sender", []string{"{" + nsSecExt + "}FailedAuthentication"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := runZeep(t, sts.URL, tc.call)
			if got.Fault == nil {
				t.Fatalf("a token was issued for a wrong password:\n%s", got.Assertion)
			}
			f := got.Fault
			if !sameQName(f.Code, tc.code) || strings.Join(f.Subcodes, " ") != strings.Join(tc.subcodes, " ") {
				t.Errorf("fault code %q, subcodes %v; want %q, %v", f.Code, f.Subcodes, tc.code, tc.subcodes)
			}
			if !strings.Contains(f.Message, "Access denied") {
				t.Errorf("fault message %q does not say access was denied", f.Message)
			}
		})
	}
}

// sameQName compares fault codes by local name: zeep hands over the text of
// the code, whose prefix is the STS's choice.
func sameQName(got, want string) bool {
	_, gotLocal, _ := strings.Cut(got, ":")
	_, wantLocal, _ := strings.Cut(want, ":")
	return gotLocal == wantLocal
}

// requireZeep skips the test when python3-zeep is missing, except in CI.
func requireZeep(t *testing.T) {
	t.Helper()
	if out, err := exec.Command(python, "-c", "import zeep").CombinedOutput(); err != nil {
		msg := "python3-zeep is not installed for " + python + " (apt-get install python3-zeep, or `make test-deps` as root): " + strings.TrimSpace(string(out))
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// startSTS serves the standalone samples with the endpoint set to where the
// test server listens, so that the WSDL sends zeep to it.
func startSTS(t *testing.T) *testfixture.STS {
	t.Helper()
	sts := testfixture.StartSTS(t, nil)
	manifest, err := os.ReadFile(filepath.Join(sts.Dir, "sts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	endpoint := regexp.MustCompile(`(?m)^(\s*endpoint:).*$`)
	if !endpoint.Match(manifest) {
		t.Fatal("the sample sts.yaml has no endpoint line")
	}
	sts.WriteManifest(t, "sts.yaml", endpoint.ReplaceAllString(string(manifest), "${1} "+sts.URL))
	if err := sts.Source.Load(); err != nil {
		t.Fatal(err)
	}
	if got := sts.Source.Holder.Load().STS.Endpoint; got != sts.URL {
		t.Fatalf("the STS endpoint is %q, want %q", got, sts.URL)
	}
	return sts
}

// runZeep runs testdata/issue.py and decodes what it prints.
func runZeep(t *testing.T, stsURL string, c call) answer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	appliesTo := c.appliesTo
	if appliesTo == "" {
		appliesTo = echoService
	}
	args := []string{filepath.Join("testdata", "issue.py"),
		"--wsdl", stsURL + "?wsdl", "--port", c.port, "--trust", c.trust, "--applies-to", appliesTo}
	if c.username != "" {
		args = append(args, "--username", c.username, "--password", c.password)
	}
	if c.digest {
		args = append(args, "--digest")
	}
	if c.keyFile != "" {
		args = append(args, "--key", c.keyFile, "--cert", c.certFile)
	}
	cmd := exec.CommandContext(ctx, python, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("zeep client failed: %v\n%s%s", err, stderr.String(), stdout.String())
	}
	var a answer
	if err := json.Unmarshal(stdout.Bytes(), &a); err != nil {
		t.Fatalf("zeep client printed no JSON: %v\n%s\n%s", err, stdout.String(), stderr.String())
	}
	if a.Fault == nil && a.Assertion == "" {
		t.Fatalf("zeep client printed neither token nor fault: %s", stdout.String())
	}
	return a
}

// verifySignature checks the assertion with xmlsec1 and the signing
// certificate, and checks that xmlsec1 refuses it once altered, so that a
// pass means the signature was really checked.
func verifySignature(t *testing.T, xmlsec1, certFile, assertion string) {
	t.Helper()
	if err := xmlsec1Verify(t, xmlsec1, certFile, assertion); err != nil {
		t.Fatalf("xmlsec1 does not verify the token zeep received: %v\n%s", err, assertion)
	}
	forged := strings.Replace(assertion, "@example.com<", "@example.org<", 1)
	if forged == assertion {
		t.Fatalf("no e-mail NameID to alter in:\n%s", assertion)
	}
	if err := xmlsec1Verify(t, xmlsec1, certFile, forged); err == nil {
		t.Fatal("xmlsec1 verified an altered token")
	}
}

func xmlsec1Verify(t *testing.T, xmlsec1, certFile, assertion string) error {
	t.Helper()
	file := filepath.Join(t.TempDir(), "assertion.xml")
	if err := os.WriteFile(file, []byte(assertion), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(xmlsec1, "--verify", "--pubkey-cert-pem", certFile,
		"--id-attr:ID", nsSAML20+":Assertion", file).CombinedOutput()
	if err == nil && !bytes.Contains(out, []byte("OK")) {
		return &verifyError{out}
	}
	if err != nil {
		return &verifyError{append([]byte(err.Error()+"\n"), out...)}
	}
	return nil
}

type verifyError struct{ out []byte }

func (e *verifyError) Error() string { return string(e.out) }

// checkAssertion checks who the token is for and where it may be used.
func checkAssertion(t *testing.T, assertion, nameID string) {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromString(assertion); err != nil {
		t.Fatalf("the token is not XML: %v", err)
	}
	root := doc.Root()
	if root.Tag != "Assertion" || root.NamespaceURI() != nsSAML20 {
		t.Fatalf("the token is {%s}%s, want a SAML 2.0 assertion", root.NamespaceURI(), root.Tag)
	}
	for _, want := range []struct {
		path  []string
		value string
	}{
		{[]string{"Issuer"}, stsIssuer},
		{[]string{"Subject", "NameID"}, nameID},
		{[]string{"Conditions", "AudienceRestriction", "Audience"}, echoService},
	} {
		if got := samlText(root, want.path...); got != want.value {
			t.Errorf("saml:%s = %q, want %q", strings.Join(want.path, "/"), got, want.value)
		}
	}
}

// samlText follows SAML 2.0 children by local name and returns the text.
func samlText(el *etree.Element, path ...string) string {
	for _, local := range path {
		var next *etree.Element
		for _, c := range el.ChildElements() {
			if c.Tag == local && c.NamespaceURI() == nsSAML20 {
				next = c
				break
			}
		}
		if next == nil {
			return ""
		}
		el = next
	}
	return strings.TrimSpace(el.Text())
}
