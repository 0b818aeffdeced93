package xmlsec

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/beevik/etree"
	"github.com/trustbroker/trustbroker/internal/testtools"
)

// TestEncryptDecryptRoundTrip encrypts the assertion with every data
// algorithm and key transport, reads the EncryptedData back from its
// serialised form, as a relying party does, and decrypts it.
func TestEncryptDecryptRoundTrip(t *testing.T) {
	k := recipientKey(t)
	d := decrypterFor(k, allowAll)
	for _, data := range allDataAlgorithms {
		for _, transport := range allKeyTransports {
			t.Run(shortName(data, transport), func(t *testing.T) {
				assertion := sampleAssertion(t)
				want := canonical(t, standaloneCopy(assertion))
				e := &Encrypter{Certificate: k.Cert, Data: data, KeyTransport: transport, AllowRSA15: transport == RSA15}
				encData, err := e.EncryptElement(assertion)
				if err != nil {
					t.Fatal(err)
				}
				received := parseElement(t, string(testtools.Serialize(t, encData)))
				checkEncryptedDataShape(t, received, data, transport)

				got, err := d.DecryptElement(received)
				if err != nil {
					t.Fatalf("DecryptElement: %v", err)
				}
				if c := canonical(t, got); c != want {
					t.Errorf("decrypted element differs\n got: %s\nwant: %s", c, want)
				}
			})
		}
	}
}

// checkEncryptedDataShape checks what a peer reads before decrypting: the
// algorithm URIs, the recipient certificate and the octet layout.
func checkEncryptedDataShape(t *testing.T, encData *etree.Element, data DataAlgorithm, transport KeyTransport) {
	t.Helper()
	if got := encData.SelectAttrValue("Type", ""); got != TypeElement {
		t.Errorf("Type = %q, want %q", got, TypeElement)
	}
	if got := childNS(t, encData, NamespaceXEnc, "EncryptionMethod").SelectAttrValue("Algorithm", ""); got != data.URI() {
		t.Errorf("data EncryptionMethod = %q, want %q", got, data.URI())
	}
	ek := encryptedKeyOf(t, encData)
	method := childNS(t, ek, NamespaceXEnc, "EncryptionMethod")
	if got := method.SelectAttrValue("Algorithm", ""); got != transport.URI() {
		t.Errorf("key EncryptionMethod = %q, want %q", got, transport.URI())
	}
	wantDigest := map[KeyTransport]string{RSAOAEP: URISHA1, RSAOAEPSHA256: URISHA256}[transport]
	var gotDigest, gotMGF string
	for _, c := range method.ChildElements() {
		switch {
		case c.Tag == "DigestMethod" && c.NamespaceURI() == NamespaceDSig:
			gotDigest = c.SelectAttrValue("Algorithm", "")
		case c.Tag == "MGF" && c.NamespaceURI() == NamespaceXEnc11:
			gotMGF = c.SelectAttrValue("Algorithm", "")
		}
	}
	if gotDigest != wantDigest {
		t.Errorf("OAEP DigestMethod = %q, want %q", gotDigest, wantDigest)
	}
	if wantMGF := map[KeyTransport]string{RSAOAEPSHA256: URIMGF1SHA256}[transport]; gotMGF != wantMGF {
		t.Errorf("OAEP MGF = %q, want %q", gotMGF, wantMGF)
	}
	certText := childNS(t, childNS(t, childNS(t, ek, NamespaceDSig, "KeyInfo"), NamespaceDSig, "X509Data"), NamespaceDSig, "X509Certificate").Text()
	if certText != base64.StdEncoding.EncodeToString(recipientKey(t).Cert.Raw) {
		t.Error("EncryptedKey KeyInfo does not carry the recipient certificate")
	}
	if n := len(cipherOctets(t, ek)); n != 256 {
		t.Errorf("wrapped key is %d octets, want 256 (RSA-2048)", n)
	}
	octets := cipherOctets(t, encData)
	if dataAlgorithms[data].gcm {
		if len(octets) < gcmNonceSize+gcmTagSize+len("<saml2:Assertion") {
			t.Errorf("GCM octets too short: %d", len(octets))
		}
		return
	}
	bs := 16
	if data == TripleDESCBC {
		bs = 8
	}
	if len(octets)%bs != 0 {
		t.Errorf("CBC octets (%d) are not whole %d-byte blocks", len(octets), bs)
	}
}

