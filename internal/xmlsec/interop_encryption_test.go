package xmlsec

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/beevik/etree"
	"github.com/trustbroker/trustbroker/internal/testtools"
)

// The independent implementations: xmlsec1 (libxmlsec1 1.2.x, OpenSSL) and
// Apache Santuario (Java). xmlsec1 1.2 does not implement the XML
// Encryption 1.1 rsa-oaep URI, so rsa-oaep-sha256 is proven against
// Santuario only; every other pair is proven against both.

// writeRecipientFiles writes the recipient key and certificate for the
// external tools.
func writeRecipientFiles(t *testing.T, dir string) testtools.KeyFiles {
	t.Helper()
	k := recipientKey(t)
	return testtools.WriteKeyFiles(t, dir, "recipient", k.Key, k.Cert)
}

// writeOurEncryption encrypts the sample assertion inside a SAML 2.0
// EncryptedAssertion, as a relying party receives it, and writes it.
func writeOurEncryption(t *testing.T, path string, data DataAlgorithm, transport KeyTransport) {
	t.Helper()
	e := &Encrypter{Certificate: recipientKey(t).Cert, Data: data, KeyTransport: transport, AllowRSA15: transport == RSA15}
	encData, err := e.EncryptElement(sampleAssertion(t))
	if err != nil {
		t.Fatal(err)
	}
	wrapper := parseElement(t, `<saml2:EncryptedAssertion xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion"/>`)
	wrapper.AddChild(encData)
	if err := os.WriteFile(path, testtools.Serialize(t, wrapper), 0o600); err != nil {
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
	xmlsec1 := testtools.Tool(t, "xmlsec1")
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
				cmd := exec.Command(xmlsec1, "--decrypt", "--privkey-pem", files.KeyPEM,
					"--trusted-pem", files.CertPEM, "--verification-gmt-time", testNow.Format("2006-01-02 15:04:05"),
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
	xmlsec1 := testtools.Tool(t, "xmlsec1")
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
				cmd := exec.Command(xmlsec1, "--encrypt", "--pubkey-cert-pem", files.CertPEM,
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
	return testtools.JavaPeer(t, filepath.Join("testdata", "santuario", "XmlEncInterop.java"), "libxml-security-java", santuarioJars...)
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
			commands = append(commands, []string{"decrypt", files.KeyDER, in, j.out})
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
		commands = append(commands, []string{"encrypt", files.CertDER, enc.data.URI(), enc.transport, enc.digestURI, enc.mgfURI, plainPath, j.out})
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
