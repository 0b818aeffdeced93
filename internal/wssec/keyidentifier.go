package wssec

import (
	"bytes"
	"crypto/sha1" //nolint:gosec // ThumbprintSHA1 names a certificate; it is not a signature.
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/soap"
)

// KeyIdentifier value types (X.509 token profile 1.0 and SOAP Message
// Security 1.1).
const (
	// ValueTypeX509SKI identifies a certificate by its subject key
	// identifier extension.
	ValueTypeX509SKI = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509SubjectKeyIdentifier"
	// ValueTypeThumbprintSHA1 identifies a certificate by the SHA-1 of its
	// DER encoding.
	ValueTypeThumbprintSHA1 = "http://docs.oasis-open.org/wss/oasis-wss-soap-message-security-1.1#ThumbprintSHA1"
	// ValueTypeKerberosAPREQSHA1 identifies a Kerberos token by the SHA-1
	// of its value (Kerberos token profile 1.1).
	ValueTypeKerberosAPREQSHA1 = "http://docs.oasis-open.org/wss/oasis-wss-kerberos-token-profile-1.1#Kerberosv5APREQSHA1"
)

// KeyReferenceKind says how a signature's KeyInfo names its certificate or
// Kerberos token.
type KeyReferenceKind int

// The ways a KeyInfo names an X.509 certificate.
const (
	// DirectReference is a wsse:Reference URI="#id" to a
	// BinarySecurityToken of the header.
	DirectReference KeyReferenceKind = iota + 1
	// SubjectKeyIdentifier is a KeyIdentifier with the certificate's SKI.
	SubjectKeyIdentifier
	// ThumbprintSHA1 is a KeyIdentifier with the certificate's SHA-1
	// thumbprint.
	ThumbprintSHA1
	// IssuerSerial is a ds:X509Data/ds:X509IssuerSerial.
	IssuerSerial
	// EmbeddedCertificate is a KeyIdentifier of type X509v3, or a
	// ds:X509Data/ds:X509Certificate, carrying the certificate itself.
	EmbeddedCertificate
	// KerberosSHA1 is a KeyIdentifier with the SHA-1 of a Kerberos
	// BinarySecurityToken's value.
	KerberosSHA1
)

func (k KeyReferenceKind) String() string {
	switch k {
	case DirectReference:
		return "DirectReference"
	case SubjectKeyIdentifier:
		return "X509SubjectKeyIdentifier"
	case ThumbprintSHA1:
		return "ThumbprintSHA1"
	case IssuerSerial:
		return "X509IssuerSerial"
	case EmbeddedCertificate:
		return "X509v3"
	case KerberosSHA1:
		return "Kerberosv5APREQSHA1"
	}
	return "unknown"
}

// KeyReference is what a signature's KeyInfo says about the signing
// certificate. It names a certificate; it does not make it trusted.
type KeyReference struct {
	Kind KeyReferenceKind
	// URI is the id a DirectReference points to, without "#".
	URI string
	// Value is the SKI, the thumbprint, or the DER certificate of an
	// EmbeddedCertificate.
	Value []byte
	// Issuer and Serial are the X509IssuerSerial values.
	Issuer string
	Serial *big.Int
}

func keyInfoFault(reason string, cause error) error {
	return soap.NewFault(soap.InvalidSecurityToken, "signature KeyInfo "+reason, cause)
}

// ParseKeyInfo reads a ds:KeyInfo holding one wsse:SecurityTokenReference
// (with a Reference, a KeyIdentifier or ds:X509Data) or one ds:X509Data
// directly. Other key information (key values, key names, SAML or
// Kerberos token references) is refused with an UnsupportedSecurityToken
// fault; KerberosSignatureVerifier reads Kerberos references itself.
func ParseKeyInfo(keyInfo *etree.Element) (*KeyReference, error) {
	if keyInfo == nil {
		return nil, keyInfoFault("is missing", nil)
	}
	kids := keyInfo.ChildElements()
	if len(kids) != 1 {
		return nil, keyInfoFault("must hold exactly one element", fmt.Errorf("%d children", len(kids)))
	}
	switch c := kids[0]; {
	case soap.IsElement(c, NSSecExt, "SecurityTokenReference"):
		return parseSTR(c)
	case soap.IsElement(c, NSDSig, "X509Data"):
		return parseX509Data(c)
	default:
		return nil, soap.NewFault(soap.UnsupportedSecurityToken, "signature KeyInfo names a key this STS does not accept",
			fmt.Errorf("{%s}%s", truncate(c.NamespaceURI(), 120), truncate(c.Tag, 60)))
	}
}

// parseSTR reads a SecurityTokenReference with exactly one child.
func parseSTR(str *etree.Element) (*KeyReference, error) {
	kids := str.ChildElements()
	if len(kids) != 1 {
		return nil, keyInfoFault("SecurityTokenReference must hold exactly one element", fmt.Errorf("%d children", len(kids)))
	}
	switch c := kids[0]; {
	case soap.IsElement(c, NSSecExt, "Reference"):
		return parseDirectReference(c)
	case soap.IsElement(c, NSSecExt, "KeyIdentifier"):
		return parseKeyIdentifier(c)
	case soap.IsElement(c, NSDSig, "X509Data"):
		return parseX509Data(c)
	default:
		return nil, soap.NewFault(soap.UnsupportedSecurityToken, "signature KeyInfo names a key this STS does not accept",
			fmt.Errorf("SecurityTokenReference holds {%s}%s", truncate(c.NamespaceURI(), 120), truncate(c.Tag, 60)))
	}
}