// TestEncryptElementKeepsInheritedNamespaces checks the plaintext itself:
// it must declare the namespaces the assertion inherited, including those
// used only in xsi:type values, and leave the original untouched.
func TestEncryptElementKeepsInheritedNamespaces(t *testing.T) {
	assertion := sampleAssertion(t)
	before := string(testtools.Serialize(t, assertion))
	plain, err := serializeStandalone(assertion)
	if err != nil {
		t.Fatal(err)
	}
	for _, decl := range []string{
		`xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion"`,
		`xmlns:xs="http://www.w3.org/2001/XMLSchema"`,
		`xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"`,
		`xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"`,
	} {
		if !bytes.Contains(plain, []byte(decl)) {
			t.Errorf("plaintext lacks %s:\n%s", decl, plain)
		}
	}
	if _, err := (&Encrypter{Certificate: recipientKey(t).Cert}).EncryptElement(assertion); err != nil {
		t.Fatal(err)
	}
	if after := string(testtools.Serialize(t, assertion)); after != before {
		t.Errorf("EncryptElement changed its input\nbefore: %s\n after: %s", before, after)
	}
}

func TestInheritedNamespaces(t *testing.T) {
	root := parseElement(t, `<a xmlns="urn:default" xmlns:p="urn:p1" xmlns:q="urn:q"><b xmlns="" xmlns:p="urn:p2"><c xmlns:q="urn:own"/></b></a>`)
	c := root.FindElement("b/c")
	var got []string
	for _, a := range inheritedNamespaces(c) {
		got = append(got, a.FullKey()+"="+a.Value)
	}
	// The nearest p wins, q is c's own, and xmlns="" means no default.
	if want := []string{"xmlns:p=urn:p2"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("inheritedNamespaces = %v, want %v", got, want)
	}
}

// TestEncryptKeyDecryptKey transports a proof key with each transport.
func TestEncryptKeyDecryptKey(t *testing.T) {
	k := recipientKey(t)
	proof := bytes.Repeat([]byte{0xA5, 0x5A}, 16)
	for _, transport := range allKeyTransports {
		t.Run(string(transport), func(t *testing.T) {
			e := &Encrypter{Certificate: k.Cert, KeyTransport: transport, AllowRSA15: transport == RSA15}
			ek, err := e.EncryptKey(proof)
			if err != nil {
				t.Fatal(err)
			}
			received := parseElement(t, string(testtools.Serialize(t, ek)))
			got, err := decrypterFor(k, allowAll).DecryptKey(received)
			if err != nil {
				t.Fatalf("DecryptKey: %v", err)
			}
			if !bytes.Equal(got, proof) {
				t.Errorf("DecryptKey = %x, want %x", got, proof)
			}
		})
	}
}

// TestRecipientKeyInfo checks each way of naming the recipient certificate.
func TestRecipientKeyInfo(t *testing.T) {
	k := recipientKey(t)
	thumb := sha1.Sum(k.Cert.Raw)
	tests := []struct {
		style RecipientKeyInfo
		path  string // etree path below KeyInfo
		want  string
	}{
		{KeyInfoCertificate, "X509Data/X509Certificate", base64.StdEncoding.EncodeToString(k.Cert.Raw)},
		{KeyInfoIssuerSerial, "X509Data/X509IssuerSerial/X509SerialNumber", k.Cert.SerialNumber.String()},
		{KeyInfoIssuerSerial, "X509Data/X509IssuerSerial/X509IssuerName", "CN=recipient-rsa2048"},
		{KeyInfoThumbprint, "SecurityTokenReference/KeyIdentifier", base64.StdEncoding.EncodeToString(thumb[:])},
	}
	for _, tt := range tests {
		t.Run(string(tt.style)+"/"+tt.path, func(t *testing.T) {
			ek, err := (&Encrypter{Certificate: k.Cert, KeyInfo: tt.style}).EncryptKey(make([]byte, 32))
			if err != nil {
				t.Fatal(err)
			}
			ek = parseElement(t, string(testtools.Serialize(t, ek)))
			el := childNS(t, ek, NamespaceDSig, "KeyInfo").FindElement(tt.path)
			if el == nil {
				t.Fatalf("no %s in KeyInfo:\n%s", tt.path, testtools.Serialize(t, ek))
			}
			if el.Text() != tt.want {
				t.Errorf("%s = %q, want %q", tt.path, el.Text(), tt.want)
			}
		})
	}
	t.Run("SKI", func(t *testing.T) {
		cert := *k.Cert
		cert.SubjectKeyId = []byte{1, 2, 3, 4}
		ek, err := (&Encrypter{Certificate: &cert, KeyInfo: KeyInfoSKI}).EncryptKey(make([]byte, 32))
		if err != nil {
			t.Fatal(err)
		}
		if got := ek.FindElement("KeyInfo/X509Data/X509SKI").Text(); got != "AQIDBA==" {
			t.Errorf("X509SKI = %q", got)
		}
	})
}

