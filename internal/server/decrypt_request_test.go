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
	"github.com/trustbroker/trustbroker/internal/saml"
	"github.com/trustbroker/trustbroker/internal/testfixture"
	"github.com/trustbroker/trustbroker/internal/xmlsec"
)

// TestEncryptedRequestBody: a request whose Body is encrypted for the STS
// certificate is decrypted and answered, with the data key inside the
// EncryptedData or, as WS-Security clients send it, in an EncryptedKey of
// the Security header that lists the EncryptedData.
func TestEncryptedRequestBody(t *testing.T) {
	sts := testfixture.StartSTS(t, nil)
	for _, layout := range []string{"key in KeyInfo", "key in the Security header"} {
		t.Run(layout, func(t *testing.T) {
			status, body := postEncrypted(t, sts, encryptedPart{path: "//Body/*", cert: sts.Signing.Cert, keyInHeader: layout == "key in the Security header"})
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
		status, body := postEncrypted(t, sts, encryptedPart{path: "//UsernameToken", cert: sts.Signing.Cert, keyInHeader: true})
		if status != http.StatusOK {
			t.Fatalf("status %d:\n%s", status, body)
		}
	})
	t.Run("encrypted header block in an EncryptedHeader", func(t *testing.T) {
		status, body := postEncrypted(t, sts, encryptedPart{path: "//MessageID", cert: sts.Signing.Cert, keyInHeader: true, wrap: true})
		if status != http.StatusOK {
			t.Fatalf("status %d:\n%s", status, body)
		}
		if !bytes.Contains(body, []byte("RelatesTo")) {
			t.Error("the decrypted MessageID was not read: no RelatesTo in the answer")
		}
	})
	t.Run("encrypted for another key", func(t *testing.T) {
		status, body := postEncrypted(t, sts, encryptedPart{path: "//Body/*", cert: newRelyingPartyKeys(t).pair.Cert})
		expectFault(t, status, body, "1.2", nsSecExt, "FailedCheck", "")
	})
}

// encryptedPart says which part of alice's request to encrypt, for which
// certificate, and where the data key goes.
type encryptedPart struct {
	path string // the element to encrypt, e.g. "//Body/*"
	cert *x509.Certificate
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
	var secrets []string // the part's texts (AppliesTo, password, MessageID), none may show
	for _, el := range append([]*etree.Element{part}, part.FindElements(".//*")...) {
		if text := strings.TrimSpace(el.Text()); len(text) >= 8 {
			secrets = append(secrets, text)
		}
	}
	if len(secrets) == 0 {
		t.Fatalf("%s has no text to hide", p.path)
	}
	encData, err := (&xmlsec.Encrypter{Certificate: p.cert}).EncryptElement(part)
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
	resp, err := http.Post(sts.URL, contentType, bytes.NewReader(sealed))
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
