package issuer

import (
	"context"
	"crypto/x509"
	"fmt"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/saml"
	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/wssec"
	"github.com/trustbroker/trustbroker/internal/wstrust"
	"github.com/trustbroker/trustbroker/internal/xmlsec"
)

// Token type names of onBehalfOf.allowedTokenTypes for the built-in kinds.
const (
	tokenTypeUsernameToken = "UsernameToken"
	tokenTypeSAML11        = string(policy.SAML11)
	tokenTypeSAML20        = string(policy.SAML20)
)

// presentedElement returns the token a container (OnBehalfOf, ActAs, a
// target) holds: its one child element, or the element a
// SecurityTokenReference in it names in the Security header (by
// wsse:Reference URI or by a SAML KeyIdentifier). what names the container
// in fault reasons.
func presentedElement(container *etree.Element, resolve func(string) (*etree.Element, bool), what string) (*etree.Element, error) {
	children := container.ChildElements()
	if len(children) != 1 {
		return nil, soap.Faultf(soap.InvalidRequest, "%s must hold exactly one token; it holds %d elements.", what, len(children))
	}
	el := children[0]
	if !soap.IsElement(el, wssec.NSSecExt, "SecurityTokenReference") {
		return el, nil
	}
	ref := ""
	if r := soap.ChildElement(el, wssec.NSSecExt, "Reference"); r != nil {
		ref = r.SelectAttrValue("URI", "")
	} else if ki := soap.ChildElement(el, wssec.NSSecExt, "KeyIdentifier"); ki != nil {
		ref = soap.CollapsedText(ki)
	}
	if resolve == nil {
		resolve = func(string) (*etree.Element, bool) { return nil, false }
	}
	target, ok := resolve(ref)
	if strings.TrimSpace(ref) == "" || !ok {
		return nil, soap.NewFault(soap.InvalidRequest, what+" refers to a token that is not in the Security header; send the token itself.",
			fmt.Errorf("reference %q", truncate(ref, 120)))
	}
	return target, nil
}

// samlToken is a verified SAML assertion and what the STS knows of it.
type samlToken struct {
	a *saml.Assertion
	// verified is the element xmlsec returned: the only one to read.
	verified *etree.Element
	// own is true for a token this STS issued.
	own bool
}

// tokenUse is what a presented token is used for: a trusted issuer usage,
// and the wording of fault reasons.
type tokenUse struct {
	usage string // policy.Usage*
	what  string // "The OnBehalfOf token", ...
}

// verifySAML checks a presented assertion: issued by this STS (verified
// with its own signing certificate, not cancelled) or by a trusted issuer
// allowed for the use and token type (verified with the issuer's
// certificates, audience naming this STS when restricted); valid at now
// within the clock skew.
func (is *Issuer) verifySAML(ctx context.Context, snap *policy.Snapshot, req *Request, el *etree.Element, use tokenUse) (*samlToken, error) {
	v := saml.SAML20
	if el.NamespaceURI() == saml.NamespaceSAML11 {
		v = saml.SAML11
	}
	claimed := claimedIssuer(el, v)
	tok, err := is.verifySignature(snap, el, v, claimed, use, req.Now)
	if err != nil {
		return nil, err
	}
	if err := checkValidity(tok.a, snap.STS.MaxClockSkew, req.Now, use.what); err != nil {
		return nil, err
	}
	if tok.own {
		cancelled, err := isCancelled(ctx, req.Store, tok.a.ID)
		if err != nil {
			return nil, err
		}
		if cancelled {
			return nil, soap.NewFault(soap.InvalidSecurityToken, use.what+" was cancelled.", fmt.Errorf("assertion %s", tok.a.ID))
		}
		return tok, nil
	}
	if len(tok.a.Audiences) > 0 && !containsAny(tok.a.Audiences, snap.STS.Issuer, snap.STS.Endpoint) {
		return nil, soap.NewFault(soap.InvalidRequest, use.what+" is meant for another audience, not this STS.",
			fmt.Errorf("audiences %v; this STS is %q / %q", tok.a.Audiences, snap.STS.Issuer, snap.STS.Endpoint))
	}
	return tok, nil
}

// verifySignature finds the certificates for the claimed issuer, verifies
// the signature with them and parses the verified element.
func (is *Issuer) verifySignature(snap *policy.Snapshot, el *etree.Element, v saml.Version, claimed string, use tokenUse, now time.Time) (*samlToken, error) {
	certs, algs, own, err := issuerCertificates(snap, claimed, v, use)
	if err != nil {
		return nil, err
	}
	verified, err := xmlsec.VerifyAt(el, v.IDAttr(), certs, algs, now)
	if err != nil {
		return nil, soap.NewFault(soap.InvalidSecurityToken, use.what+" has a signature that is not valid.", fmt.Errorf("issuer %q: %w", claimed, err))
	}
	a, err := saml.Parse(verified)
	if err != nil {
		return nil, soap.NewFault(soap.InvalidSecurityToken, use.what+" is not a well-formed SAML assertion.", err)
	}
	if a.Issuer != claimed {
		return nil, soap.NewFault(soap.InvalidSecurityToken, use.what+" has a signature that is not valid.", fmt.Errorf("verified issuer %q differs from %q", a.Issuer, claimed))
	}
	return &samlToken{a: a, verified: verified, own: own}, nil
}