// TestEncrypterRefusesBadConfiguration covers the configuration mistakes
// an Encrypter must not paper over.
func TestEncrypterRefusesBadConfiguration(t *testing.T) {
	k := recipientKey(t)
	small := newTestKey(t, "recipient-rsa1024", "rsa1024")
	ec := newTestKey(t, "recipient-p256", "p256")
	tests := []struct {
		name string
		e    Encrypter
		want string
	}{
		{"rsa-1_5 without opt-in", Encrypter{Certificate: k.Cert, KeyTransport: RSA15}, "rsa-1_5 key transport is not allowed"},
		{"no certificate", Encrypter{}, "no recipient certificate"},
		{"ECDSA certificate", Encrypter{Certificate: ec.Cert}, "key transport needs RSA"},
		{"RSA-1024 certificate", Encrypter{Certificate: small.Cert}, "1024 bits"},
		{"unknown data algorithm", Encrypter{Certificate: k.Cert, Data: "aes192-gcm"}, "unknown data encryption algorithm"},
		{"unknown key transport", Encrypter{Certificate: k.Cert, KeyTransport: "rsa-oaep-md5"}, "unknown key transport"},
		{"SKI missing", Encrypter{Certificate: k.Cert, KeyInfo: KeyInfoSKI}, "no subject key identifier"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.e.EncryptElement(sampleAssertion(t)); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("EncryptElement error = %v, want one containing %q", err, tt.want)
			}
			if _, err := tt.e.EncryptKey(make([]byte, 32)); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("EncryptKey error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestParseEncryptionNames(t *testing.T) {
	for _, tt := range []struct {
		in   string
		data DataAlgorithm
		ok   bool
	}{
		{"", AES256GCM, true},
		{" AES128-GCM ", AES128GCM, true},
		{"tripledes-cbc", TripleDESCBC, true},
		{"aes192-gcm", "", false},
	} {
		got, err := ParseDataAlgorithm(tt.in)
		if (err == nil) != tt.ok || got != tt.data {
			t.Errorf("ParseDataAlgorithm(%q) = %q, %v", tt.in, got, err)
		}
	}
	for _, tt := range []struct {
		in string
		kt KeyTransport
		ok bool
	}{
		{"", RSAOAEP, true},
		{"rsa-oaep-sha256", RSAOAEPSHA256, true},
		{"RSA-1_5", RSA15, true},
		{"rsa-oaep-mgf1p", "", false},
	} {
		got, err := ParseKeyTransport(tt.in)
		if (err == nil) != tt.ok || got != tt.kt {
			t.Errorf("ParseKeyTransport(%q) = %q, %v", tt.in, got, err)
		}
	}
	if p := (EncryptionPolicy{KeyTransports: []KeyTransport{RSA15}}); p.AllowsKeyTransport(RSA15) {
		t.Error("listing rsa-1_5 without AllowRSA15 must not allow it")
	}
	if p := (EncryptionPolicy{}); !p.AllowsKeyTransport(RSAOAEP) || !p.AllowsKeyTransport(RSAOAEPSHA256) || p.AllowsKeyTransport(RSA15) {
		t.Error("the zero policy must allow both OAEP transports and refuse rsa-1_5")
	}
}

// masked replaces the values that change on every run (keys, IVs,
// certificates, serial numbers) so that the golden files pin the shape.
var masked = regexp.MustCompile(`(<(?:xenc:CipherValue|ds:X509Certificate|ds:X509SerialNumber|wsse:KeyIdentifier)[^>]*>)[^<]*(<)`)

// TestEncryptedShapeGolden pins the XML a relying party receives.
func TestEncryptedShapeGolden(t *testing.T) {
	k := recipientKey(t)
	tests := []struct {
		name string
		make func() (*etree.Element, error)
	}{
		{"encrypteddata-aes256gcm-rsaoaep", func() (*etree.Element, error) {
			return (&Encrypter{Certificate: k.Cert}).EncryptElement(sampleAssertion(t))
		}},
		{"encrypteddata-aes128cbc-rsaoaepsha256", func() (*etree.Element, error) {
			return (&Encrypter{Certificate: k.Cert, Data: AES128CBC, KeyTransport: RSAOAEPSHA256}).EncryptElement(sampleAssertion(t))
		}},
		{"encryptedkey-rsaoaep-thumbprint", func() (*etree.Element, error) {
			return (&Encrypter{Certificate: k.Cert, KeyInfo: KeyInfoThumbprint}).EncryptKey(make([]byte, 32))
		}},
		{"encryptedkey-rsa15-issuerserial", func() (*etree.Element, error) {
			return (&Encrypter{Certificate: k.Cert, KeyTransport: RSA15, AllowRSA15: true, KeyInfo: KeyInfoIssuerSerial}).EncryptKey(make([]byte, 32))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			el, err := tt.make()
			if err != nil {
				t.Fatal(err)
			}
			doc := etree.NewDocument()
			doc.SetRoot(el)
			doc.Indent(2)
			out, err := doc.WriteToBytes()
			if err != nil {
				t.Fatal(err)
			}
			got := masked.ReplaceAll(out, []byte("${1}…${2}"))
			testtools.Golden(t, filepath.Join("testdata", "golden", tt.name+".xml"), got, *update)
		})
	}
}
