package xmlsec

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/testtools"
)

// encryptSample encrypts the sample assertion and returns the EncryptedData
// as a receiver parses it.
func encryptSample(t testing.TB, data DataAlgorithm, transport KeyTransport) *etree.Element {
	t.Helper()
	e := &Encrypter{Certificate: recipientKey(t).Cert, Data: data, KeyTransport: transport, AllowRSA15: transport == RSA15}
	encData, err := e.EncryptElement(sampleAssertion(t))
	if err != nil {
		t.Fatal(err)
	}
	return parseElement(t, string(testtools.Serialize(t, encData)))
}

// encryptedDataWithKey builds an EncryptedData around octets that the test
// made itself, for DecryptElementWithKey.
func encryptedDataWithKey(t testing.TB, data DataAlgorithm, octets []byte) *etree.Element {
	t.Helper()
	ed := parseElement(t, `<xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" Type="http://www.w3.org/2001/04/xmlenc#Element">`+
		`<xenc:EncryptionMethod Algorithm="`+data.URI()+`"/><xenc:CipherData><xenc:CipherValue/></xenc:CipherData></xenc:EncryptedData>`)
	setCipherOctets(t, ed, octets)
	return ed
}

func mustEncryptData(t testing.TB, data DataAlgorithm, key []byte, plain string) []byte {
	t.Helper()
	octets, err := encryptData(data, key, []byte(plain))
	if err != nil {
		t.Fatal(err)
	}
	return octets
}

// cbcWithLastByte encrypts one block under AES-128-CBC whose last
// plaintext byte is last, bypassing the padding encryptData applies.
func cbcWithLastByte(t testing.TB, key []byte, last byte) []byte {
	t.Helper()
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, 32)
	if _, err := rand.Read(out[:16]); err != nil {
		t.Fatal(err)
	}
	copy(out[16:], "<a/>            ")
	out[31] = last
	cipher.NewCBCEncrypter(block, out[:16]).CryptBlocks(out[16:], out[16:])
	return out
}

