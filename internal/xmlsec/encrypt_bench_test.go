package xmlsec

import (
	"fmt"
	"strings"
	"testing"

	"github.com/beevik/etree"
	"github.com/trustbroker/trustbroker/internal/testtools"
)

// Encrypting a token for a relying party costs one RSA public-key
// operation plus AES over the serialised assertion; decrypting one costs an
// RSA private-key operation. Compare with the signing benchmarks:
//
//	go test -run '^$' -bench 'Assertion' ./internal/xmlsec/ ./internal/saml/

// benchAssertion is a SAML 2.0 assertion of about 4 KiB: the size of a
// signed token with eighteen attributes.
func benchAssertion(b *testing.B) *etree.Element {
	b.Helper()
	var attrs strings.Builder
	for i := range 18 {
		fmt.Fprintf(&attrs, `<saml2:Attribute Name="http://schemas.example.org/claims/attribute-%02d"><saml2:AttributeValue xsi:type="xs:string">value %02d for the relying party</saml2:AttributeValue></saml2:Attribute>`, i, i)
	}
	doc := strings.Replace(sampleResponse, `</saml2:AttributeStatement>`, attrs.String()+`</saml2:AttributeStatement>`, 1)
	el := parseElement(b, doc).ChildElements()[0]
	plain, err := serializeStandalone(el)
	if err != nil {
		b.Fatal(err)
	}
	if n := len(plain); n < 3800 || n > 4400 {
		b.Fatalf("benchmark assertion is %d bytes, want about 4 KiB", n)
	}
	return el
}

// BenchmarkEncryptAssertion encrypts a 4 KiB assertion with aes256-gcm and
// rsa-oaep and serialises the EncryptedData.
func BenchmarkEncryptAssertion(b *testing.B) {
	el := benchAssertion(b)
	e := &Encrypter{Certificate: recipientKey(b).Cert, Data: AES256GCM, KeyTransport: RSAOAEP}
	b.ReportAllocs()
	for b.Loop() {
		ed, err := e.EncryptElement(el)
		if err != nil {
			b.Fatal(err)
		}
		testtools.Serialize(b, ed)
	}
}

// BenchmarkDecryptAssertion decrypts and parses the same assertion.
func BenchmarkDecryptAssertion(b *testing.B) {
	el := benchAssertion(b)
	k := recipientKey(b)
	ed, err := (&Encrypter{Certificate: k.Cert}).EncryptElement(el)
	if err != nil {
		b.Fatal(err)
	}
	ed = parseElement(b, string(testtools.Serialize(b, ed)))
	d := decrypterFor(k, EncryptionPolicy{})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.DecryptElement(ed); err != nil {
			b.Fatal(err)
		}
	}
}
