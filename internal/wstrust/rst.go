package wstrust

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/soap"
)

// Bounds on values that later code would otherwise size buffers by.
const (
	maxKeySizeBits     = 16384
	maxEntropyBytes    = 1024
	maxBinarySecretB64 = 4 * ((maxEntropyBytes + 2) / 3)
)

// RST is a parsed wst:RequestSecurityToken. URI values are
// whitespace-collapsed; normalised fields sit beside the raw URI they came
// from. Elements whose meaning belongs to a later stage (UseKey, OnBehalfOf,
// ActAs, the targets, Claims) are kept as they arrived, still attached to the
// request document so that references into the Security header resolve.
type RST struct {
	// Version is the WS-Trust version of the RST's namespace.
	Version Version
	// Context is the Context attribute, echoed on the RSTR (WCF needs it).
	Context string

	RequestType    RequestType
	RequestTypeURI string

	// TokenType is the TokenType URI as asked ("" when none), and TokenKind
	// its normalised kind. SecondaryParameters supplies it when the top level
	// does not (CXF's client sends it only there).
	TokenType string
	TokenKind TokenKind

	// AppliesTo is the wsa:Address of wsp:AppliesTo/wsa:EndpointReference.
	AppliesTo string

	KeyType    KeyType
	KeyTypeURI string
	// KeySize is the requested key size in bits; 0 when absent.
	KeySize int
	// Entropy is the requestor's entropy; nil when absent.
	Entropy *Entropy
	// ComputedKeyAlgorithm is the URI, e.g. .../CK/PSHA1; "" when absent.
	ComputedKeyAlgorithm string
	// Lifetime is the requested validity; nil when absent.
	Lifetime *Lifetime

	UseKey         *etree.Element
	OnBehalfOf     *etree.Element
	ActAs          *etree.Element
	ValidateTarget *etree.Element
	RenewTarget    *etree.Element
	CancelTarget   *etree.Element
	// Claims is nil when absent. Any dialect is accepted: policy decides.
	Claims *Claims
	// Renewing is nil when absent.
	Renewing *Renewing
	// SecondaryParameters is the raw element, nil when absent.
	SecondaryParameters *etree.Element

	// Element is the RequestSecurityToken element itself.
	Element *etree.Element
}

// Entropy is the requestor's key material contribution.
type Entropy struct {
	// BinarySecret is the decoded wst:BinarySecret; nil when the entropy is
	// something else (e.g. an xenc:EncryptedKey, left in Element).
	BinarySecret []byte
	// Type is the BinarySecret Type URI ("" when absent: SymmetricKey).
	Type string
	// Element is the wst:Entropy element.
	Element *etree.Element
}

// Lifetime is a validity interval; a zero time means "not given".
type Lifetime struct {
	Created time.Time
	Expires time.Time
}

// Claims is wst:Claims: its Dialect URI and the raw element.
type Claims struct {
	Dialect string
	Element *etree.Element
}

// Renewing is wst:Renewing: Allow defaults to true, OK to false.
type Renewing struct {
	Allow bool
	OK    bool
}

// ParseRST reads a RequestSecurityToken of WS-Trust 1.3 or 2005/02 (the
// version is the element's namespace). Children may come in any order;
// unknown children are ignored, except those that would change whom the
// token is for (see subjectChanging); ActAs is also read in the WS-Trust 1.4
// namespace. SecondaryParameters fill only what the top level leaves empty.
// A missing RequestType, a repeated element, an element that changes the
// subject but is not acted on, or a malformed value is a soap.InvalidRequest
// fault whose reason names the element.
func ParseRST(body *etree.Element) (*RST, error) {
	if body == nil {
		return nil, soap.Faultf(soap.InvalidRequest, "the Body holds no wst:RequestSecurityToken")
	}
	v := VersionOf(body.NamespaceURI())
	if v == 0 || body.Tag != "RequestSecurityToken" {
		return nil, soap.Faultf(soap.InvalidRequest, "the Body holds {%s}%s, not a wst:RequestSecurityToken", body.NamespaceURI(), body.Tag)
	}
	r := &RST{Version: v, Element: body, Context: attrValue(body, "Context")}
	if err := readChildren(body, v, r, ""); err != nil {
		return nil, err
	}
	if r.SecondaryParameters != nil {
		var sp RST
		if err := readChildren(r.SecondaryParameters, v, &sp, "wst:SecondaryParameters/"); err != nil {
			return nil, err
		}
		r.fillFrom(&sp)
	}
	if r.RequestTypeURI == "" {
		return nil, soap.Faultf(soap.InvalidRequest, "wst:RequestType is missing")
	}
	return r, nil
}