// TestDecryptFailures gives each kind of bad input and checks its fault:
// the code, and for failures after key transport the one shared reason.
func TestDecryptFailures(t *testing.T) {
	k := recipientKey(t)
	other := newTestKey(t, "other-rsa2048", "rsa2048")
	aesKey := make([]byte, 16)
	if _, err := rand.Read(aesKey); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		input  func(t *testing.T) *etree.Element
		key    []byte // DecryptElementWithKey when set
		d      *Decrypter
		code   soap.FaultCode
		reason string // substring; decryptionFailed for FailedCheck
		cause  error  // errors.Is on the fault, when set
	}{
		{
			name:  "wrong private key",
			input: func(t *testing.T) *etree.Element { return encryptSample(t, AES256GCM, RSAOAEP) },
			d:     decrypterFor(other, EncryptionPolicy{}),
			code:  soap.FailedCheck, reason: decryptionFailed, cause: errKeyDecryption,
		},
		{
			name: "tampered GCM tag",
			input: func(t *testing.T) *etree.Element {
				ed := encryptSample(t, AES256GCM, RSAOAEP)
				octets := cipherOctets(t, ed)
				octets[len(octets)-1] ^= 0x01
				setCipherOctets(t, ed, octets)
				return ed
			},
			code: soap.FailedCheck, reason: decryptionFailed, cause: errDataDecryption,
		},
		{
			name: "tampered GCM ciphertext",
			input: func(t *testing.T) *etree.Element {
				ed := encryptSample(t, AES128GCM, RSAOAEPSHA256)
				octets := cipherOctets(t, ed)
				octets[gcmNonceSize] ^= 0x80
				setCipherOctets(t, ed, octets)
				return ed
			},
			code: soap.FailedCheck, reason: decryptionFailed, cause: errDataDecryption,
		},
		{
			name: "tampered CBC IV, plaintext no longer parses",
			input: func(t *testing.T) *etree.Element {
				ed := encryptSample(t, AES256CBC, RSAOAEP)
				octets := cipherOctets(t, ed)
				octets[0] ^= '<' ^ 'x' // first plaintext byte '<' becomes 'x'
				setCipherOctets(t, ed, octets)
				return ed
			},
			code: soap.FailedCheck, reason: decryptionFailed,
		},
		{
			name: "CBC padding byte zero",
			input: func(t *testing.T) *etree.Element {
				return encryptedDataWithKey(t, AES128CBC, cbcWithLastByte(t, aesKey, 0))
			},
			key:  aesKey,
			code: soap.FailedCheck, reason: decryptionFailed, cause: errDataDecryption,
		},
		{
			name: "CBC padding longer than a block",
			input: func(t *testing.T) *etree.Element {
				return encryptedDataWithKey(t, AES128CBC, cbcWithLastByte(t, aesKey, 17))
			},
			key:  aesKey,
			code: soap.FailedCheck, reason: decryptionFailed, cause: errDataDecryption,
		},
		{
			name: "transported key too short for the data algorithm",
			input: func(t *testing.T) *etree.Element {
				ed := encryptSample(t, AES256GCM, RSAOAEP)
				short, err := (&Encrypter{Certificate: k.Cert}).EncryptKey(make([]byte, 16))
				if err != nil {
					t.Fatal(err)
				}
				ki := childNS(t, ed, NamespaceDSig, "KeyInfo")
				ki.RemoveChild(encryptedKeyOf(t, ed))
				ki.AddChild(short)
				return ed
			},
			code: soap.FailedCheck, reason: decryptionFailed, cause: errDataDecryption,
		},
		{
			name:  "caller's key has the wrong size",
			input: func(t *testing.T) *etree.Element { return encryptedDataWithKey(t, AES256GCM, make([]byte, 64)) },
			key:   aesKey,
			code:  soap.FailedCheck, reason: decryptionFailed, cause: errDataDecryption,
		},
		{
			name: "DTD in the plaintext",
			input: func(t *testing.T) *etree.Element {
				return encryptedDataWithKey(t, AES128CBC, mustEncryptData(t, AES128CBC, aesKey, `<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>`))
			},
			key:  aesKey,
			code: soap.FailedCheck, reason: decryptionFailed, cause: soap.ErrDTD,
		},
		{
			name: "processing instruction in the plaintext",
			input: func(t *testing.T) *etree.Element {
				return encryptedDataWithKey(t, AES128CBC, mustEncryptData(t, AES128CBC, aesKey, `<?xml version="1.0"?><a/>`))
			},
			key:  aesKey,
			code: soap.FailedCheck, reason: decryptionFailed, cause: soap.ErrProcInst,
		},
		{
			name: "plaintext closes the element it replaces",
			input: func(t *testing.T) *etree.Element {
				return encryptedDataWithKey(t, AES128CBC, mustEncryptData(t, AES128CBC, aesKey, `<a/></plaintext><plaintext><b/>`))
			},
			key:  aesKey,
			code: soap.FailedCheck, reason: decryptionFailed,
		},
		{
			name: "plaintext deeper than the limit",
			input: func(t *testing.T) *etree.Element {
				return encryptedDataWithKey(t, AES128CBC, mustEncryptData(t, AES128CBC, aesKey, strings.Repeat("<a>", 70)+strings.Repeat("</a>", 70)))
			},
			key:  aesKey,
			code: soap.FailedCheck, reason: decryptionFailed, cause: soap.ErrTooDeep,
		},
		{
			name: "plaintext uses an undeclared prefix",
			input: func(t *testing.T) *etree.Element {
				return encryptedDataWithKey(t, AES128CBC, mustEncryptData(t, AES128CBC, aesKey, `<p:a/>`))
			},
			key:  aesKey,
			code: soap.FailedCheck, reason: decryptionFailed,
		},
		{
			name: "plaintext is two elements",
			input: func(t *testing.T) *etree.Element {
				return encryptedDataWithKey(t, AES128CBC, mustEncryptData(t, AES128CBC, aesKey, `<a/><b/>`))
			},
			key:  aesKey,
			code: soap.FailedCheck, reason: decryptionFailed,
		},
		{
			name: "unsupported data algorithm",
			input: func(t *testing.T) *etree.Element {
				ed := encryptSample(t, AES256GCM, RSAOAEP)
				childNS(t, ed, NamespaceXEnc, "EncryptionMethod").CreateAttr("Algorithm", NamespaceXEnc11+"aes192-gcm")
				return ed
			},
			code: soap.UnsupportedAlgorithm, reason: "data encryption algorithm not allowed",
		},
		{
			name:  "data algorithm outside the policy",
			input: func(t *testing.T) *etree.Element { return encryptSample(t, TripleDESCBC, RSAOAEP) },
			d:     decrypterFor(k, EncryptionPolicy{Data: []DataAlgorithm{AES256GCM, AES128GCM}}),
			code:  soap.UnsupportedAlgorithm, reason: "data encryption algorithm not allowed",
		},
		{
			name:  "rsa-1_5 without the opt-in",
			input: func(t *testing.T) *etree.Element { return encryptSample(t, AES256GCM, RSA15) },
			d:     decrypterFor(k, EncryptionPolicy{KeyTransports: []KeyTransport{RSA15}}),
			code:  soap.UnsupportedAlgorithm, reason: "rsa-1_5 key transport is not allowed",
		},
		{
			name:  "key transport outside the policy",
			input: func(t *testing.T) *etree.Element { return encryptSample(t, AES256GCM, RSAOAEP) },
			d:     decrypterFor(k, EncryptionPolicy{KeyTransports: []KeyTransport{RSAOAEPSHA256}}),
			code:  soap.UnsupportedAlgorithm, reason: "key transport algorithm not allowed",
		},
		{
			name: "unknown key transport",
			input: func(t *testing.T) *etree.Element {
				ed := encryptSample(t, AES256GCM, RSAOAEP)
				childNS(t, encryptedKeyOf(t, ed), NamespaceXEnc, "EncryptionMethod").CreateAttr("Algorithm", NamespaceXEnc+"kw-aes256")
				return ed
			},
			code: soap.UnsupportedAlgorithm, reason: "key transport algorithm not supported",
		},
		{
			name: "unsupported OAEP digest",
			input: func(t *testing.T) *etree.Element {
				ed := encryptSample(t, AES256GCM, RSAOAEP)
				method := childNS(t, encryptedKeyOf(t, ed), NamespaceXEnc, "EncryptionMethod")
				childNS(t, method, NamespaceDSig, "DigestMethod").CreateAttr("Algorithm", "http://www.w3.org/2001/04/xmldsig-more#md5")
				return ed
			},
			code: soap.UnsupportedAlgorithm, reason: "DigestMethod not supported",
		},
		{
			name: "unsupported MGF",
			input: func(t *testing.T) *etree.Element {
				ed := encryptSample(t, AES256GCM, RSAOAEPSHA256)
				method := childNS(t, encryptedKeyOf(t, ed), NamespaceXEnc, "EncryptionMethod")
				childNS(t, method, NamespaceXEnc11, "MGF").CreateAttr("Algorithm", NamespaceXEnc11+"mgf1md5")
				return ed
			},
			code: soap.UnsupportedAlgorithm, reason: "MGF not supported",
		},
		{
			name: "malformed base64",
			input: func(t *testing.T) *etree.Element {
				ed := encryptSample(t, AES256GCM, RSAOAEP)
				cipherValueOf(t, ed).SetText("not*base64")
				return ed
			},
			code: soap.InvalidSecurity, reason: "not valid base64",
		},
		{
			name: "malformed base64 in the EncryptedKey",
			input: func(t *testing.T) *etree.Element {
				ed := encryptSample(t, AES256GCM, RSAOAEP)
				cipherValueOf(t, encryptedKeyOf(t, ed)).SetText("QUJD=")
				return ed
			},
			code: soap.InvalidSecurity, reason: "not valid base64",
		},
		{
			name:  "ciphertext over the size limit",
			input: func(t *testing.T) *etree.Element { return encryptSample(t, AES256GCM, RSAOAEP) },
			d:     &Decrypter{Key: rsaKey(t, k), Limits: soap.Limits{MaxBytes: 256}},
			code:  soap.InvalidSecurity, reason: "too large",
		},
		{
			name: "CipherReference",
			input: func(t *testing.T) *etree.Element {
				ed := encryptSample(t, AES256GCM, RSAOAEP)
				cd := childNS(t, ed, NamespaceXEnc, "CipherData")
				cd.RemoveChild(cipherValueOf(t, ed))
				cd.CreateElement("xenc:CipherReference").CreateAttr("URI", "http://169.254.169.254/latest/meta-data/")
				return ed
			},
			code: soap.InvalidSecurity, reason: "cipher references are not supported",
		},
		{
			name: "no EncryptedKey",
			input: func(t *testing.T) *etree.Element {
				ed := encryptSample(t, AES256GCM, RSAOAEP)
				ed.RemoveChild(childNS(t, ed, NamespaceDSig, "KeyInfo"))
				return ed
			},
			code: soap.InvalidSecurity, reason: "no encrypted key",
		},
		{
			name: "an encrypted type other than element or content",
			input: func(t *testing.T) *etree.Element {
				ed := encryptSample(t, AES256GCM, RSAOAEP)
				ed.CreateAttr("Type", "http://www.w3.org/2001/04/xmlenc#EncryptedKey")
				return ed
			},
			code: soap.InvalidSecurity, reason: "only encrypted elements and single-element content",
		},
		{
			name: "KeySize contradicting the algorithm",
			input: func(t *testing.T) *etree.Element {
				ed := encryptSample(t, AES256GCM, RSAOAEP)
				childNS(t, ed, NamespaceXEnc, "EncryptionMethod").CreateElement("xenc:KeySize").SetText("128")
				return ed
			},
			code: soap.InvalidSecurity, reason: "malformed",
		},
		{
			name:  "not an EncryptedData",
			input: func(t *testing.T) *etree.Element { return parseElement(t, `<EncryptedData xmlns="urn:other"/>`) },
			code:  soap.InvalidSecurity, reason: "expected an EncryptedData",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.d
			if d == nil {
				d = decrypterFor(k, EncryptionPolicy{})
			}
			var err error
			if tt.key != nil {
				_, err = d.DecryptElementWithKey(tt.input(t), tt.key)
			} else {
				_, err = d.DecryptElement(tt.input(t))
			}
			var f *soap.Fault
			if !errors.As(err, &f) {
				t.Fatalf("error = %v, want a *soap.Fault", err)
			}
			if f.Code != tt.code {
				t.Errorf("code = %s, want %s (%v)", f.Code.Local, tt.code.Local, err)
			}
			if tt.code == soap.FailedCheck && f.Reason != decryptionFailed {
				t.Errorf("reason = %q: every decryption failure must read %q", f.Reason, decryptionFailed)
			}
			if !strings.Contains(f.Reason, tt.reason) {
				t.Errorf("reason = %q, want it to contain %q", f.Reason, tt.reason)
			}
			if tt.cause != nil && !errors.Is(err, tt.cause) {
				t.Errorf("cause = %v, want %v", f.Cause, tt.cause)
			}
		})
	}
}

