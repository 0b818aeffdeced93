package issuer

import (
	"fmt"
	"strings"
	"time"

	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/saml"
	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/wstrust"
)

// assertion shapes the token for a relying party: subject, validity,
// audiences, authentication statement and attributes.
func assertion(snap *policy.Snapshot, rp *policy.RelyingParty, who Principal, rst *wstrust.RST, v saml.Version, p *proof, now time.Time) (*saml.Assertion, error) {
	nameID, err := subjectName(rp, who.User)
	if err != nil {
		return nil, err
	}
	notBefore, notOnOrAfter := now, now.Add(rp.TokenLifetime)
	// A client may ask for a shorter life than the policy's, never a longer one.
	if lt := rst.Lifetime; lt != nil && !lt.Expires.IsZero() && lt.Expires.After(now) && lt.Expires.Before(notOnOrAfter) {
		notOnOrAfter = lt.Expires
	}
	a := &saml.Assertion{
		ID:           saml.NewID(),
		IssueInstant: now,
		Issuer:       issuerName(snap, rp),
		Subject:      saml.Subject{NameID: nameID, Format: rp.NameID.Format},
		Confirmation: saml.SubjectConfirmation{Method: p.method, KeyInfo: p.keyInfo, NotOnOrAfter: notOnOrAfter},
		NotBefore:    notBefore,
		NotOnOrAfter: notOnOrAfter,
		Audiences:    rp.Audiences,
		Attributes:   attributes(rp, who.User, v),
	}
	if a.Subject.Format == "" {
		a.Subject.Format = saml.NameIDUnspecified
	}
	if v == saml.SAML20 && p.method == saml.Bearer && rst.AppliesTo != "" {
		a.Confirmation.Recipient = rst.AppliesTo
	}
	if !rp.AttributeStatementOnly {
		instant := who.Instant
		if instant.IsZero() {
			instant = now
		}
		a.Authn = &saml.AuthnStatement{Instant: instant, Method: saml.AuthnMethodURI(v, who.Method)}
	}
	return a, nil
}

// subjectName is the user's NameID: the mapped attribute, else the user name.
func subjectName(rp *policy.RelyingParty, u *policy.User) (string, error) {
	if rp.NameID.Attribute == "" {
		return u.Name, nil
	}
	values := u.Attributes[rp.NameID.Attribute]
	if len(values) == 0 || values[0] == "" {
		return "", soap.NewFault(soap.RequestFailed, fmt.Sprintf("The user has no %q attribute, which relying party %q uses as the subject name.", rp.NameID.Attribute, rp.Endpoint),
			fmt.Errorf("user %q lacks attribute %q (nameID of relying party %s)", u.Name, rp.NameID.Attribute, rp.Name))
	}
	return values[0], nil
}

// attributes maps the user's attributes, and memberships when asked, into
// the token. Users without a mapped attribute simply do not get it.
func attributes(rp *policy.RelyingParty, u *policy.User, v saml.Version) []saml.Attribute {
	var out []saml.Attribute
	for _, m := range rp.Attributes {
		values := u.Attributes[m.From]
		if len(values) == 0 {
			continue
		}
		out = append(out, saml.Attribute{Name: m.Name, Namespace: attributeNamespace(m, v), Values: values})
	}
	if rp.IncludeMemberships && len(u.Roles) > 0 {
		if v == saml.SAML11 {
			out = append(out, saml.Attribute{Name: roleClaimName11, Namespace: roleClaimNamespace, Values: u.Roles})
		} else {
			out = append(out, saml.Attribute{Name: roleClaim20, Namespace: saml.AttrNameFormatURI, Values: u.Roles})
		}
	}
	return out
}

// attributeNamespace is the SAML 1.1 AttributeNamespace (required there) or
// the SAML 2.0 NameFormat of a mapped attribute.
func attributeNamespace(m policy.AttributeMapping, v saml.Version) string {
	switch {
	case m.Namespace != "":
		return m.Namespace
	case v == saml.SAML11:
		return defaultNamespace11
	case strings.Contains(m.Name, ":"):
		return saml.AttrNameFormatURI
	default:
		return saml.AttrNameFormatBasic
	}
}

// issuerName is the Issuer of rp's tokens: its own when it sets one (a
// directory that expects an issuer URI per federated domain), else the STS's.
func issuerName(snap *policy.Snapshot, rp *policy.RelyingParty) string {
	if rp.Issuer != "" {
		return rp.Issuer
	}
	return snap.STS.Issuer
}
