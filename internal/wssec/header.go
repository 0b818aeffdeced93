package wssec

import (
	"fmt"
	"strings"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/soap"
)

// SAMLVersion tells SAML 1.x and SAML 2.0 assertions apart.
type SAMLVersion int

// SAML versions of an Assertion.
const (
	SAML11 SAMLVersion = 1
	SAML20 SAMLVersion = 2
)

// Token is a security token of the header that an "#id" reference can name:
// *UsernameToken, *BinarySecurityToken, *Assertion or *RawToken.
type Token interface {
	// TokenElement returns the token's element as received.
	TokenElement() *etree.Element
}

// Assertion is a SAML assertion carried in the header (issued-token
// authentication), kept raw for the saml package to validate.
type Assertion struct {
	// ID is the assertion's ID (SAML 2.0) or AssertionID (SAML 1.x).
	ID      string
	Version SAMLVersion
	Element *etree.Element
}

// RawToken is a header child this package does not interpret (a
// SecurityContextToken, an EncryptedKey, an EncryptedAssertion, ...), kept
// so that a reference to it resolves.
type RawToken struct {
	// ID is the child's wsu:Id or Id, empty when it has none.
	ID      string
	Element *etree.Element
}

// TokenElement implements Token.
func (ut *UsernameToken) TokenElement() *etree.Element { return ut.Element }

// TokenElement implements Token.
func (b *BinarySecurityToken) TokenElement() *etree.Element { return b.Element }

// TokenElement implements Token.
func (a *Assertion) TokenElement() *etree.Element { return a.Element }

// TokenElement implements Token.
func (r *RawToken) TokenElement() *etree.Element { return r.Element }

// Header is a parsed wsse:Security header. Slices keep document order.
type Header struct {
	// Element is the wsse:Security element itself. It holds any password
	// too, so it is left out of JSON.
	Element *etree.Element `json:"-"`
	// Timestamp is nil when the header has none (eHealth requests, for
	// example, send no Timestamp).
	Timestamp            *Timestamp
	UsernameTokens       []*UsernameToken
	BinarySecurityTokens []*BinarySecurityToken
	// Signatures are the ds:Signature children, unverified.
	Signatures []*etree.Element
	// Assertions are the SAML assertions, unverified.
	Assertions []*Assertion
	// Other holds the remaining children, in document order.
	Other []*RawToken

	byID map[string]identified
}

// identified is what an id names: a token, or (for the Timestamp and
// signatures) only an element.
type identified struct {
	el  *etree.Element
	tok Token
}

// ParseHeader reads a wsse:Security element, matched by namespace whatever
// its prefix, with its children in any order. Ids (wsu:Id, SAML ID and
// AssertionID, Id) must be unique within the header so that a reference
// cannot be made to mean two elements. Malformed parts yield a *soap.Fault
// with code InvalidSecurity or InvalidSecurityToken naming the part.
//
// ParseHeader does not authenticate anything: it neither checks times nor
// verifies passwords or signatures.
func ParseHeader(security *etree.Element) (*Header, error) {
	if security == nil {
		return nil, soap.NewFault(soap.InvalidSecurity, "the message has no Security header", nil)
	}
	if !soap.IsElement(security, NSSecExt, "Security") {
		return nil, soap.NewFault(soap.InvalidSecurity, "the header is not a WS-Security 1.0 Security element",
			fmt.Errorf("got {%s}%s", truncate(security.NamespaceURI(), 120), truncate(security.Tag, 60)))
	}
	children := security.ChildElements()
	if len(children) > MaxHeaderChildren {
		return nil, soap.NewFault(soap.InvalidSecurity, "the Security header has too many elements",
			fmt.Errorf("%d children, at most %d", len(children), MaxHeaderChildren))
	}
	h := &Header{Element: security, byID: make(map[string]identified)}
	for _, c := range children {
		if err := h.add(c); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// add files one child of the Security element under its kind and id.
func (h *Header) add(c *etree.Element) error {
	switch {
	case soap.IsElement(c, NSUtility, "Timestamp"):
		if h.Timestamp != nil {
			// WS-I BSP R3227: a second Timestamp could make the checked one
			// differ from the signed one.
			return soap.NewFault(soap.InvalidSecurity, "the Security header has more than one Timestamp", nil)
		}
		ts, err := parseTimestamp(c)
		if err != nil {
			return err
		}
		h.Timestamp = ts
		return h.index(ts.ID, identified{el: c})
	case soap.IsElement(c, NSSecExt, "UsernameToken"):
		ut, err := parseUsernameToken(c)
		if err != nil {
			return err
		}
		h.UsernameTokens = append(h.UsernameTokens, ut)
		return h.index(ut.ID, identified{el: c, tok: ut})
	case soap.IsElement(c, NSSecExt, "BinarySecurityToken"):
		b, err := ParseBinarySecurityToken(c)
		if err != nil {
			return err
		}
		h.BinarySecurityTokens = append(h.BinarySecurityTokens, b)
		return h.index(b.ID, identified{el: c, tok: b})
	case soap.IsElement(c, NSDSig, "Signature"):
		h.Signatures = append(h.Signatures, c)
		return h.index(soap.ElementID(c), identified{el: c})
	case soap.IsElement(c, NSSAML20, "Assertion"), soap.IsElement(c, NSSAML11, "Assertion"):
		a := &Assertion{ID: soap.ElementID(c), Version: SAML20, Element: c}
		if c.NamespaceURI() == NSSAML11 {
			a.Version = SAML11
		}
		if a.ID == "" {
			return soap.NewFault(soap.InvalidSecurityToken, "SAML Assertion has no ID", nil)
		}
		h.Assertions = append(h.Assertions, a)
		return h.index(a.ID, identified{el: c, tok: a})
	default:
		r := &RawToken{ID: soap.ElementID(c), Element: c}
		h.Other = append(h.Other, r)
		return h.index(r.ID, identified{el: c, tok: r})
	}
}

func (h *Header) index(id string, v identified) error {
	if id == "" {
		return nil
	}
	if _, dup := h.byID[id]; dup {
		return soap.NewFault(soap.InvalidSecurity, "the Security header has two elements with the same id",
			fmt.Errorf("duplicate id %q", truncate(id, 120)))
	}
	h.byID[id] = v
	return nil
}

// refID turns "#id" (a same-document URI reference) or a bare "id" into the
// id, trimming whitespace as xs:anyURI allows.
func refID(ref string) string {
	return strings.TrimPrefix(collapse(ref), "#")
}

// Lookup resolves a reference such as the URI of a wsse:Reference ("#x509")
// or a KeyIdentifier's assertion id to a token of this header.
func (h *Header) Lookup(ref string) (Token, bool) {
	v, ok := h.byID[refID(ref)]
	if !ok || v.tok == nil {
		return nil, false
	}
	return v.tok, true
}

// ElementByID resolves a reference to any identified child of the header,
// including the Timestamp and signatures (what a ds:Reference inside the
// header points to).
func (h *Header) ElementByID(ref string) (*etree.Element, bool) {
	v, ok := h.byID[refID(ref)]
	if !ok {
		return nil, false
	}
	return v.el, true
}
