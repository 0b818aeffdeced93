package server_test

import (
	"bytes"
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
			encData, err := (&xmlsec.Encrypter{Certificate: sts.Signing.Cert}).EncryptElement(rst)
			if err != nil {
				t.Fatal(err)
			}
			body.RemoveChild(rst)
			body.AddChild(encData)
			if layout == "key in the Security header" {
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
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d:\n%s", resp.StatusCode, out.String())
			}
			token, err := client.Token(out.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			verifyWithXmlsec1(t, sts.CertFile, token, saml.SAML20)
		})
	}

	t.Run("encrypted for another key", func(t *testing.T) {
		other := newRelyingPartyKeys(t)
		r := client.Request{Endpoint: sts.URL, Username: "alice", Password: "alice-password", AppliesTo: echoService, Now: time.Now()}
		envelope, contentType, _ := r.Envelope()
		doc := etree.NewDocument()
		if err := doc.ReadFromBytes(envelope); err != nil {
			t.Fatal(err)
		}
		body := doc.FindElement("//Body")
		rst := body.ChildElements()[0]
		encData, err := (&xmlsec.Encrypter{Certificate: other.pair.Cert}).EncryptElement(rst)
		if err != nil {
			t.Fatal(err)
		}
		body.RemoveChild(rst)
		body.AddChild(encData)
		sealed, _ := doc.WriteToBytes()
		resp, err := http.Post(sts.URL, contentType, bytes.NewReader(sealed))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out bytes.Buffer
		out.ReadFrom(resp.Body)
		expectFault(t, resp.StatusCode, out.Bytes(), "1.2", nsSecExt, "FailedCheck", "")
	})
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
