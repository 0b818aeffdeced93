package server_test

import (
	"bytes"
	"crypto/x509"
	"net/http"
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
			status, body := postEncrypted(t, sts, sts.Signing.Cert, layout == "key in the Security header")
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
		status, body := postWithEncryptedPart(t, sts, "//UsernameToken", false)
		if status != http.StatusOK {
			t.Fatalf("status %d:\n%s", status, body)
		}
	})
	t.Run("encrypted header block in an EncryptedHeader", func(t *testing.T) {
		status, body := postWithEncryptedPart(t, sts, "//MessageID", true)
		if status != http.StatusOK {
			t.Fatalf("status %d:\n%s", status, body)
		}
		if !bytes.Contains(body, []byte("RelatesTo")) {
			t.Error("the decrypted MessageID was not read: no RelatesTo in the answer")
		}
	})
	t.Run("encrypted for another key", func(t *testing.T) {
		status, body := postEncrypted(t, sts, newRelyingPartyKeys(t).pair.Cert, false)
		expectFault(t, status, body, "1.2", nsSecExt, "FailedCheck", "")
	})
}

// postEncrypted sends alice's request with its Body encrypted for cert,
// the data key inside the EncryptedData or in the Security header.
func postEncrypted(t *testing.T, sts *testfixture.STS, cert *x509.Certificate, keyInHeader bool) (int, []byte) {
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
	body := doc.FindElement("//Body")
	rst := body.ChildElements()[0]
	encData, err := (&xmlsec.Encrypter{Certificate: cert}).EncryptElement(rst)
	if err != nil {
		t.Fatal(err)
	}
	body.RemoveChild(rst)
	body.AddChild(encData)
	if keyInHeader {
		moveKeyToHeader(t, doc, encData)
	}
	sealed, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte(echoService)) {
		t.Fatal("the request still shows its AppliesTo")
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

// postWithEncryptedPart sends alice's request with the element at path
// encrypted for the STS, its key in the Security header (the WS-Security
// layout), optionally wrapped in a WS-Security 1.1 EncryptedHeader.
func postWithEncryptedPart(t *testing.T, sts *testfixture.STS, path string, wrap bool) (int, []byte) {
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
	part := doc.FindElement(path)
	encData, err := (&xmlsec.Encrypter{Certificate: sts.Signing.Cert}).EncryptElement(part)
	if err != nil {
		t.Fatal(err)
	}
	parent := part.Parent()
	at := part.Index()
	parent.RemoveChild(part)
	if wrap {
		wrapper := etree.NewElement("wsse11:EncryptedHeader")
		wrapper.CreateAttr("xmlns:wsse11", "http://docs.oasis-open.org/wss/oasis-wss-wssecurity-secext-1.1.xsd")
		wrapper.AddChild(encData)
		parent.InsertChildAt(at, wrapper)
	} else {
		parent.InsertChildAt(at, encData)
	}
	moveKeyToHeader(t, doc, encData)
	if wrap {
		// The header block's key goes first, as a receiver processes the
		// Security header in order.
		sec := doc.FindElement("//Security")
		key := sec.ChildElements()[len(sec.ChildElements())-1]
		sec.RemoveChild(key)
		sec.InsertChildAt(0, key)
	}
	sealed, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("alice-password")) && path == "//UsernameToken" {
		t.Fatal("the password is still readable")
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