// issuerCertificates returns the certificates and algorithms that may sign
// a token of the claimed issuer for the use.
func issuerCertificates(snap *policy.Snapshot, claimed string, v saml.Version, use tokenUse) ([]*x509.Certificate, xmlsec.AlgorithmPolicy, bool, error) {
	if claimed == snap.STS.Issuer && len(snap.STS.Signing.Chain) > 0 {
		// The STS's own algorithm choice is its opt-in to SHA-1.
		sha1 := strings.Contains(snap.STS.Signing.SignatureAlgorithm, "sha1") || snap.STS.Signing.DigestAlgorithm == "sha1"
		return snap.STS.Signing.OwnCertificates(), xmlsec.AlgorithmPolicy{AllowSHA1: sha1}, true, nil
	}
	ti, ok := snap.TrustedIssuerFor(claimed)
	if !ok {
		return nil, xmlsec.AlgorithmPolicy{}, false, soap.NewFault(soap.TrustFailedAuthentication, use.what+" is from an issuer this STS does not trust.",
			fmt.Errorf("issuer %q is no TrustedIssuer", truncate(claimed, 200)))
	}
	if !ti.AllowsUsage(use.usage) {
		return nil, xmlsec.AlgorithmPolicy{}, false, soap.NewFault(soap.InvalidRequest, fmt.Sprintf("%s is from an issuer whose tokens may not be used for %s.", use.what, use.usage),
			fmt.Errorf("TrustedIssuer %s/%s allows %v", ti.Namespace, ti.Name, ti.AllowedUsages))
	}
	if !ti.AcceptsTokenType(policyTokenType(v)) {
		return nil, xmlsec.AlgorithmPolicy{}, false, soap.NewFault(soap.InvalidRequest, fmt.Sprintf("%s is a %s token, which is not accepted from its issuer.", use.what, v),
			fmt.Errorf("TrustedIssuer %s/%s accepts %v", ti.Namespace, ti.Name, ti.TokenTypes))
	}
	return ti.Certificates, xmlsec.AlgorithmPolicy{AllowSHA1: ti.AllowSHA1}, false, nil
}

// checkValidity refuses a token outside its validity window, allowing skew.
func checkValidity(a *saml.Assertion, skew time.Duration, now time.Time, what string) error {
	if !a.NotBefore.IsZero() && now.Add(skew).Before(a.NotBefore) {
		return soap.NewFault(soap.InvalidSecurityToken, what+" is not valid yet.", fmt.Errorf("NotBefore %s", a.NotBefore.Format(time.RFC3339)))
	}
	if !a.NotOnOrAfter.IsZero() && !now.Add(-skew).Before(a.NotOnOrAfter) {
		return soap.NewFault(soap.InvalidSecurityToken, what+" has expired.", fmt.Errorf("NotOnOrAfter %s", a.NotOnOrAfter.Format(time.RFC3339)))
	}
	return nil
}

// claimedIssuer is the Issuer an assertion names, before verification: it
// only picks the certificates to verify with.
func claimedIssuer(el *etree.Element, v saml.Version) string {
	if v == saml.SAML11 {
		return strings.TrimSpace(el.SelectAttrValue("Issuer", ""))
	}
	if iss := soap.ChildElement(el, saml.NamespaceSAML20, "Issuer"); iss != nil {
		return soap.CollapsedText(iss)
	}
	return ""
}

func policyTokenType(v saml.Version) policy.TokenType {
	if v == saml.SAML11 {
		return policy.SAML11
	}
	return policy.SAML20
}

// identityOf is whom a verified assertion names. Its actor attribute, if
// any, becomes the Actors and is not carried as an ordinary attribute.
func identityOf(t *samlToken) *Identity {
	a := t.a
	id := &Identity{Subject: a.Subject, Version: a.Version, Issuer: a.Issuer, Assertion: t.verified}
	for _, at := range a.Attributes {
		if claimName(at, a.Version) == actorClaim {
			id.Actors = append(id.Actors, at.Values...)
			continue
		}
		id.Attributes = append(id.Attributes, at)
	}
	if a.Authn != nil {
		id.Authn, id.AuthnInstant = saml.AuthnKindOf(a.Authn.Method), a.Authn.Instant
	}
	return id
}

func containsAny(list []string, values ...string) bool {
	for _, l := range list {
		for _, v := range values {
			if v != "" && l == v {
				return true
			}
		}
	}
	return false
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// requestTokenKind is the TokenKind of the SAML version v.
func requestTokenKind(v saml.Version) wstrust.TokenKind {
	if v == saml.SAML11 {
		return wstrust.TokenSAML11
	}
	return wstrust.TokenSAML20
}
