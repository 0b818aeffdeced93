package xmlsec

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha1" // a certificate thumbprint names the key, it protects nothing
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/soap"
)

// Prefixes of the elements the encrypter writes.
const (
	xencPrefix   = "xenc"
	xenc11Prefix = "xenc11"
	wssePrefix   = "wsse"
)

// WS-Security names of a thumbprint reference (WSS SOAP Message Security
// 1.1 §7.2, X.509 Token Profile 1.1 §3.2).
const (
	namespaceWSSE           = soap.NamespaceSecext
	valueTypeThumbprintSHA1 = "http://docs.oasis-open.org/wss/oasis-wss-soap-message-security-1.1#ThumbprintSHA1"
	encodingTypeBase64      = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
)

// RecipientKeyInfo says how the KeyInfo of an EncryptedKey names the
// recipient's certificate.
type RecipientKeyInfo string

// Ways of naming the recipient certificate.
const (
	// KeyInfoCertificate sends the whole certificate in
	// X509Data/X509Certificate, as CXF and WSS4J do by default.
	KeyInfoCertificate RecipientKeyInfo = ""
	// KeyInfoIssuerSerial sends X509Data/X509IssuerSerial.
	KeyInfoIssuerSerial RecipientKeyInfo = "IssuerSerial"
	// KeyInfoSKI sends X509Data/X509SKI; the certificate must carry a
	// subject key identifier.
	KeyInfoSKI RecipientKeyInfo = "SKI"
	// KeyInfoThumbprint sends a WS-Security SecurityTokenReference with a
	// ThumbprintSHA1 KeyIdentifier, as WCF and AD FS do.
	KeyInfoThumbprint RecipientKeyInfo = "Thumbprint"
)

// Encrypter encrypts for one recipient certificate. The zero values of
// Data and KeyTransport mean aes256-gcm and rsa-oaep. An Encrypter holds no
// state between calls and is safe for concurrent use.
type Encrypter struct {
	// Certificate is the recipient's; its RSA key (at least MinRSABits)
	// encrypts the data key.
	Certificate *x509.Certificate
	// Data is the algorithm that encrypts the content.
	Data DataAlgorithm
	// KeyTransport is the algorithm that encrypts the data key.
	KeyTransport KeyTransport
	// AllowRSA15 must be set to use rsa-1_5.
	AllowRSA15 bool
	// KeyInfo says how the recipient certificate is named.
	KeyInfo RecipientKeyInfo
}

// EncryptElement encrypts el (a standalone copy of it that declares every
// namespace el inherits) and returns an xenc:EncryptedData of Type Element
// whose ds:KeyInfo holds the xenc:EncryptedKey of a fresh data key. el is
// not changed; the caller puts the result in its place, e.g. inside
// saml2:EncryptedAssertion or instead of a SAML 1.1 assertion.
func (e *Encrypter) EncryptElement(el *etree.Element) (*etree.Element, error) {
	if el == nil {
		return nil, errors.New("xmlsec: no element to encrypt")
	}
	data, transport, pub, err := e.settings()
	if err != nil {
		return nil, err
	}
	plain, err := serializeStandalone(el)
	if err != nil {
		return nil, fmt.Errorf("xmlsec: serialising the element to encrypt: %w", err)
	}
	key, err := newDataKey(data)
	if err != nil {
		return nil, fmt.Errorf("xmlsec: %w", err)
	}
	encKey, err := e.encryptedKey(transport, pub, key)
	if err != nil {
		return nil, err
	}
	octets, err := encryptData(data, key, plain)
	if err != nil {
		return nil, fmt.Errorf("xmlsec: encrypting with %s: %w", data, err)
	}

	ed := &etree.Element{Space: xencPrefix, Tag: "EncryptedData"}
	ed.CreateAttr("xmlns:"+xencPrefix, NamespaceXEnc)
	ed.CreateAttr("Type", TypeElement)
	xencChild(ed, "EncryptionMethod").CreateAttr("Algorithm", data.URI())
	keyInfo := dsChild(ed, "KeyInfo")
	keyInfo.CreateAttr("xmlns:"+dsPrefix, NamespaceDSig)
	keyInfo.AddChild(encKey)
	addCipherValue(ed, octets)
	return ed, nil
}

// EncryptKey encrypts key (a holder-of-key proof key, say) for the
// recipient and returns a standalone xenc:EncryptedKey, to be put inside a
// ds:KeyInfo.
func (e *Encrypter) EncryptKey(key []byte) (*etree.Element, error) {
	if len(key) == 0 {
		return nil, errors.New("xmlsec: no key to encrypt")
	}
	_, transport, pub, err := e.settings()
	if err != nil {
		return nil, err
	}
	ek, err := e.encryptedKey(transport, pub, key)
	if err != nil {
		return nil, err
	}
	ek.CreateAttr("xmlns:"+xencPrefix, NamespaceXEnc)
	ek.CreateAttr("xmlns:"+dsPrefix, NamespaceDSig)
	return ek, nil
}