// fillFrom copies the values a relying party's RST template may supply
// through SecondaryParameters into the fields the requestor left empty.
func (r *RST) fillFrom(sp *RST) {
	if r.TokenType == "" {
		r.TokenType, r.TokenKind = sp.TokenType, sp.TokenKind
	}
	if r.KeyTypeURI == "" {
		r.KeyTypeURI, r.KeyType = sp.KeyTypeURI, sp.KeyType
	}
	if r.KeySize == 0 {
		r.KeySize = sp.KeySize
	}
	if r.ComputedKeyAlgorithm == "" {
		r.ComputedKeyAlgorithm = sp.ComputedKeyAlgorithm
	}
	if r.Claims == nil {
		r.Claims = sp.Claims
	}
}

// subjectChanging lists the WS-Trust children that name someone else the
// token is for (OnBehalfOf, ActAs), should be delegated to (DelegateTo) or
// may be used by (Participants). Ignoring one would issue a token other than
// the one asked for, so the STS reads it or refuses the request. The flags
// Forwardable and Delegatable name no one and leave subject and audience as
// they are; like the algorithm preferences, they are ignored.
var subjectChanging = map[string]bool{"OnBehalfOf": true, "ActAs": true, "DelegateTo": true, "Participants": true}

// readChildren fills r from the children of el; path prefixes element names
// in fault reasons. SecondaryParameters is read only at the top level.
func readChildren(el *etree.Element, v Version, r *RST, path string) error {
	ns := v.Namespace()
	seen := map[string]bool{}
	for _, c := range el.ChildElements() {
		cns := c.NamespaceURI()
		var name string
		switch {
		case cns == ns:
			name = "wst:" + c.Tag
		case cns == Namespace14 && c.Tag == "ActAs":
			name = "wst14:ActAs"
		case c.Tag == "AppliesTo" && (cns == NamespacePolicy200409 || cns == NamespacePolicy15):
			name = "wsp:AppliesTo"
		case subjectChanging[c.Tag] && (cns == Namespace14 || VersionOf(cns) != 0):
			return notActedOn(path + otherTrustName(cns, c.Tag))
		default:
			continue // extensions: auth:AdditionalContext, wsp:PolicyReference, ...
		}
		if subjectChanging[c.Tag] && (path != "" || !actedOn(name)) {
			return notActedOn(path + name)
		}
		if seen[name] && knownChild(name) {
			return invalid(path+name, "appears more than once", nil)
		}
		seen[name] = true
		if err := readChild(c, v, r, path, name); err != nil {
			return err
		}
	}
	return nil
}

// actedOn reports whether the issuer acts on a subject-changing element
// read at the top level. SecondaryParameters are the relying party's
// template, and fillFrom takes no identity from it.
func actedOn(name string) bool {
	return name == "wst:OnBehalfOf" || name == "wst:ActAs" || name == "wst14:ActAs"
}

// otherTrustName names an element of a WS-Trust namespace that is not the
// request's own, for a fault reason.
func otherTrustName(ns, local string) string {
	if ns == Namespace14 {
		return "wst14:" + local
	}
	return "wst:" + local + " of " + VersionOf(ns).String()
}

