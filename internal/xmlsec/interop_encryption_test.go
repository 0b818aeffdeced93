package xmlsec

import (
	"bufio"
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/beevik/etree"
)

// The independent implementations: xmlsec1 (libxmlsec1 1.2.x, OpenSSL) and
// Apache Santuario (Java). xmlsec1 1.2 does not implement the XML
// Encryption 1.1 rsa-oaep URI, so rsa-oaep-sha256 is proven against
// Santuario only; every other pair is proven against both.

// recipientFiles writes the recipient key (PKCS#8, PEM and DER) and
// certificate (PEM and DER) for the external tools.
type recipientFiles struct {
	keyPEM, keyDER, certPEM, certDER string
}

func writeRecipientFiles(t *testing.T, dir string) recipientFiles {
	t.Helper()
	k := recipientKey(t)
	der, err := x509.MarshalPKCS8PrivateKey(k.key)
	if err != nil {
		t.Fatal(err)
	}
	f := recipientFiles{
		keyPEM:  filepath.Join(dir, "key.pem"),
		keyDER:  filepath.Join(dir, "key.der"),
		certPEM: filepath.Join(dir, "cert.pem"),
		certDER: filepath.Join(dir, "cert.der"),
	}
	for path, content := range map[string][]byte{
		f.keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		f.keyDER:  der,
		f.certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: k.cert.Raw}),
		f.certDER: k.cert.Raw,
	} {
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// writeOurEncryption encrypts the sample assertion inside a SAML 2.0
// EncryptedAssertion, as a relying party receives it, and writes it.
func writeOurEncryption(t *testing.T, path string, data DataAlgorithm, transport KeyTransport) {
	t.Helper()
	e := &Encrypter{Certificate: recipientKey(t).cert, Data: data, KeyTransport: transport, AllowRSA15: transport == RSA15}
	encData, err := e.EncryptElement(sampleAssertion(t))
	if err != nil {
		t.Fatal(err)
	}
	wrapper := parseElement(t, `<saml2:EncryptedAssertion xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion"/>`)
	wrapper.AddChild(encData)
	if err := os.WriteFile(path, serialize(t, wrapper), 0o600); err != nil {
		t.Fatal(err)
	}
}

// checkDecryptedFile reads what a peer decrypted from writeOurEncryption
// and compares the assertion with the original.
func checkDecryptedFile(t *testing.T, path string) {
	t.Helper()
	out, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(out); err != nil {
		t.Fatalf("decrypted output does not parse: %v\n%s", err, out)
	}
	children := doc.Root().ChildElements()
	if len(children) != 1 {
		t.Fatalf("decrypted EncryptedAssertion has %d children:\n%s", len(children), out)
	}
	got := canonical(t, standaloneCopy(children[0]))
	if want := canonical(t, standaloneCopy(sampleAssertion(t))); got != want {
		t.Errorf("the peer decrypted something else\n got: %s\nwant: %s", got, want)
	}
}

// writePlainAssertion writes the standalone assertion a peer encrypts.
func writePlainAssertion(t *testing.T, path string) string {
	t.Helper()
	plain, err := serializeStandalone(sampleAssertion(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, plain, 0o600); err != nil {
		t.Fatal(err)
	}
	return canonical(t, parseElement(t, string(plain)))
}

// decryptPeerFile decrypts a peer's EncryptedData (the root of path) with
// our Decrypter and compares the result with want.
func decryptPeerFile(t *testing.T, path string, want string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decrypterFor(recipientKey(t), allowAll).DecryptElement(parseElement(t, string(b)))
	if err != nil {
		t.Fatalf("DecryptElement of the peer's encryption: %v\n%s", err, b)
	}
	if c := canonical(t, got); c != want {
		t.Errorf("decrypted element differs\n got: %s\nwant: %s", c, want)
	}
}

// xmlsec1Transports are the key transports libxmlsec1 1.2 implements.
var xmlsec1Transports = []KeyTransport{RSAOAEP, RSA15}

// TestInteropXmlsec1DecryptsOurs has xmlsec1 decrypt what we encrypt.
func TestInteropXmlsec1DecryptsOurs(t *testing.T) {
	xmlsec1 := requireCommand(t, "xmlsec1", "xmlsec1")
	dir := t.TempDir()
	files := writeRecipientFiles(t, dir)
	for _, data := range allDataAlgorithms {
		for _, transport := range xmlsec1Transports {
			t.Run(shortName(data, transport), func(t *testing.T) {
				in := filepath.Join(dir, fmt.Sprintf("ours-%s-%s.xml", data, transport))
				out := in + ".decrypted"
				writeOurEncryption(t, in, data, transport)
				// The recipient certificate in KeyInfo is self-signed and
				// pinned: trust it, at a time when it is valid.
				cmd := exec.Command(xmlsec1, "--decrypt", "--privkey-pem", files.keyPEM,
					"--trusted-pem", files.certPEM, "--verification-gmt-time", testNow.Format("2006-01-02 15:04:05"),
					"--output", out, in)
				if msg, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("xmlsec1 --decrypt failed: %v\n%s", err, msg)
				}
				checkDecryptedFile(t, out)
			})
		}
	}
}

// xmlsec1SessionKeys names the session key xmlsec1 --encrypt generates.
var xmlsec1SessionKeys = map[DataAlgorithm]string{
	AES128GCM: "aes-128", AES256GCM: "aes-256",
	AES128CBC: "aes-128", AES192CBC: "aes-192", AES256CBC: "aes-256",
	TripleDESCBC: "des-192",
}

// xmlsec1Template is the EncryptedData template xmlsec1 --encrypt fills:
// the data key is encrypted for the certificate, which xmlsec1 writes into
// the empty X509Data.
func xmlsec1Template(data DataAlgorithm, transport KeyTransport) string {
	digest := ""
	if transport == RSAOAEP {
		digest = `<ds:DigestMethod Algorithm="` + URISHA1 + `"/>`
	}
	return `<xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" Type="` + TypeElement + `">` +
		`<xenc:EncryptionMethod Algorithm="` + data.URI() + `"/>` +
		`<ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><xenc:EncryptedKey>` +
		`<xenc:EncryptionMethod Algorithm="` + transport.URI() + `">` + digest + `</xenc:EncryptionMethod>` +
		`<ds:KeyInfo><ds:X509Data/></ds:KeyInfo>` +
		`<xenc:CipherData><xenc:CipherValue/></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo>` +
		`<xenc:CipherData><xenc:CipherValue/></xenc:CipherData></xenc:EncryptedData>`
}

// TestInteropWeDecryptXmlsec1 decrypts what xmlsec1 encrypts.
func TestInteropWeDecryptXmlsec1(t *testing.T) {
	xmlsec1 := requireCommand(t, "xmlsec1", "xmlsec1")
	dir := t.TempDir()
	files := writeRecipientFiles(t, dir)
	plainPath := filepath.Join(dir, "assertion.xml")
	want := writePlainAssertion(t, plainPath)
	for _, data := range allDataAlgorithms {
		for _, transport := range xmlsec1Transports {
			t.Run(shortName(data, transport), func(t *testing.T) {
				tmpl := filepath.Join(dir, fmt.Sprintf("template-%s-%s.xml", data, transport))
				out := filepath.Join(dir, fmt.Sprintf("xmlsec1-%s-%s.xml", data, transport))
				if err := os.WriteFile(tmpl, []byte(xmlsec1Template(data, transport)), 0o600); err != nil {
					t.Fatal(err)
				}
				cmd := exec.Command(xmlsec1, "--encrypt", "--pubkey-cert-pem", files.certPEM,
					"--session-key", xmlsec1SessionKeys[data], "--xml-data", plainPath, "--output", out, tmpl)
				if msg, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("xmlsec1 --encrypt failed: %v\n%s", err, msg)
				}
				decryptPeerFile(t, out, want)
			})
		}
	}
}

