package xmlsec

import (
	"errors"
	"testing"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/testtools"
)

// FuzzDecryptElement feeds arbitrary documents to DecryptElement: the
// EncryptedData structure, KeyInfo and EncryptedKey lookup, algorithm and
// base64 handling. It must never panic and must fail only with a
// *soap.Fault; what it returns must be a detached element.
func FuzzDecryptElement(f *testing.F) {
	k := recipientKey(f)
	for _, c := range []struct {
		data      DataAlgorithm
		transport KeyTransport
	}{{AES256GCM, RSAOAEP}, {AES128CBC, RSAOAEPSHA256}, {TripleDESCBC, RSA15}} {
		f.Add(testtools.Serialize(f, encryptSample(f, c.data, c.transport)))
	}
	wrapped := parseElement(f, `<saml2:EncryptedAssertion xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion"/>`)
	wrapped.AddChild(encryptSample(f, AES128GCM, RSAOAEP))
	f.Add(testtools.Serialize(f, wrapped))
	f.Add([]byte(xmlsec1Template(AES256GCM, RSAOAEP)))
	f.Add([]byte(`<xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#"><xenc:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#aes256-gcm"/><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:RetrievalMethod Type="http://www.w3.org/2001/04/xmlenc#EncryptedKey" URI="#k"/></ds:KeyInfo><xenc:CipherData><xenc:CipherReference URI="#x"/></xenc:CipherData></xenc:EncryptedData>`))

	d := decrypterFor(k, allowAll)
	f.Fuzz(func(t *testing.T, data []byte) {
		doc := etree.NewDocument()
		doc.ReadSettings.MaxDepth = 64
		if err := doc.ReadFromBytes(data); err != nil || doc.Root() == nil {
			return
		}
		encData := doc.Root()
		if encData.Tag != "EncryptedData" {
			if encData = doc.FindElement("//EncryptedData"); encData == nil {
				return
			}
		}
		got, err := d.DecryptElement(encData)
		checkFuzzResult(t, got, err)
	})
}

// FuzzDecryptedPlaintext feeds arbitrary plaintext through real decryption
// to the parser of decrypted octets, which must refuse DTDs, processing
// instructions and anything but one element, without panicking.
func FuzzDecryptedPlaintext(f *testing.F) {
	plain, err := serializeStandalone(sampleAssertion(f))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(plain)
	f.Add([]byte(`<s:A><s:B xsi:type="xs:string">v</s:B></s:A>`))
	f.Add([]byte(`<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>`))
	f.Add([]byte(`<a/></plaintext><plaintext>`))
	f.Add([]byte(`<?xml version="1.0"?><a/>`))

	key := make([]byte, 16)
	d := decrypterFor(recipientKey(f), EncryptionPolicy{})
	outer := parseElement(f, `<r:Root xmlns:r="urn:r" xmlns:s="urn:s" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/>`)
	f.Fuzz(func(t *testing.T, plaintext []byte) {
		octets, err := encryptData(AES128GCM, key, plaintext)
		if err != nil {
			t.Fatal(err)
		}
		ed := encryptedDataWithKey(t, AES128GCM, octets)
		outer.AddChild(ed)
		defer outer.RemoveChild(ed)
		got, err := d.DecryptElementWithKey(ed, key)
		checkFuzzResult(t, got, err)
		if err == nil {
			// The standalone result must read back as the same element.
			if c := canonical(t, parseElement(t, string(testtools.Serialize(t, got)))); c != canonical(t, got) {
				t.Fatalf("decrypted element changes when re-read:\n%s\n%s", c, canonical(t, got))
			}
		}
	})
}

func checkFuzzResult(t *testing.T, got *etree.Element, err error) {
	t.Helper()
	if err != nil {
		var fault *soap.Fault
		if !errors.As(err, &fault) {
			t.Fatalf("non-fault error: %v", err)
		}
		if got != nil {
			t.Fatal("an element returned with an error")
		}
		return
	}
	if got == nil || got.Parent() != nil {
		t.Fatal("success without a detached element")
	}
}