// TestDecryptRSA15OptIn shows both sides of the opt-in: refused by the
// default policy, accepted with AllowRSA15.
func TestDecryptRSA15OptIn(t *testing.T) {
	k := recipientKey(t)
	ed := encryptSample(t, AES128CBC, RSA15)
	if _, err := decrypterFor(k, EncryptionPolicy{}).DecryptElement(ed); !isFault(err, soap.UnsupportedAlgorithm) {
		t.Errorf("default policy: error = %v, want UnsupportedAlgorithm", err)
	}
	if _, err := decrypterFor(k, EncryptionPolicy{AllowRSA15: true}).DecryptElement(ed); err != nil {
		t.Errorf("with AllowRSA15: %v", err)
	}
	ek, err := (&Encrypter{Certificate: k.Cert, KeyTransport: RSA15, AllowRSA15: true}).EncryptKey(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decrypterFor(k, EncryptionPolicy{}).DecryptKey(ek); !isFault(err, soap.UnsupportedAlgorithm) {
		t.Errorf("DecryptKey, default policy: error = %v, want UnsupportedAlgorithm", err)
	}
	// A wrong key must not tell a padding failure from a bad key: with
	// rsa-1_5 the unwrapped key is random and data decryption fails.
	other := newTestKey(t, "other-rsa2048", "rsa2048")
	_, err = decrypterFor(other, allowAll).DecryptElement(ed)
	if !isFault(err, soap.FailedCheck) || !errors.Is(err, errDataDecryption) && !errors.Is(err, errKeyDecryption) {
		t.Errorf("rsa-1_5 with the wrong key: %v", err)
	}
}

func TestDecryptKeyFailures(t *testing.T) {
	k := recipientKey(t)
	ek, err := (&Encrypter{Certificate: k.Cert}).EncryptKey(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	other := newTestKey(t, "other-rsa2048", "rsa2048")
	if _, err := decrypterFor(other, EncryptionPolicy{}).DecryptKey(ek); !isFault(err, soap.FailedCheck) {
		t.Errorf("wrong key: %v, want FailedCheck", err)
	}
	if _, err := (&Decrypter{}).DecryptKey(ek); !isFault(err, soap.Receiver) {
		t.Errorf("no key configured: %v, want Receiver", err)
	}
	ec := newTestKey(t, "recipient-p256", "p256")
	if _, err := (&Decrypter{Key: decrypterOf(t, ec)}).DecryptKey(ek); err == nil {
		t.Error("an ECDSA key must be refused")
	}
}

// TestDecryptFindsEncryptedKeyBesideData covers SAML 2.0's layout, where
// EncryptedKey is a sibling of EncryptedData inside EncryptedAssertion,
// referenced by RetrievalMethod or not referenced at all.
func TestDecryptFindsEncryptedKeyBesideData(t *testing.T) {
	k := recipientKey(t)
	want := canonical(t, standaloneCopy(sampleAssertion(t)))
	for _, retrieval := range []bool{true, false} {
		name := "no KeyInfo"
		if retrieval {
			name = "RetrievalMethod"
		}
		t.Run(name, func(t *testing.T) {
			ed := encryptSample(t, AES256GCM, RSAOAEP)
			inner := encryptedKeyOf(t, ed)
			ek := standaloneCopy(inner) // keeps the xenc and ds declarations
			ki := childNS(t, ed, NamespaceDSig, "KeyInfo")
			ki.RemoveChild(inner)
			ek.CreateAttr("Id", "_k1")
			if retrieval {
				rm := ki.CreateElement("ds:RetrievalMethod")
				rm.CreateAttr("Type", typeEncryptedKey)
				rm.CreateAttr("URI", "#_k1")
			} else {
				ed.RemoveChild(ki)
			}
			wrapper := parseElement(t, `<saml2:EncryptedAssertion xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion"/>`)
			wrapper.AddChild(ed)
			wrapper.AddChild(ek)
			wrapper = parseElement(t, string(testtools.Serialize(t, wrapper)))

			got, err := decrypterFor(k, EncryptionPolicy{}).DecryptElement(wrapper.ChildElements()[0])
			if err != nil {
				t.Fatal(err)
			}
			if c := canonical(t, got); c != want {
				t.Errorf("got %s\nwant %s", c, want)
			}
		})
	}
}

// TestDecryptResolvesInheritedNamespaces decrypts plaintext that, as other
// implementations write it, relies on namespaces declared around the
// EncryptedData.
func TestDecryptResolvesInheritedNamespaces(t *testing.T) {
	key := make([]byte, 16)
	outer := parseElement(t, `<r:Root xmlns:r="urn:r" xmlns:s="urn:s" xmlns:xs="http://www.w3.org/2001/XMLSchema"/>`)
	ed := encryptedDataWithKey(t, AES128GCM, mustEncryptData(t, AES128GCM, key, `<s:A><s:B xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xs:string">v</s:B></s:A>`))
	outer.AddChild(ed)
	outer = parseElement(t, string(testtools.Serialize(t, outer)))

	got, err := decrypterFor(recipientKey(t), EncryptionPolicy{}).DecryptElementWithKey(outer.ChildElements()[0], key)
	if err != nil {
		t.Fatal(err)
	}
	if got.Parent() != nil {
		t.Error("the decrypted element must be detached")
	}
	if got.NamespaceURI() != "urn:s" {
		t.Errorf("namespace = %q, want urn:s", got.NamespaceURI())
	}
	reread := parseElement(t, string(testtools.Serialize(t, got)))
	if v := reread.SelectAttrValue("xmlns:xs", ""); v != "http://www.w3.org/2001/XMLSchema" {
		t.Errorf("standalone copy lacks xmlns:xs: %s", testtools.Serialize(t, got))
	}
	if b := reread.ChildElements()[0]; b.NamespaceURI() != "urn:s" || b.Text() != "v" {
		t.Errorf("child read back as {%s}%s %q", b.NamespaceURI(), b.Tag, b.Text())
	}
}

// TestDecryptTriesEachEncryptedKey accepts data encrypted for several
// recipients, ours not first, and bounds how many keys it tries.
func TestDecryptTriesEachEncryptedKey(t *testing.T) {
	k := recipientKey(t)
	other := newTestKey(t, "other-rsa2048", "rsa2048")
	ed := encryptSample(t, AES256GCM, RSAOAEP)
	// A second EncryptedKey, for someone else, first in KeyInfo, and with
	// a transport our policy refuses: it must be passed over, not fatal.
	foreign, err := (&Encrypter{Certificate: other.Cert, KeyTransport: RSA15, AllowRSA15: true}).EncryptKey(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	ki := childNS(t, ed, NamespaceDSig, "KeyInfo")
	ki.InsertChildAt(0, foreign)
	if _, err := decrypterFor(k, EncryptionPolicy{}).DecryptElement(parseElement(t, string(testtools.Serialize(t, ed)))); err != nil {
		t.Errorf("DecryptElement: %v", err)
	}
	for range maxEncryptedKeys {
		ki.AddChild(foreign.Copy())
	}
	if _, err := decrypterFor(k, EncryptionPolicy{}).DecryptElement(ed); !isFault(err, soap.InvalidSecurity) {
		t.Errorf("with %d EncryptedKeys: %v, want InvalidSecurity", maxEncryptedKeys+2, err)
	}
}

func isFault(err error, code soap.FaultCode) bool {
	c, ok := faultCode(err)
	return ok && c == code
}

func rsaKey(t testing.TB, k testtools.KeyPair) *rsa.PrivateKey {
	t.Helper()
	key, ok := k.Key.(*rsa.PrivateKey)
	if !ok {
		t.Fatalf("%T is not an RSA key", k.Key)
	}
	return key
}

// notRSADecrypter is a crypto.Decrypter with a non-RSA public key, such as
// an HSM handle for an EC key.
type notRSADecrypter struct{ crypto.Signer }

func (notRSADecrypter) Decrypt(io.Reader, []byte, crypto.DecrypterOpts) ([]byte, error) {
	return nil, errors.New("not reached")
}

func decrypterOf(t testing.TB, k testtools.KeyPair) crypto.Decrypter {
	t.Helper()
	return notRSADecrypter{k.Key}
}

// TestMalformedPlaintextNotQuoted: when decrypted octets do not parse, the
// error (which reaches the log) says so without quoting them, and is the
// same data-decryption failure as any other.
func TestMalformedPlaintextNotQuoted(t *testing.T) {
	key := make([]byte, 16)
	d := decrypterFor(recipientKey(t), EncryptionPolicy{})
	outer := parseElement(t, `<r:Root xmlns:r="urn:r"/>`)
	for _, plain := range []string{"<a>&Sup3rS3cret</a>", "<a>Sup3rS3cret</b>", "<p:Sup3rS3cret/>", `<a p:Sup3rS3cret="x"/>`} {
		octets, err := encryptData(AES128GCM, key, []byte(plain))
		if err != nil {
			t.Fatal(err)
		}
		ed := encryptedDataWithKey(t, AES128GCM, octets)
		outer.AddChild(ed)
		_, err = d.DecryptElementWithKey(ed, key)
		outer.RemoveChild(ed)
		if !errors.Is(err, errDataDecryption) || strings.Contains(err.Error(), "Sup3rS3cret") {
			t.Errorf("%q: %v; want a data-decryption failure that quotes nothing", plain, err)
		}
	}
}
