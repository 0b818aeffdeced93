package wssec

import (
	"bytes"
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/testtools"
)

// The independent signers: Apache WSS4J (Java, libwss4j-java) and
// python3-zeep's BinarySignature (libxmlsec1 through python3-xmlsec).

// interopRequest is the unsigned SOAP 1.2 RST the peers sign: WS-Addressing
// headers, no Security header (WSS4J adds one; zeep's gets a Timestamp).
const interopRequest = `<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="http://www.w3.org/2005/08/addressing">` +
	`<soap:Header>` +
	`<wsa:Action soap:mustUnderstand="1">http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Issue</wsa:Action>` +
	`<wsa:MessageID>urn:uuid:2f0bb3b9-92a4-4d65-8c3c-5b8b0b3c1f00</wsa:MessageID>` +
	`<wsa:To soap:mustUnderstand="1">https://sts.example/sts</wsa:To>` +
	`</soap:Header>` +
	`<soap:Body><wst:RequestSecurityToken xmlns:wst="http://docs.oasis-open.org/ws-sx/ws-trust/200512">` +
	`<wsp:AppliesTo xmlns:wsp="http://schemas.xmlsoap.org/ws/2004/09/policy"><wsa:EndpointReference><wsa:Address>https://rp.example/</wsa:Address></wsa:EndpointReference></wsp:AppliesTo>` +
	`<wst:KeyType>http://docs.oasis-open.org/ws-sx/ws-trust/200512/Bearer</wst:KeyType>` +
	`<wst:RequestType>http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue</wst:RequestType>` +
	`</wst:RequestSecurityToken></soap:Body></soap:Envelope>`

// writeClientFiles writes the client key and certificate for the peers.
func writeClientFiles(t *testing.T, dir string) testtools.KeyFiles {
	t.Helper()
	p := testPKI(t)
	return testtools.WriteKeyFiles(t, dir, "client", p.clientKey, p.client)
}

// wss4jJars are the Debian jars WssSignInterop runs with.
var wss4jJars = []string{
	"/usr/share/java/wss4j.jar",
	"/usr/share/java/xmlsec.jar",
	"/usr/share/java/commons-logging.jar",
	"/usr/share/java/slf4j-api.jar",
}

// runWSS4J compiles testdata/wss4j/WssSignInterop.java and runs the
// commands in one JVM, returning one answer per command.
func runWSS4J(t *testing.T, commands [][]string) []string {
	t.Helper()
	return testtools.JavaPeer(t, filepath.Join("testdata", "wss4j", "WssSignInterop.java"), "libwss4j-java", wss4jJars...)(commands)
}

// TestInteropWSS4JSignatures verifies what WSS4J's WSSecSignature signs,
// with each KeyInfo form it writes: a BST DirectReference (trusted through
// the CA), a SubjectKeyIdentifier, an X509IssuerSerial and a
// ThumbprintSHA1 (registered certificate). WSS4J signs the Body, its
// Timestamp and the three addressing headers.
func TestInteropWSS4JSignatures(t *testing.T) {
	p := testPKI(t)
	dir := t.TempDir()
	files := writeClientFiles(t, dir)
	in := filepath.Join(dir, "rst.xml")
	if err := os.WriteFile(in, []byte(interopRequest), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		keyID string
		trust X509Trust
		want  KeyReferenceKind
	}{
		{"direct", p.caTrust(), DirectReference},
		{"ski", X509Trust{Roots: p.pinnedRoots, Pinned: []*x509.Certificate{p.client}}, SubjectKeyIdentifier},
		{"issuerserial", X509Trust{Pinned: []*x509.Certificate{p.client}}, IssuerSerial},
		{"thumbprint", X509Trust{Pinned: []*x509.Certificate{p.client}}, ThumbprintSHA1},
	}
	var commands [][]string
	for _, c := range cases {
		commands = append(commands, []string{"sign", c.keyID, files.KeyDER, files.CertDER, in, filepath.Join(dir, c.keyID+".xml"),
			"{" + sigNSWSA + "}Action", "{" + sigNSWSA + "}MessageID", "{" + sigNSWSA + "}To"})
	}
	answers := runWSS4J(t, commands)
	for i, c := range cases {
		t.Run(c.keyID, func(t *testing.T) {
			if answers[i] != "ok" {
				t.Fatalf("WSS4J: %s", answers[i])
			}
			data, err := os.ReadFile(filepath.Join(dir, c.keyID+".xml"))
			if err != nil {
				t.Fatal(err)
			}
			sig, m, err := verifyMessage(t, data, &SignatureVerifier{Trust: c.trust}, time.Now())
			if err != nil {
				t.Fatalf("Verify: %v\n%s", err, data)
			}
			checkInteropResult(t, sig, m, c.want)
			// The same message with its AppliesTo changed is refused.
			tampered := bytes.Replace(data, []byte("https://rp.example/"), []byte("https://rq.example/"), 1)
			_, _, err = verifyMessage(t, tampered, &SignatureVerifier{Trust: c.trust}, time.Now())
			wantFault(t, err, soap.FailedCheck, "changed")
		})
	}
}

