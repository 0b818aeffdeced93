package wstrust

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/beevik/etree"
)

// RSTR is a RequestSecurityTokenResponse to write. Empty fields are left
// out. Build writes the children in the order AD FS uses, which Office 365
// and OpenAM's AD FS clone rely on: Lifetime, AppliesTo,
// RequestedSecurityToken, RequestedAttachedReference,
// RequestedUnattachedReference, TokenType, RequestType, KeyType, then
// RequestedProofToken, Entropy, KeySize, Status, RequestedTokenCancelled.
type RSTR struct {
	// Version is the request's WS-Trust version; it sets the namespace, the
	// URI forms and whether an Issue answer is wrapped in a collection.
	Version Version
	// Context echoes the request's Context attribute.
	Context string
	// TokenType is the URI to echo: the form the client asked for, else
	// TokenKind.DefaultURI.
	TokenType string
	// Token is the issued token; Build moves it into the RSTR, so it must
	// declare the namespaces it uses itself.
	Token *etree.Element
	// AttachedReference and UnattachedReference are the
	// SecurityTokenReferences to the token (see SAMLTokenReference); Build
	// moves them in.
	AttachedReference   *etree.Element
	UnattachedReference *etree.Element
	// Lifetime is the token's validity, written with milliseconds and Z.
	Lifetime *Lifetime
	// AppliesTo is the relying party address, written as a WS-Policy 2004/09
	// AppliesTo around a WS-Addressing 1.0 EndpointReference.
	AppliesTo string
	// RequestType is echoed as the URI of Version, and selects the action
	// and, for a 1.3 Issue, the collection wrapper.
	RequestType RequestType
	// KeyType is echoed as the URI of Version (a 2005 bearer answer says
	// NoProofKey).
	KeyType KeyType
	// ProofToken is the requestor's proof of possession; nil for none.
	ProofToken *ProofToken
	// Entropy is the issuer's entropy for a computed key, written as a
	// BinarySecret of type Nonce; nil for none.
	Entropy []byte
	// EncryptedEntropy is the issuer's entropy encrypted for the requestor
	// (an xenc:EncryptedKey), written inside Entropy instead of Entropy's
	// BinarySecret when the answer does not travel over TLS; nil for none.
	EncryptedEntropy *etree.Element
	// KeySize is the size in bits of the proof key; 0 for none.
	KeySize int
	// Status is the outcome of a Validate; nil for none.
	Status *Status
	// Cancelled writes RequestedTokenCancelled (the answer to a Cancel).
	Cancelled bool
}

// ProofToken is a RequestedProofToken: exactly one of its fields is set.
type ProofToken struct {
	// BinarySecret is a key the issuer chose, sent in clear (over TLS).
	BinarySecret []byte
	// ComputedKey is the algorithm URI by which both sides derive the key
	// from the two entropies, e.g. .../CK/PSHA1.
	ComputedKey string
	// Element is a prepared proof token content: an xenc:EncryptedKey
	// holding the key the issuer chose, encrypted for the requestor's
	// certificate when the answer does not travel over TLS.
	Element *etree.Element
}

// StatusCode is the result of a Validate.
type StatusCode int

// Validate results.
const (
	StatusValid StatusCode = iota + 1
	StatusInvalid
)

// URI returns the status code URI in version v.
func (c StatusCode) URI(v Version) string {
	switch c {
	case StatusValid:
		return v.Namespace() + "/status/valid"
	case StatusInvalid:
		return v.Namespace() + "/status/invalid"
	}
	return ""
}

// Status is wst:Status: the code and an optional reason.
type Status struct {
	Code   StatusCode
	Reason string
}

// prefix returns the trust prefix AD FS uses for the version.
func (v Version) prefix() string {
	if v == V2005 {
		return "t"
	}
	return "trust"
}

// Action returns the wsa:Action of the response.
func (r *RSTR) Action() string {
	return r.requestType().ResponseAction(r.Version)
}

// requestType is the request type answered (Issue unless set).
func (r *RSTR) requestType() RequestType {
	if r.RequestType == RequestNone {
		return RequestIssue
	}
	return r.RequestType
}

// Build returns the SOAP Body content of the response: a 1.3 Issue answer is
// a RequestSecurityTokenResponseCollection holding the RSTR; every other
// answer is the bare RSTR. It moves Token and the references into the new
// tree, so call it once per RSTR.
func (r *RSTR) Build() (*etree.Element, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	p := r.Version.prefix()
	var root, rstr *etree.Element
	if r.Version == V13 && r.requestType() == RequestIssue {
		root = etree.NewElement(p + ":RequestSecurityTokenResponseCollection")
		rstr = root.CreateElement(p + ":RequestSecurityTokenResponse")
	} else {
		root = etree.NewElement(p + ":RequestSecurityTokenResponse")
		rstr = root
	}
	root.CreateAttr("xmlns:"+p, r.Version.Namespace())
	if r.Context != "" {
		rstr.CreateAttr("Context", r.Context)
	}
	r.writeChildren(rstr, p)
	return root, nil
}

