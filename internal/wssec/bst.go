package wssec

import (
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/soap"
)

// BinarySecurityToken is a wsse:BinarySecurityToken: an X.509 certificate,
// a Kerberos AP-REQ or another binary token, decoded.
type BinarySecurityToken struct {
	// ID is the wsu:Id, the target of "#id" references from signatures and
	// from UseKey, CancelTarget and ValidateTarget.
	ID string
	// ValueType is the trimmed ValueType URI (e.g. ValueTypeX509v3), empty
	// when absent.
	ValueType string
	// EncodingType is the trimmed EncodingType URI, empty when absent
	// (base64 is then assumed, the WS-Security default).
	EncodingType string
	// Value is the decoded token.
	Value []byte
	// Element is the wsse:BinarySecurityToken as received.
	Element *etree.Element
}

// IsX509 reports whether the token is an X.509 certificate or chain.
func (b *BinarySecurityToken) IsX509() bool {
	return b.ValueType == ValueTypeX509v3 || b.ValueType == ValueTypeX509PKIPathv1
}

// IsKerberos reports whether the token is a Kerberos AP-REQ.
func (b *BinarySecurityToken) IsKerberos() bool {
	return b.ValueType == ValueTypeKerberosGSSAPREQ || b.ValueType == ValueTypeKerberosAPREQ
}

var errNotX509v3 = errors.New("BinarySecurityToken is not an X509v3 token")

// Certificate parses an X509v3 token. It does not decide whether the
// certificate is trusted.
func (b *BinarySecurityToken) Certificate() (*x509.Certificate, error) {
	if b.ValueType != ValueTypeX509v3 {
		return nil, soap.NewFault(soap.InvalidSecurityToken, "BinarySecurityToken is not an X509v3 certificate", errNotX509v3)
	}
	cert, err := parsedCertificates.parse(b.Value)
	if err != nil {
		return nil, soap.NewFault(soap.InvalidSecurityToken, "BinarySecurityToken certificate cannot be parsed", err)
	}
	return cert, nil
}

func bstFault(reason string, cause error) error {
	return soap.NewFault(soap.InvalidSecurityToken, "BinarySecurityToken "+reason, cause)
}

// ParseBinarySecurityToken reads and decodes a BinarySecurityToken. Only the
// Base64Binary encoding exists in practice; others are refused rather than
// passed on undecoded.
func ParseBinarySecurityToken(el *etree.Element) (*BinarySecurityToken, error) {
	b := &BinarySecurityToken{ID: soap.ElementID(el), Element: el}
	if v, ok := soap.AttrNS(el, "", "ValueType"); ok {
		b.ValueType = collapse(v)
	}
	if v, ok := soap.AttrNS(el, "", "EncodingType"); ok {
		b.EncodingType = collapse(v)
	}
	if b.EncodingType != "" && b.EncodingType != EncodingBase64Binary {
		return nil, bstFault("EncodingType is not supported", fmt.Errorf("encoding %q", truncate(b.EncodingType, 120)))
	}
	s, err := bstText(el)
	if err != nil {
		return nil, err
	}
	v, err := decodeBase64(s, MaxBinaryTokenSize)
	if errors.Is(err, errTooLarge) {
		return nil, bstFault("is too large", err)
	}
	if err != nil {
		return nil, bstFault("value is not valid base64", err)
	}
	if len(v) == 0 {
		return nil, bstFault("is empty", nil)
	}
	b.Value = v
	return b, nil
}

// bstText collects the token's character data; it is larger than
// MaxTextSize, so textContent's bound does not apply.
func bstText(el *etree.Element) (string, error) {
	var s []byte
	for _, tok := range el.Child {
		switch t := tok.(type) {
		case *etree.CharData:
			s = append(s, t.Data...)
		case *etree.Element:
			return "", bstFault("contains an element", errChildElement)
		}
		if len(s) > 2*(MaxBinaryTokenSize/3+2)*4 {
			return "", bstFault("is too large", fmt.Errorf("%w: more than %d bytes", errTooLarge, MaxBinaryTokenSize))
		}
	}
	return string(s), nil
}