// settings checks the configuration and fills in defaults.
func (e *Encrypter) settings() (DataAlgorithm, KeyTransport, *rsa.PublicKey, error) {
	data, transport := e.Data, e.KeyTransport
	if data == "" {
		data = DefaultDataAlgorithm
	}
	if transport == "" {
		transport = DefaultKeyTransport
	}
	if data.URI() == "" {
		return "", "", nil, fmt.Errorf("xmlsec: unknown data encryption algorithm %q", data)
	}
	if transport.URI() == "" {
		return "", "", nil, fmt.Errorf("xmlsec: unknown key transport %q", transport)
	}
	if transport == RSA15 && !e.AllowRSA15 {
		return "", "", nil, errors.New("xmlsec: rsa-1_5 key transport is not allowed without an explicit opt-in")
	}
	if e.Certificate == nil {
		return "", "", nil, errors.New("xmlsec: no recipient certificate")
	}
	pub, ok := e.Certificate.PublicKey.(*rsa.PublicKey)
	if !ok {
		return "", "", nil, fmt.Errorf("xmlsec: the recipient certificate has a %s key; key transport needs RSA", e.Certificate.PublicKeyAlgorithm)
	}
	if pub.N.BitLen() < MinRSABits {
		return "", "", nil, fmt.Errorf("xmlsec: the recipient RSA key has %d bits, at least %d are required", pub.N.BitLen(), MinRSABits)
	}
	return data, transport, pub, nil
}

// encryptedKey builds an xenc:EncryptedKey without namespace declarations:
// the caller places them where the element ends up.
func (e *Encrypter) encryptedKey(transport KeyTransport, pub *rsa.PublicKey, key []byte) (*etree.Element, error) {
	m := defaultTransportMethod(transport)
	wrapped, err := wrapKey(pub, m, key)
	if err != nil {
		return nil, fmt.Errorf("xmlsec: encrypting the key with %s: %w", transport, err)
	}
	keyInfo, err := e.recipientKeyInfo()
	if err != nil {
		return nil, err
	}
	ek := &etree.Element{Space: xencPrefix, Tag: "EncryptedKey"}
	method := xencChild(ek, "EncryptionMethod")
	method.CreateAttr("Algorithm", transport.URI())
	if m.digest != 0 {
		dsChild(method, "DigestMethod").CreateAttr("Algorithm", hashDigestURI(m.digest))
	}
	if transport == RSAOAEPSHA256 {
		mgf := method.CreateElement(xenc11Prefix + ":MGF")
		mgf.CreateAttr("xmlns:"+xenc11Prefix, NamespaceXEnc11)
		mgf.CreateAttr("Algorithm", URIMGF1SHA256)
	}
	ek.AddChild(keyInfo)
	addCipherValue(ek, wrapped)
	return ek, nil
}

// recipientKeyInfo is the ds:KeyInfo naming the recipient certificate.
func (e *Encrypter) recipientKeyInfo() (*etree.Element, error) {
	cert := e.Certificate
	ki := &etree.Element{Space: dsPrefix, Tag: "KeyInfo"}
	switch e.KeyInfo {
	case KeyInfoCertificate:
		dsChild(dsChild(ki, "X509Data"), "X509Certificate").SetText(base64.StdEncoding.EncodeToString(cert.Raw))
	case KeyInfoIssuerSerial:
		is := dsChild(dsChild(ki, "X509Data"), "X509IssuerSerial")
		dsChild(is, "X509IssuerName").SetText(cert.Issuer.String())
		dsChild(is, "X509SerialNumber").SetText(new(big.Int).Set(cert.SerialNumber).String())
	case KeyInfoSKI:
		if len(cert.SubjectKeyId) == 0 {
			return nil, errors.New("xmlsec: the recipient certificate has no subject key identifier")
		}
		dsChild(dsChild(ki, "X509Data"), "X509SKI").SetText(base64.StdEncoding.EncodeToString(cert.SubjectKeyId))
	case KeyInfoThumbprint:
		thumb := sha1.Sum(cert.Raw) // identification only
		str := ki.CreateElement(wssePrefix + ":SecurityTokenReference")
		str.CreateAttr("xmlns:"+wssePrefix, namespaceWSSE)
		id := str.CreateElement(wssePrefix + ":KeyIdentifier")
		id.CreateAttr("ValueType", valueTypeThumbprintSHA1)
		id.CreateAttr("EncodingType", encodingTypeBase64)
		id.SetText(base64.StdEncoding.EncodeToString(thumb[:]))
	default:
		return nil, fmt.Errorf("xmlsec: unknown recipient KeyInfo %q", e.KeyInfo)
	}
	return ki, nil
}

func hashDigestURI(h crypto.Hash) string {
	for uri, hh := range oaepDigests {
		if hh == h {
			return uri
		}
	}
	return ""
}

func addCipherValue(parent *etree.Element, octets []byte) {
	cd := xencChild(parent, "CipherData")
	xencChild(cd, "CipherValue").SetText(base64.StdEncoding.EncodeToString(octets))
}

func xencChild(parent *etree.Element, tag string) *etree.Element {
	child := parent.CreateElement(tag)
	child.Space = xencPrefix
	return child
}