// santuarioJars are the Debian jars XmlEncInterop runs with; the first is
// Santuario itself (libxml-security-java), the rest its dependencies.
var santuarioJars = []string{
	"/usr/share/java/xmlsec.jar",
	"/usr/share/java/slf4j-api.jar",
	"/usr/share/java/commons-codec.jar",
}

// santuario compiles testdata/santuario/XmlEncInterop.java and returns a
// function that runs a batch of its commands in one JVM and returns one
// answer per command.
func santuario(t *testing.T) func(commands [][]string) []string {
	t.Helper()
	javac := requireCommand(t, "javac", "default-jdk-headless")
	java := requireCommand(t, "java", "default-jre-headless")
	for _, jar := range santuarioJars {
		requireFile(t, jar, "libxml-security-java")
	}
	classes := t.TempDir()
	src, err := filepath.Abs(filepath.Join("testdata", "santuario", "XmlEncInterop.java"))
	if err != nil {
		t.Fatal(err)
	}
	if msg, err := exec.Command(javac, "-nowarn", "-cp", santuarioJars[0], "-d", classes, src).CombinedOutput(); err != nil {
		t.Fatalf("javac failed: %v\n%s", err, msg)
	}
	classpath := strings.Join(append([]string{classes}, santuarioJars...), string(os.PathListSeparator))
	if nop := "/usr/share/java/slf4j-nop.jar"; fileExists(nop) {
		classpath += string(os.PathListSeparator) + nop // silences slf4j's start-up warning
	}
	return func(commands [][]string) []string {
		var stdin bytes.Buffer
		for _, c := range commands {
			stdin.WriteString(strings.Join(c, "\t") + "\n")
		}
		cmd := exec.Command(java, "-cp", classpath, "XmlEncInterop")
		cmd.Stdin = &stdin
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("Santuario run failed: %v\n%s", err, stderr.String())
		}
		var answers []string
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			answers = append(answers, sc.Text())
		}
		if len(answers) != len(commands) {
			t.Fatalf("Santuario answered %d of %d commands:\n%s\n%s", len(answers), len(commands), out, stderr.String())
		}
		return answers
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// santuarioEncryption is one way Santuario encrypts for us.
type santuarioEncryption struct {
	name              string
	data              DataAlgorithm
	transport         string // URI
	digestURI, mgfURI string // "-" for Santuario's default (none written)
}