// check refuses an RSTR that cannot be written correctly.
func (r *RSTR) check() error {
	if r.Version != V13 && r.Version != V2005 {
		return errors.New("RSTR: unknown WS-Trust version")
	}
	if r.ProofToken != nil {
		set := 0
		for _, b := range []bool{r.ProofToken.BinarySecret != nil, r.ProofToken.ComputedKey != "", r.ProofToken.Element != nil} {
			if b {
				set++
			}
		}
		if set != 1 {
			return fmt.Errorf("RSTR: proof token must have exactly one form, has %d", set)
		}
	}
	if r.Entropy != nil && r.EncryptedEntropy != nil {
		return errors.New("RSTR: entropy must be either in clear or encrypted, not both")
	}
	if r.KeySize < 0 {
		return fmt.Errorf("RSTR: negative key size %d", r.KeySize)
	}
	if lt := r.Lifetime; lt != nil && !lt.Created.IsZero() && !lt.Expires.IsZero() && !lt.Expires.After(lt.Created) {
		return errors.New("RSTR: lifetime expires before it is created")
	}
	return nil
}

// writeChildren writes the RSTR's children in the AD FS order.
func (r *RSTR) writeChildren(rstr *etree.Element, p string) {
	if r.Lifetime != nil {
		writeLifetime(rstr.CreateElement(p+":Lifetime"), r.Lifetime)
	}
	if r.AppliesTo != "" {
		writeAppliesTo(rstr, r.AppliesTo)
	}
	if r.Token != nil {
		rstr.CreateElement(p + ":RequestedSecurityToken").AddChild(r.Token)
	}
	if r.AttachedReference != nil {
		rstr.CreateElement(p + ":RequestedAttachedReference").AddChild(r.AttachedReference)
	}
	if r.UnattachedReference != nil {
		rstr.CreateElement(p + ":RequestedUnattachedReference").AddChild(r.UnattachedReference)
	}
	textChild(rstr, p+":TokenType", r.TokenType)
	textChild(rstr, p+":RequestType", r.RequestType.URI(r.Version))
	textChild(rstr, p+":KeyType", r.KeyType.URI(r.Version))
	if r.ProofToken != nil {
		r.writeProofToken(rstr.CreateElement(p+":RequestedProofToken"), p)
	}
	if r.Entropy != nil {
		bs := rstr.CreateElement(p + ":Entropy").CreateElement(p + ":BinarySecret")
		bs.CreateAttr("Type", r.Version.Namespace()+"/Nonce")
		bs.SetText(base64.StdEncoding.EncodeToString(r.Entropy))
	}
	if r.EncryptedEntropy != nil {
		rstr.CreateElement(p + ":Entropy").AddChild(r.EncryptedEntropy)
	}
	if r.KeySize > 0 {
		textChild(rstr, p+":KeySize", strconv.Itoa(r.KeySize))
	}
	if r.Status != nil {
		st := rstr.CreateElement(p + ":Status")
		textChild(st, p+":Code", r.Status.Code.URI(r.Version))
		textChild(st, p+":Reason", r.Status.Reason)
	}
	if r.Cancelled {
		rstr.CreateElement(p + ":RequestedTokenCancelled")
	}
}

// writeProofToken writes the content of RequestedProofToken.
func (r *RSTR) writeProofToken(rpt *etree.Element, p string) {
	switch pt := r.ProofToken; {
	case pt.BinarySecret != nil:
		rpt.CreateElement(p + ":BinarySecret").SetText(base64.StdEncoding.EncodeToString(pt.BinarySecret))
	case pt.ComputedKey != "":
		rpt.CreateElement(p + ":ComputedKey").SetText(pt.ComputedKey)
	default:
		rpt.AddChild(pt.Element)
	}
}

// writeLifetime writes wsu:Created and wsu:Expires, each declaring wsu as
// AD FS does.
func writeLifetime(lt *etree.Element, l *Lifetime) {
	for _, f := range []struct {
		local string
		t     time.Time
	}{{"Created", l.Created}, {"Expires", l.Expires}} {
		if f.t.IsZero() {
			continue
		}
		e := lt.CreateElement("wsu:" + f.local)
		e.CreateAttr("xmlns:wsu", NamespaceUtility)
		e.SetText(FormatTime(f.t))
	}
}

// writeAppliesTo writes wsp:AppliesTo/wsa:EndpointReference/wsa:Address.
func writeAppliesTo(parent *etree.Element, address string) {
	at := parent.CreateElement("wsp:AppliesTo")
	at.CreateAttr("xmlns:wsp", NamespacePolicy200409)
	epr := at.CreateElement("wsa:EndpointReference")
	epr.CreateAttr("xmlns:wsa", namespaceWSA10)
	epr.CreateElement("wsa:Address").SetText(address)
}

// textChild adds a child with text, unless the text is empty.
func textChild(parent *etree.Element, tag, text string) {
	if text != "" {
		parent.CreateElement(tag).SetText(text)
	}
}
