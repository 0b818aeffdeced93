package issuer

import (
	"strings"

	"github.com/go-logr/logr"

	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/saml"
	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/wstrust"
)

// IdentityClaimsDialect is the wst:Claims dialect of ic:ClaimType
// elements (Information Cards, WIF, AD FS).
const IdentityClaimsDialect = "http://schemas.xmlsoap.org/ws/2005/05/identity"

// maxClaimTypes bounds the claims one request may ask for.
const maxClaimTypes = 256

// RequestedClaim is one ic:ClaimType of a request.
type RequestedClaim struct {
	URI      string
	Optional bool
}

// ParseClaims reads the ic:ClaimType children of wst:Claims in the identity
// dialect. ok is false for other dialects, which this STS does not
// interpret. A malformed ClaimType is a wst:InvalidRequest fault.
func ParseClaims(c *wstrust.Claims) (claims []RequestedClaim, ok bool, err error) {
	if c == nil || c.Element == nil || strings.TrimSpace(c.Dialect) != IdentityClaimsDialect {
		return nil, false, nil
	}
	for _, el := range soap.ChildElements(c.Element, IdentityClaimsDialect, "ClaimType") {
		if len(claims) == maxClaimTypes {
			return nil, true, soap.Faultf(soap.InvalidRequest, "wst:Claims asks for more than %d claims.", maxClaimTypes)
		}
		uri, _ := soap.AttrNS(el, "", "Uri")
		uri = strings.TrimSpace(uri)
		if uri == "" {
			return nil, true, soap.Faultf(soap.InvalidRequest, "wst:Claims has an ic:ClaimType without a Uri.")
		}
		rc := RequestedClaim{URI: uri}
		if raw, present := soap.AttrNS(el, "", "Optional"); present {
			switch strings.TrimSpace(raw) {
			case "true", "1":
				rc.Optional = true
			case "false", "0":
			default:
				return nil, true, soap.Faultf(soap.InvalidRequest, "ic:ClaimType %q has an Optional value that is not a boolean.", truncate(uri, 200))
			}
		}
		claims = append(claims, rc)
	}
	return claims, true, nil
}

// applyClaims restricts the token's attributes to the requested claims. A
// required claim the relying party does not map, or the subject lacks, is
// a wst:InvalidRequest fault naming it. Claims of other dialects are
// logged and ignored; no Claims leaves the attributes as they are.
func applyClaims(log logr.Logger, c *wstrust.Claims, rp *policy.RelyingParty, attrs []saml.Attribute, v saml.Version) ([]saml.Attribute, error) {
	claims, ok, err := ParseClaims(c)
	if err != nil {
		return nil, err
	}
	if !ok {
		if c != nil {
			log.Info("wst:Claims of an unsupported dialect ignored", "dialect", truncate(c.Dialect, 200), "relyingParty", rp.Name)
		}
		return attrs, nil
	}
	keep := make([]bool, len(attrs))
	for _, rc := range claims {
		found := false
		for i, at := range attrs {
			if at.Name == rc.URI || claimName(at, v) == rc.URI {
				keep[i], found = true, true
			}
		}
		switch {
		case found || rc.Optional:
		case !mapsClaim(rp, rc.URI, v):
			return nil, soap.Faultf(soap.InvalidRequest, "The required claim %s is not provided for relying party %q.", rc.URI, rp.Endpoint)
		default:
			return nil, soap.Faultf(soap.InvalidRequest, "The required claim %s has no value for this subject.", rc.URI)
		}
	}
	var out []saml.Attribute
	for i, at := range attrs {
		if keep[i] {
			out = append(out, at)
		}
	}
	return out, nil
}

// mapsClaim reports whether the relying party's configuration issues the
// claim: one of its attribute mappings, or the role claim of memberships.
func mapsClaim(rp *policy.RelyingParty, uri string, v saml.Version) bool {
	for _, m := range rp.Attributes {
		if m.Name == uri || joinClaim(attributeNamespace(m, v), m.Name) == uri {
			return true
		}
	}
	return rp.IncludeMemberships && uri == roleClaim20
}
