package wssec

import (
	"bufio"
	"bytes"
	"crypto/x509"
	"encoding/pem"
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

// clientFiles writes the client key (PKCS#8, DER and PEM) and certificate
// (DER and PEM) for the peers.
type clientFiles struct {
	keyDER, keyPEM, certDER, certPEM string
}

func writeClientFiles(t *testing.T, dir string) clientFiles {
	t.Helper()
	p := testPKI(t)
	der, err := x509.MarshalPKCS8PrivateKey(p.clientKey)
	if err != nil {
		t.Fatal(err)
	}
	f := clientFiles{
		keyDER: filepath.Join(dir, "client.key.der"), keyPEM: filepath.Join(dir, "client.key.pem"),
		certDER: filepath.Join(dir, "client.der"), certPEM: filepath.Join(dir, "client.pem"),
	}
	for path, content := range map[string][]byte{
		f.keyDER:  der,
		f.keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		f.certDER: p.client.Raw,
		f.certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.client.Raw}),
	} {
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return f
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
	javac := testtools.Tool(t, "javac")
	java := testtools.Tool(t, "java")
	for _, jar := range wss4jJars {
		if _, err := os.Stat(jar); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is missing (install libwss4j-java)", jar)
			}
			t.Skipf("%s is missing (install libwss4j-java)", jar)
		}
	}
	classes := t.TempDir()
	src, err := filepath.Abs(filepath.Join("testdata", "wss4j", "WssSignInterop.java"))
	if err != nil {
		t.Fatal(err)
	}
	cp := strings.Join(wss4jJars, string(os.PathListSeparator))
	if msg, err := exec.Command(javac, "-nowarn", "-cp", cp, "-d", classes, src).CombinedOutput(); err != nil {
		t.Fatalf("javac failed: %v\n%s", err, msg)
	}
	cp = classes + string(os.PathListSeparator) + cp
	if nop := "/usr/share/java/slf4j-nop.jar"; fileExists(nop) {
		cp += string(os.PathListSeparator) + nop
	}
	var stdin bytes.Buffer
	for _, c := range commands {
		stdin.WriteString(strings.Join(c, "\t") + "\n")
	}
	cmd := exec.Command(java, "-cp", cp, "WssSignInterop")
	cmd.Stdin = &stdin
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("WSS4J run failed: %v\n%s", err, stderr.String())
	}
	var answers []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		answers = append(answers, sc.Text())
	}
	if len(answers) != len(commands) {
		t.Fatalf("WSS4J answered %d of %d commands:\n%s\n%s", len(answers), len(commands), out, stderr.String())
	}
	return answers
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
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
		commands = append(commands, []string{"sign", c.keyID, files.keyDER, files.certDER, in, filepath.Join(dir, c.keyID+".xml"),
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
	if msg, err := exec.Command(python, script, files.keyPEM, files.certPEM, in, out).CombinedOutput(); err != nil {
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