// notActedOn refuses an element that would change whom the token is for but
// that this STS does not act on.
func notActedOn(name string) *soap.Fault {
	return invalid(name, "is not supported: it would change whom the token is for, and this STS does not act on it", nil)
}

// knownChild reports whether readChild interprets the element, and so
// whether a repeat of it is ambiguous.
func knownChild(name string) bool {
	switch name {
	case "wst:RequestType", "wst:TokenType", "wsp:AppliesTo", "wst:KeyType", "wst:KeySize",
		"wst:Entropy", "wst:ComputedKeyAlgorithm", "wst:Lifetime", "wst:UseKey", "wst:OnBehalfOf",
		"wst:ActAs", "wst14:ActAs", "wst:ValidateTarget", "wst:RenewTarget", "wst:CancelTarget", "wst:Claims",
		"wst:Renewing", "wst:SecondaryParameters":
		return true
	}
	return false
}

// readChild interprets one child of a RequestSecurityToken.
func readChild(c *etree.Element, v Version, r *RST, path, name string) error {
	var err error
	switch name {
	case "wst:RequestType":
		r.RequestTypeURI = soap.CollapsedText(c)
		r.RequestType = requestTypeOf(r.RequestTypeURI)
	case "wst:TokenType":
		r.TokenType = soap.CollapsedText(c)
		r.TokenKind = TokenKindOf(r.TokenType)
	case "wst:KeyType":
		r.KeyTypeURI = soap.CollapsedText(c)
		r.KeyType = keyTypeOf(r.KeyTypeURI)
	case "wst:ComputedKeyAlgorithm":
		r.ComputedKeyAlgorithm = soap.CollapsedText(c)
	case "wsp:AppliesTo":
		r.AppliesTo, err = readAppliesTo(c, path+name)
	case "wst:KeySize":
		r.KeySize, err = readKeySize(c, path+name)
	case "wst:Entropy":
		r.Entropy, err = readEntropy(c, v, path+name)
	case "wst:Lifetime":
		r.Lifetime, err = readLifetime(c, path+name)
	case "wst:Claims":
		r.Claims = &Claims{Dialect: attrValue(c, "Dialect"), Element: c}
	case "wst:Renewing":
		r.Renewing, err = readRenewing(c, path+name)
	case "wst:UseKey":
		r.UseKey = c
	case "wst:OnBehalfOf":
		r.OnBehalfOf = c
	case "wst:ActAs", "wst14:ActAs":
		// Either namespace means the same; both at once leave it open
		// whose identity the token is for.
		if r.ActAs != nil {
			return soap.Faultf(soap.InvalidRequest, "wst:ActAs and wst14:ActAs both appear; send ActAs once")
		}
		r.ActAs = c
	case "wst:ValidateTarget":
		r.ValidateTarget = c
	case "wst:RenewTarget":
		r.RenewTarget = c
	case "wst:CancelTarget":
		r.CancelTarget = c
	case "wst:SecondaryParameters":
		if path == "" {
			r.SecondaryParameters = c
		}
	}
	return err
}

// readAppliesTo returns the address of wsp:AppliesTo/wsa:EndpointReference
// in either WS-Addressing namespace. A second EndpointReference or Address
// is refused: the relying party it names would depend on which one a reader
// takes.
func readAppliesTo(c *etree.Element, name string) (string, error) {
	var epr *etree.Element
	var wsa string
	for _, ns := range []string{namespaceWSA10, namespaceWSA200408} {
		for _, e := range soap.ChildElements(c, ns, "EndpointReference") {
			if epr != nil {
				return "", invalid(name, "has more than one wsa:EndpointReference", nil)
			}
			epr, wsa = e, ns
		}
	}
	if epr == nil {
		return "", invalid(name, "has no wsa:EndpointReference", nil)
	}
	addrs := soap.ChildElements(epr, wsa, "Address")
	switch {
	case len(addrs) > 1:
		return "", invalid(name, "has an EndpointReference with more than one Address", nil)
	case len(addrs) == 0 || soap.CollapsedText(addrs[0]) == "":
		return "", invalid(name, "has an EndpointReference without an Address", nil)
	}
	return soap.CollapsedText(addrs[0]), nil
}