func parseDirectReference(ref *etree.Element) (*KeyReference, error) {
	uri, _ := soap.AttrNS(ref, "", "URI")
	id, local := strings.CutPrefix(collapse(uri), "#")
	if !local || id == "" {
		return nil, keyInfoFault("Reference must be a same-document #id", fmt.Errorf("URI %q", truncate(uri, 120)))
	}
	if vt, ok := soap.AttrNS(ref, "", "ValueType"); ok && collapse(vt) != ValueTypeX509v3 {
		return nil, soap.NewFault(soap.UnsupportedSecurityToken, "signature KeyInfo Reference is not to an X509v3 token",
			fmt.Errorf("ValueType %q", truncate(vt, 120)))
	}
	return &KeyReference{Kind: DirectReference, URI: id}, nil
}

func parseKeyIdentifier(ki *etree.Element) (*KeyReference, error) {
	vt, _ := soap.AttrNS(ki, "", "ValueType")
	if enc, ok := soap.AttrNS(ki, "", "EncodingType"); ok && collapse(enc) != EncodingBase64Binary {
		return nil, keyInfoFault("KeyIdentifier EncodingType is not supported", fmt.Errorf("EncodingType %q", truncate(enc, 120)))
	}
	text, err := bstText(ki)
	if err != nil {
		return nil, keyInfoFault("KeyIdentifier is malformed", err)
	}
	value, err := decodeBase64(text, MaxBinaryTokenSize)
	if err != nil || len(value) == 0 {
		return nil, keyInfoFault("KeyIdentifier is not valid base64", err)
	}
	switch collapse(vt) {
	case ValueTypeX509SKI:
		return &KeyReference{Kind: SubjectKeyIdentifier, Value: value}, nil
	case ValueTypeThumbprintSHA1:
		if len(value) != sha1.Size {
			return nil, keyInfoFault("ThumbprintSHA1 has the wrong length", fmt.Errorf("%d bytes", len(value)))
		}
		return &KeyReference{Kind: ThumbprintSHA1, Value: value}, nil
	case ValueTypeX509v3:
		return &KeyReference{Kind: EmbeddedCertificate, Value: value}, nil
	}
	return nil, soap.NewFault(soap.UnsupportedSecurityToken, "signature KeyIdentifier type is not supported",
		fmt.Errorf("ValueType %q", truncate(vt, 120)))
}

// parseX509Data reads ds:X509Data with an X509IssuerSerial or an
// X509Certificate (xmlsec-based clients send both; the certificate wins
// since it names the key without a lookup).
func parseX509Data(data *etree.Element) (*KeyReference, error) {
	var issuerSerial, cert *etree.Element
	for _, c := range data.ChildElements() {
		switch {
		case soap.IsElement(c, NSDSig, "X509IssuerSerial") && issuerSerial == nil:
			issuerSerial = c
		case soap.IsElement(c, NSDSig, "X509Certificate") && cert == nil:
			cert = c
		default:
			return nil, soap.NewFault(soap.UnsupportedSecurityToken, "signature X509Data holds an element this STS does not accept",
				fmt.Errorf("{%s}%s", truncate(c.NamespaceURI(), 120), truncate(c.Tag, 60)))
		}
	}
	switch {
	case cert != nil:
		text, err := bstText(cert)
		if err != nil {
			return nil, keyInfoFault("X509Certificate is malformed", err)
		}
		der, err := decodeBase64(text, MaxBinaryTokenSize)
		if err != nil || len(der) == 0 {
			return nil, keyInfoFault("X509Certificate is not valid base64", err)
		}
		return &KeyReference{Kind: EmbeddedCertificate, Value: der}, nil
	case issuerSerial != nil:
		return parseIssuerSerial(issuerSerial)
	}
	return nil, keyInfoFault("X509Data is empty", nil)
}

func parseIssuerSerial(el *etree.Element) (*KeyReference, error) {
	name := soap.ChildElement(el, NSDSig, "X509IssuerName")
	number := soap.ChildElement(el, NSDSig, "X509SerialNumber")
	if name == nil || number == nil || len(el.ChildElements()) != 2 {
		return nil, keyInfoFault("X509IssuerSerial must hold X509IssuerName and X509SerialNumber", nil)
	}
	issuer, err := textContent(name)
	if err != nil {
		return nil, keyInfoFault("X509IssuerName is malformed", err)
	}
	serialText, err := textContent(number)
	if err != nil {
		return nil, keyInfoFault("X509SerialNumber is malformed", err)
	}
	serial, ok := new(big.Int).SetString(collapse(serialText), 10)
	if !ok || serial.Sign() < 0 {
		return nil, keyInfoFault("X509SerialNumber is not a decimal number", fmt.Errorf("%q", truncate(serialText, 60)))
	}
	return &KeyReference{Kind: IssuerSerial, Issuer: strings.TrimSpace(issuer), Serial: serial}, nil
}

// Matches reports whether cert is the certificate a KeyIdentifier or
// X509IssuerSerial names. A DirectReference matches nothing here: it is
// resolved through the header.
func (r *KeyReference) Matches(cert *x509.Certificate) bool {
	switch r.Kind {
	case SubjectKeyIdentifier:
		return len(cert.SubjectKeyId) > 0 && bytes.Equal(cert.SubjectKeyId, r.Value)
	case ThumbprintSHA1:
		sum := sha1.Sum(cert.Raw) //nolint:gosec // identification only
		return bytes.Equal(sum[:], r.Value)
	case IssuerSerial:
		return cert.SerialNumber != nil && cert.SerialNumber.Cmp(r.Serial) == 0 && sameIssuer(r.Issuer, cert)
	case EmbeddedCertificate:
		return bytes.Equal(cert.Raw, r.Value)
	}
	return false
}

var errNoCertificate = errors.New("no certificate matches the KeyInfo")