func santuarioEncryptions() []santuarioEncryption {
	var out []santuarioEncryption
	for _, data := range allDataAlgorithms {
		out = append(out,
			santuarioEncryption{shortName(data, RSAOAEP), data, URIRSAOAEPMGF1, URISHA1, "-"},
			santuarioEncryption{shortName(data, RSAOAEPSHA256), data, URIRSAOAEP, URISHA256, URIMGF1SHA256},
			santuarioEncryption{shortName(data, RSA15), data, URIRSA15, "-", "-"},
		)
	}
	// Defaults and mixed parameters other peers send.
	return append(out,
		santuarioEncryption{"aes256-gcm/rsa-oaep-mgf1p without DigestMethod", AES256GCM, URIRSAOAEPMGF1, "-", "-"},
		santuarioEncryption{"aes256-gcm/xmlenc11 rsa-oaep with SHA-1 defaults", AES256GCM, URIRSAOAEP, "-", "-"},
		santuarioEncryption{"aes256-gcm/xmlenc11 rsa-oaep SHA-256 digest, MGF1-SHA1", AES256GCM, URIRSAOAEP, URISHA256, URIMGF1SHA1},
		santuarioEncryption{"aes128-cbc/xmlenc11 rsa-oaep SHA-512, MGF1-SHA512", AES128CBC, URIRSAOAEP, URISHA512, URIMGF1SHA512},
	)
}

// checkPeerMethods makes sure Santuario wrote the algorithms the case
// names, so that each case proves what it claims.
func checkPeerMethods(t *testing.T, path string, enc santuarioEncryption) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ed := parseElement(t, string(b))
	if got := childNS(t, ed, NamespaceXEnc, "EncryptionMethod").SelectAttrValue("Algorithm", ""); got != enc.data.URI() {
		t.Errorf("Santuario used data algorithm %q, want %q", got, enc.data.URI())
	}
	method := childNS(t, encryptedKeyOf(t, ed), NamespaceXEnc, "EncryptionMethod")
	if got := method.SelectAttrValue("Algorithm", ""); got != enc.transport {
		t.Errorf("Santuario used key transport %q, want %q", got, enc.transport)
	}
	found := map[string]string{"DigestMethod": "-", "MGF": "-"}
	for _, c := range method.ChildElements() {
		if (c.Tag == "DigestMethod" && c.NamespaceURI() == NamespaceDSig) || (c.Tag == "MGF" && c.NamespaceURI() == NamespaceXEnc11) {
			found[c.Tag] = c.SelectAttrValue("Algorithm", "")
		}
	}
	if enc.digestURI != "-" && found["DigestMethod"] != enc.digestURI {
		t.Errorf("Santuario wrote DigestMethod %q, want %q", found["DigestMethod"], enc.digestURI)
	}
	// MGF1-SHA1 is the default, which Santuario may leave unwritten.
	if enc.mgfURI != "-" && enc.mgfURI != URIMGF1SHA1 && found["MGF"] != enc.mgfURI {
		t.Errorf("Santuario wrote MGF %q, want %q", found["MGF"], enc.mgfURI)
	}
}

// TestInteropSantuario proves every data algorithm and key transport in
// both directions against Apache Santuario: it decrypts what we encrypt,
// and we decrypt what it encrypts.
func TestInteropSantuario(t *testing.T) {
	run := santuario(t)
	dir := t.TempDir()
	files := writeRecipientFiles(t, dir)
	plainPath := filepath.Join(dir, "assertion.xml")
	want := writePlainAssertion(t, plainPath)

	type job struct {
		name   string
		out    string
		check  func(t *testing.T, out string)
		answer string
	}
	var jobs []*job
	var commands [][]string
	for _, data := range allDataAlgorithms {
		for _, transport := range allKeyTransports {
			in := filepath.Join(dir, fmt.Sprintf("ours-%s-%s.xml", data, transport))
			writeOurEncryption(t, in, data, transport)
			j := &job{name: "santuario decrypts ours/" + shortName(data, transport), out: in + ".decrypted", check: checkDecryptedFile}
			jobs = append(jobs, j)
			commands = append(commands, []string{"decrypt", files.keyDER, in, j.out})
		}
	}
	for i, enc := range santuarioEncryptions() {
		j := &job{
			name: "we decrypt santuario/" + enc.name,
			out:  filepath.Join(dir, fmt.Sprintf("santuario-%d.xml", i)),
			check: func(t *testing.T, out string) {
				checkPeerMethods(t, out, enc)
				decryptPeerFile(t, out, want)
			},
		}
		jobs = append(jobs, j)
		commands = append(commands, []string{"encrypt", files.certDER, enc.data.URI(), enc.transport, enc.digestURI, enc.mgfURI, plainPath, j.out})
	}

	for i, answer := range run(commands) {
		jobs[i].answer = answer
	}
	for _, j := range jobs {
		t.Run(j.name, func(t *testing.T) {
			if j.answer != "ok" {
				t.Fatalf("Santuario: %s", j.answer)
			}
			j.check(t, j.out)
		})
	}
}
