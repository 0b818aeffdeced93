package xmlsec

import (
	"crypto"
	"encoding/base64"
	"flag"
	"strings"
	"testing"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
	"github.com/trustbroker/trustbroker/internal/testtools"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

var (
	allDataAlgorithms = []DataAlgorithm{AES256GCM, AES128GCM, AES128CBC, AES192CBC, AES256CBC, TripleDESCBC}
	allKeyTransports  = []KeyTransport{RSAOAEP, RSAOAEPSHA256, RSA15}
)

// sampleResponse is a SAML 2.0 response whose assertion declares none of
// the namespaces it uses: saml2, xs and xsi (the latter two only inside
// xsi:type values and on an attribute) come from the Response.
const sampleResponse = `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ID="_r1" Version="2.0">` +
	`<saml2:Assertion ID="_a1" IssueInstant="2026-03-01T12:00:00.000Z" Version="2.0">` +
	`<saml2:Issuer>https://sts.example.org/</saml2:Issuer>` +
	`<saml2:Subject><saml2:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified">alice &amp; bob &lt;x&gt;</saml2:NameID></saml2:Subject>` +
	`<saml2:AttributeStatement><saml2:Attribute Name="role"><saml2:AttributeValue xsi:type="xs:string">admin</saml2:AttributeValue></saml2:Attribute></saml2:AttributeStatement>` +
	`</saml2:Assertion></samlp:Response>`

// sampleAssertion returns the assertion of sampleResponse, still inside its
// Response.
func sampleAssertion(t testing.TB) *etree.Element {
	t.Helper()
	return parseElement(t, sampleResponse).ChildElements()[0]
}

func recipientKey(t testing.TB) testtools.KeyPair {
	t.Helper()
	return newTestKey(t, "recipient-rsa2048", "rsa2048")
}

func decrypterFor(k testtools.KeyPair, policy EncryptionPolicy) *Decrypter {
	return &Decrypter{Key: k.Key.(crypto.Decrypter), Allowed: policy}
}

// allowAll admits every supported algorithm, rsa-1_5 included.
var allowAll = EncryptionPolicy{AllowRSA15: true}

// canonical is the inclusive C14N form of a standalone element: two
// elements with the same meaning compare equal whatever their attribute
// order or serialiser.
func canonical(t testing.TB, el *etree.Element) string {
	t.Helper()
	b, err := dsig.MakeC14N10RecCanonicalizer().Canonicalize(el.Copy())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// cipherValueOf returns the CipherValue element directly under el's
// CipherData.
func cipherValueOf(t testing.TB, el *etree.Element) *etree.Element {
	t.Helper()
	cd := childNS(t, el, NamespaceXEnc, "CipherData")
	return childNS(t, cd, NamespaceXEnc, "CipherValue")
}

func cipherOctets(t testing.TB, el *etree.Element) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(stripSpace(cipherValueOf(t, el).Text()))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func setCipherOctets(t testing.TB, el *etree.Element, b []byte) {
	t.Helper()
	cipherValueOf(t, el).SetText(base64.StdEncoding.EncodeToString(b))
}

func childNS(t testing.TB, el *etree.Element, space, local string) *etree.Element {
	t.Helper()
	for _, c := range el.ChildElements() {
		if c.Tag == local && c.NamespaceURI() == space {
			return c
		}
	}
	t.Fatalf("%s has no {%s}%s child", el.Tag, space, local)
	return nil
}

// encryptedKeyOf returns the EncryptedKey inside an EncryptedData's KeyInfo.
func encryptedKeyOf(t testing.TB, encData *etree.Element) *etree.Element {
	t.Helper()
	return childNS(t, childNS(t, encData, NamespaceDSig, "KeyInfo"), NamespaceXEnc, "EncryptedKey")
}

func shortName(d DataAlgorithm, k KeyTransport) string {
	return strings.Join([]string{string(d), string(k)}, "/")
}