// checkInteropResult checks what a peer's signature proves.
func checkInteropResult(t *testing.T, sig *MessageSignature, m parsedMessage, want KeyReferenceKind) {
	t.Helper()
	if !sig.Certificate.Equal(testPKI(t).client) {
		t.Errorf("signer = %s, want the client", sig.Certificate.Subject)
	}
	if sig.KeyReference != want {
		t.Errorf("KeyReference = %s, want %s", sig.KeyReference, want)
	}
	if !sig.Covers(m.env.Body) || m.header.Timestamp == nil || !sig.Covers(m.header.Timestamp.Element) {
		t.Error("Body or Timestamp not covered")
	}
	if _, ok := MessageReplayKey(m.header); !ok {
		t.Error("no replay key")
	}
}

// TestInteropZeepBinarySignature verifies what python3-zeep's
// BinarySignature signs (Body and Timestamp, certificate in a BST).
func TestInteropZeepBinarySignature(t *testing.T) {
	python := testtools.Tool(t, "/usr/bin/python3")
	if msg, err := exec.Command(python, "-c", "import zeep, xmlsec").CombinedOutput(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("python3-zeep and python3-xmlsec are needed: %v\n%s", err, msg)
		}
		t.Skipf("python3-zeep and python3-xmlsec are needed (apt-get install python3-zeep python3-xmlsec): %s", msg)
	}
	p := testPKI(t)
	dir := t.TempDir()
	files := writeClientFiles(t, dir)
	// zeep signs the Timestamp it finds in the Security header; without
	// addressing headers in the signature, the request carries none.
	now := time.Now().UTC()
	request := `<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="` + sigNSWSA + `">` +
		`<soap:Header><wsse:Security ` + declWSSE + ` ` + declWSU + `><wsu:Timestamp>` +
		`<wsu:Created>` + now.Format(time.RFC3339) + `</wsu:Created><wsu:Expires>` + now.Add(5*time.Minute).Format(time.RFC3339) + `</wsu:Expires>` +
		`</wsu:Timestamp></wsse:Security></soap:Header>` +
		interopRequest[strings.Index(interopRequest, "<soap:Body>"):]
	in, out := filepath.Join(dir, "rst.xml"), filepath.Join(dir, "zeep.xml")
	if err := os.WriteFile(in, []byte(request), 0o600); err != nil {
		t.Fatal(err)
	}
	script, err := filepath.Abs(filepath.Join("testdata", "zeep", "zeep_sign.py"))
	if err != nil {
		t.Fatal(err)
	}
	if msg, err := exec.Command(python, script, files.KeyPEM, files.CertPEM, in, out).CombinedOutput(); err != nil {
		t.Fatalf("zeep signing failed: %v\n%s", err, msg)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	sig, m, err := verifyMessage(t, data, &SignatureVerifier{Trust: p.caTrust()}, time.Now())
	if err != nil {
		t.Fatalf("Verify: %v\n%s", err, data)
	}
	checkInteropResult(t, sig, m, DirectReference)
}