// readKeySize reads a key size in bits.
func readKeySize(c *etree.Element, name string) (int, error) {
	n, err := strconv.Atoi(soap.CollapsedText(c))
	if err != nil {
		return 0, invalid(name, "is not a number", err)
	}
	if n <= 0 || n > maxKeySizeBits {
		return 0, invalid(name, fmt.Sprintf("must be between 1 and %d bits", maxKeySizeBits), nil)
	}
	return n, nil
}

// readEntropy reads wst:Entropy; only a BinarySecret is decoded.
func readEntropy(c *etree.Element, v Version, name string) (*Entropy, error) {
	e := &Entropy{Element: c}
	bs := soap.ChildElement(c, v.Namespace(), "BinarySecret")
	if bs == nil {
		return e, nil
	}
	e.Type = attrValue(bs, "Type")
	secret, err := decodeBinarySecret(soap.Text(bs))
	if err != nil {
		return nil, invalid(name+"/wst:BinarySecret", err.Error(), err)
	}
	e.BinarySecret = secret
	return e, nil
}

// decodeBinarySecret decodes xs:base64Binary, which may contain whitespace.
// The error never quotes the value: it is key material.
func decodeBinarySecret(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, s)
	switch {
	case s == "":
		return nil, errors.New("is empty")
	case len(s) > maxBinarySecretB64:
		return nil, fmt.Errorf("is longer than %d bytes", maxEntropyBytes)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, errors.New("is not valid base64")
	}
	return b, nil
}

// readLifetime reads wst:Lifetime with optional wsu:Created and wsu:Expires.
func readLifetime(c *etree.Element, name string) (*Lifetime, error) {
	lt := &Lifetime{}
	for _, f := range []struct {
		local string
		dst   *time.Time
	}{{"Created", &lt.Created}, {"Expires", &lt.Expires}} {
		e := soap.ChildElement(c, NamespaceUtility, f.local)
		if e == nil {
			continue
		}
		t, err := ParseTime(soap.Text(e))
		if err != nil {
			return nil, invalid(name+"/wsu:"+f.local, "is not a valid time", err)
		}
		*f.dst = t
	}
	if !lt.Created.IsZero() && !lt.Expires.IsZero() && !lt.Expires.After(lt.Created) {
		return nil, soap.NewFault(soap.InvalidTimeRange, name+" expires before it is created", nil)
	}
	return lt, nil
}

// readRenewing reads the xs:boolean attributes of wst:Renewing.
func readRenewing(c *etree.Element, name string) (*Renewing, error) {
	r := &Renewing{Allow: true}
	for _, f := range []struct {
		attr string
		dst  *bool
	}{{"Allow", &r.Allow}, {"OK", &r.OK}} {
		raw, ok := soap.AttrNS(c, "", f.attr)
		if !ok {
			continue
		}
		switch strings.TrimSpace(raw) {
		case "1", "true":
			*f.dst = true
		case "0", "false":
			*f.dst = false
		default:
			return nil, invalid(name+"/@"+f.attr, "is not a boolean", nil)
		}
	}
	return r, nil
}

// attrValue returns an unqualified attribute's collapsed value.
func attrValue(e *etree.Element, local string) string {
	v, _ := soap.AttrNS(e, "", local)
	return strings.TrimSpace(v)
}

// invalid returns the InvalidRequest fault for a malformed element.
func invalid(name, problem string, cause error) *soap.Fault {
	return soap.NewFault(soap.InvalidRequest, name+" "+problem, cause)
}
