package server_test

import (
	"bytes"
	"crypto/x509"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/client"
	"github.com/trustbroker/trustbroker/internal/devkeys"
	"github.com/trustbroker/trustbroker/internal/saml"
	"github.com/trustbroker/trustbroker/internal/testfixture"
	"github.com/trustbroker/trustbroker/internal/xmlsec"
)

// decryptingSTS serves the samples with a request-decryption key of its
// own (spec.requestDecryption), accepting the listed data algorithms
// (none listed: the default, AES-GCM only).
func decryptingSTS(t *testing.T, algorithms ...string) (*testfixture.STS, *devkeys.Pair) {
	t.Helper()
	pair, err := devkeys.NewRSA("sts-decryption", time.Now(), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	decryption := "  requestDecryption:\n    secretRef: {name: sts-decryption}\n"
	if len(algorithms) > 0 {
		decryption += "    dataAlgorithms: [" + strings.Join(algorithms, ", ") + "]\n"
	}
	manifests := stsManifest(t, "  tokenLifetime: 1h\n", decryption+"  tokenLifetime: 1h\n")
	manifests["decryption.key.yaml"] = string(pair.SecretYAML("sts-decryption"))
	return testfixture.StartSTS(t, manifests), pair
}

// TestEncryptedRequestBody: a request whose Body is encrypted for the STS's
// request-decryption certificate is decrypted and answered, with the data
// key inside the EncryptedData or, as WS-Security clients send it, in an
// EncryptedKey of the Security header that lists the EncryptedData.
func TestEncryptedRequestBody(t *testing.T) {
	sts, decryption := decryptingSTS(t)
	for _, layout := range []string{"key in KeyInfo", "key in the Security header"} {
		t.Run(layout, func(t *testing.T) {
			status, body := postEncrypted(t, sts, encryptedPart{path: "//Body/*", cert: decryption.Cert, keyInHeader: layout == "key in the Security header"})
			if status != http.StatusOK {
				t.Fatalf("status %d:\n%s", status, body)
			}
			token, err := client.Token(body)
			if err != nil {
				t.Fatal(err)
			}
			verifyWithXmlsec1(t, sts.CertFile, token, saml.SAML20)
		})
	}
	t.Run("encrypted UsernameToken in the Security header", func(t *testing.T) {
		status, body := postEncrypted(t, sts, encryptedPart{path: "//UsernameToken", cert: decryption.Cert, keyInHeader: true})
		if status != http.StatusOK {
			t.Fatalf("status %d:\n%s", status, body)
		}
	})
	t.Run("encrypted header block in an EncryptedHeader", func(t *testing.T) {
		status, body := postEncrypted(t, sts, encryptedPart{path: "//MessageID", cert: decryption.Cert, keyInHeader: true, wrap: true})
		if status != http.StatusOK {
			t.Fatalf("status %d:\n%s", status, body)
		}
		if !bytes.Contains(body, []byte("RelatesTo")) {
			t.Error("the decrypted MessageID was not read: no RelatesTo in the answer")
		}
	})
	t.Run("encrypted for another key", func(t *testing.T) {
		status, body := postEncrypted(t, sts, encryptedPart{path: "//Body/*", cert: newRelyingPartyKeys(t).pair.Cert})
		expectFault(t, status, body, "1.2", nsSecExt, "InvalidSecurity", "could not be verified")
	})
	t.Run("encrypted for the signing key", func(t *testing.T) {
		// The signing key never decrypts: a request encrypted for the
		// certificate that signs tokens is refused.
		status, body := postEncrypted(t, sts, encryptedPart{path: "//Body/*", cert: sts.Signing.Cert})
		expectFault(t, status, body, "1.2", nsSecExt, "InvalidSecurity", "could not be verified")
	})
}

// TestEncryptedRequestWithoutDecryptionKey: an STS without
// requestDecryption refuses encrypted requests instead of decrypting them
// with its signing key.
func TestEncryptedRequestWithoutDecryptionKey(t *testing.T) {
	sts := testfixture.StartSTS(t, nil)
	status, body := postEncrypted(t, sts, encryptedPart{path: "//Body/*", cert: sts.Signing.Cert})
	expectFault(t, status, body, "1.2", nsSecExt, "InvalidSecurity", "could not be verified")
	if !strings.Contains(sts.Logs.String(), "no requestDecryption key is configured") {
		t.Errorf("the log does not say why:\n%s", sts.Logs.String())
	}
}

// encryptedPart says which part of alice's request to encrypt, for which
// certificate, and where the data key goes.
type encryptedPart struct {
	path string // the element to encrypt, e.g. "//Body/*"
	cert *x509.Certificate
	// data is the data encryption algorithm; empty takes the default.
	data xmlsec.DataAlgorithm
	// keyInHeader puts the EncryptedKey into the Security header with a
	// ReferenceList (the WS-Security layout) instead of the EncryptedData's
	// KeyInfo; wrap also wraps the EncryptedData in a WS-Security 1.1
	// EncryptedHeader.
	keyInHeader, wrap bool
}

// postEncrypted sends alice's request with one part encrypted and returns
// the status and body of the answer.
func postEncrypted(t *testing.T, sts *testfixture.STS, p encryptedPart) (int, []byte) {
	t.Helper()
	sealed, contentType := sealRequest(t, sts, p)
	return post(t, sts.URL, contentType, sealed)
}

// sealRequest builds alice's request with one part encrypted, and checks
// that none of the part's texts (AppliesTo, password, MessageID) shows.
func sealRequest(t *testing.T, sts *testfixture.STS, p encryptedPart) ([]byte, string) {
	t.Helper()
	r := client.Request{Endpoint: sts.URL, Username: "alice", Password: "alice-password", AppliesTo: echoService, Now: time.Now()}
	envelope, contentType, err := r.Envelope()
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(envelope); err != nil {
		t.Fatal(err)
	}
	part := doc.FindElement(p.path)
	secrets := partTexts(part)
	if len(secrets) == 0 {
		t.Fatalf("%s has no text to hide", p.path)
	}
	encData, err := (&xmlsec.Encrypter{Certificate: p.cert, Data: p.data}).EncryptElement(part)
	if err != nil {
		t.Fatal(err)
	}
	parent, at := part.Parent(), part.Index()
	parent.RemoveChild(part)
	if p.wrap {
		wrapper := etree.NewElement("wsse11:EncryptedHeader")
		wrapper.CreateAttr("xmlns:wsse11", "http://docs.oasis-open.org/wss/oasis-wss-wssecurity-secext-1.1.xsd")
		wrapper.AddChild(encData)
		parent.InsertChildAt(at, wrapper)
	} else {
		parent.InsertChildAt(at, encData)
	}
	if p.keyInHeader {
		moveKeyToHeader(t, doc, encData)
	}
	sealed, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range secrets {
		if bytes.Contains(sealed, []byte(secret)) {
			t.Fatalf("the encrypted part still shows %q", secret)
		}
	}
	return sealed, contentType
}

// partTexts are the texts of el and its descendants long enough to be
// recognised.
func partTexts(el *etree.Element) []string {
	var texts []string
	for _, e := range append([]*etree.Element{el}, el.FindElements(".//*")...) {
		if text := strings.TrimSpace(e.Text()); len(text) >= 8 {
			texts = append(texts, text)
		}
	}
	return texts
}

// post sends a request and returns the status and body of the answer.
func post(t *testing.T, url, contentType string, body []byte) (int, []byte) {
	t.Helper()
	resp, err := http.Post(url, contentType, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	out.ReadFrom(resp.Body)
	return resp.StatusCode, out.Bytes()
}

// moveKeyToHeader rearranges an EncryptedData into the WS-Security layout:
// its EncryptedKey goes into the Security header with a ReferenceList
// naming the EncryptedData by Id.
func moveKeyToHeader(t *testing.T, doc *etree.Document, encData *etree.Element) {
	t.Helper()
	keyInfo := encData.FindElement("./KeyInfo")
	encKey := keyInfo.FindElement("./EncryptedKey")
	if encKey == nil {
		t.Fatal("no EncryptedKey in the KeyInfo")
	}
	encData.RemoveChild(keyInfo)
	encData.CreateAttr("Id", "ED-1")
	// The prefixes were declared on the EncryptedData; declare them where the key goes.
	for _, a := range encData.Attr {
		if a.Space == "xmlns" {
			encKey.CreateAttr("xmlns:"+a.Key, a.Value)
		}
	}
	refs := encKey.CreateElement("xenc:ReferenceList")
	refs.CreateElement("xenc:DataReference").CreateAttr("URI", "#ED-1")
	doc.FindElement("//Security").AddChild(encKey)
}

// TestDecryptionCertificatePublished: the WSDL and the metadata exchange
// name the request-decryption certificate (never the signing one) in each
// port's endpoint reference; a client that encrypts for what the WSDL
// publishes gets a token.
func TestDecryptionCertificatePublished(t *testing.T) {
	sts, decryption := decryptingSTS(t)
	base := strings.TrimSuffix(sts.URL, "/sts")
	var published *x509.Certificate
	for _, path := range []string{"/sts?wsdl", "/adfs/services/trust/mex"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		doc := etree.NewDocument()
		_, err = doc.ReadFrom(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		ports := doc.FindElements("//port")
		certs := doc.FindElements("//port/EndpointReference/Identity/KeyInfo/X509Data/X509Certificate")
		if len(ports) == 0 || len(certs) != len(ports) {
			t.Fatalf("%s: %d ports, %d name a certificate", path, len(ports), len(certs))
		}
		for _, c := range certs {
			cert, err := x509.ParseCertificate(decode(t, c.Text()))
			if err != nil {
				t.Fatal(err)
			}
			if !cert.Equal(decryption.Cert) {
				t.Errorf("%s publishes %q, not the request-decryption certificate", path, cert.Subject)
			}
			published = cert
		}
	}
	status, body := postEncrypted(t, sts, encryptedPart{path: "//Body/*", cert: published, keyInHeader: true})
	if status != http.StatusOK {
		t.Fatalf("encrypted for the published certificate: status %d\n%s", status, body)
	}
}
