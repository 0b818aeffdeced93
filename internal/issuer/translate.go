package issuer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/beevik/etree"
	"github.com/russellhaering/goxmldsig/etreeutils"

	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/saml"
	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/wssec"
)

// actorClaim records the actors of an ActAs token, as WIF names it.
const actorClaim = "http://schemas.xmlsoap.org/ws/2009/09/identity/claims/actor"

// translation reads the OnBehalfOf or ActAs token of an Issue request and
// returns whom it names; nil when the request carries neither. The
// requestor must be listed in onBehalfOf.allowedRequestors, checked before
// the token is read so that an unlisted requestor learns nothing of it, and
// the token must be of a type listed in onBehalfOf.allowedTokenTypes.
func (is *Issuer) translation(snap *policy.Snapshot, req *Request) (*Identity, error) {
	rst := req.RST
	container, use, name := rst.OnBehalfOf, tokenUse{usage: policy.UsageOnBehalfOf, what: "The OnBehalfOf token"}, "wst:OnBehalfOf"
	if rst.ActAs != nil {
		if container != nil {
			return nil, soap.Faultf(soap.InvalidRequest, "Send either wst:OnBehalfOf or wst:ActAs, not both.")
		}
		container, use, name = rst.ActAs, tokenUse{usage: policy.UsageActAs, what: "The ActAs token"}, "wst:ActAs"
	}
	if container == nil {
		return nil, nil
	}
	if err := mayDelegate(snap, req.Who, name); err != nil {
		return nil, err
	}
	obo := snap.STS.OnBehalfOf
	el, err := presentedElement(container, req.Token, name)
	if err != nil {
		return nil, err
	}
	switch {
	case soap.IsElement(el, wssec.NSSecExt, "UsernameToken"):
		if !obo.AllowsTokenType(tokenTypeUsernameToken) {
			return nil, notTranslated(use, tokenTypeUsernameToken)
		}
		return usernameIdentity(req.ctx(), snap, el, req, use)
	case isAssertion(el):
		t := string(policyTokenType(versionOfElement(el)))
		if !obo.AllowsTokenType(t) {
			return nil, notTranslated(use, t)
		}
		tok, err := is.verifySAML(req.ctx(), snap, req, el, use)
		if err != nil {
			return nil, err
		}
		return identityOf(tok), nil
	default:
		return is.pluginIdentity(req.ctx(), snap, el, req, use)
	}
}

func notTranslated(use tokenUse, tokenType string) error {
	return soap.NewFault(soap.InvalidRequest, fmt.Sprintf("%s is a %s, which this STS does not accept for %s.", use.what, tokenType, use.usage),
		fmt.Errorf("onBehalfOf.allowedTokenTypes does not list %s", tokenType))
}

// usernameIdentity reads a UsernameToken presented for someone: with a
// password, the password is checked against the user store; without one,
// the allowed requestor vouches for the name, and the user store supplies
// the roles and attributes when it knows the user.
func usernameIdentity(ctx context.Context, snap *policy.Snapshot, el *etree.Element, req *Request, use tokenUse) (*Identity, error) {
	ut, err := parseUsernameToken(el)
	if err != nil {
		return nil, err
	}
	if snap.Users == nil {
		return nil, soap.Faultf(soap.InvalidRequest, "%s is a UsernameToken, but this STS has no user store.", use.what)
	}
	if ut.HasPassword {
		u, err := checkPresentedPassword(ctx, snap, ut, req)
		if err != nil {
			return nil, err
		}
		return &Identity{User: u, Subject: saml.Subject{NameID: u.Name}, Authn: saml.AuthnPassword, AuthnInstant: req.Now}, nil
	}
	u := &policy.User{Name: ut.Username}
	if lookup, ok := snap.Users.(policy.UserLookup); ok {
		found, err := lookup.Lookup(ctx, ut.Username)
		switch {
		case errors.Is(err, policy.ErrBadCredentials):
		case err != nil:
			return nil, soap.NewFault(soap.RequestFailed, "The user store cannot be reached at the moment.", err)
		default:
			u = found
		}
	}
	return &Identity{User: u, Subject: saml.Subject{NameID: u.Name}, Authn: saml.AuthnUnspecified, AuthnInstant: req.Now}, nil
}

// parseUsernameToken reads a UsernameToken through the WS-Security parser,
// inside a Security element of its own.
func parseUsernameToken(el *etree.Element) (*wssec.UsernameToken, error) {
	ctx, err := etreeutils.NSBuildParentContext(el)
	if err != nil {
		return nil, soap.NewFault(soap.InvalidRequest, "The UsernameToken cannot be read.", err)
	}
	cp, err := etreeutils.NSDetatch(ctx, el)
	if err != nil {
		return nil, soap.NewFault(soap.InvalidRequest, "The UsernameToken cannot be read.", err)
	}
	sec := etree.NewElement("wsse:Security")
	sec.CreateAttr("xmlns:wsse", wssec.NSSecExt)
	sec.AddChild(cp)
	h, err := wssec.ParseHeader(sec)
	if err != nil {
		return nil, err
	}
	if len(h.UsernameTokens) != 1 {
		return nil, soap.Faultf(soap.InvalidRequest, "The UsernameToken cannot be read.")
	}
	return h.UsernameTokens[0], nil
}

// checkPresentedPassword checks a presented UsernameToken's password as the
// STS checks a caller's: the same allowed forms, the same freshness.
func checkPresentedPassword(ctx context.Context, snap *policy.Snapshot, ut *wssec.UsernameToken, req *Request) (*policy.User, error) {
	auth := snap.STS.UsernameToken
	if ut.IsDigest() && auth.AllowDigest {
		if err := wssec.CheckUsernameTokenFreshness(ut, req.Now, snap.STS.MaxClockSkew, presentedTokenMaxAge); err != nil {
			return nil, err
		}
	}
	u, err := wssec.CheckPassword(ctx, snap.Users, auth, ut)
	switch {
	case errors.Is(err, wssec.ErrPasswordTextRefused):
		return nil, soap.Faultf(soap.InvalidRequest, "PasswordText is not accepted by this STS; send a PasswordDigest.")
	case errors.Is(err, wssec.ErrPasswordDigestRefused):
		return nil, soap.Faultf(soap.InvalidRequest, "PasswordDigest is not accepted by this STS.")
	case wssec.IsWrongCredential(err):
		return nil, soap.NewFault(soap.TrustFailedAuthentication, "The presented UsernameToken's credentials could not be verified.",
			fmt.Errorf("presented user %q: %w", ut.Username, err))
	case err != nil:
		return nil, wssec.StoreFailure(ut.Username, err)
	}
	return u, nil
}

// translatedAssertion shapes the token for a translated identity. A local
// user (UsernameToken) is issued like an authenticated caller. A token's
// subject keeps its NameID and format, its attributes are carried over
// (see translateAttributes) and its authentication is restated in version
// v. ActAs adds the actor chain and, in SAML 2.0, the presented assertion
// as Advice.
func translatedAssertion(snap *policy.Snapshot, rp *policy.RelyingParty, id *Identity, req *Request, v saml.Version, p *proof) (*saml.Assertion, error) {
	who := Principal{User: id.User, Method: id.Authn, Instant: id.AuthnInstant}
	target := rp
	if id.User == nil {
		// A foreign subject has no local attributes to name it by or to
		// take memberships from: its own NameID and attributes are used.
		plain := *rp
		plain.NameID, plain.IncludeMemberships = policy.NameID{}, false
		target = &plain
		who.User = &policy.User{Name: id.Subject.NameID}
	}
	a, err := assertion(snap, target, who, req.RST, v, p, req.Now)
	if err != nil {
		return nil, err
	}
	if id.User == nil {
		a.Subject = id.Subject
		if a.Subject.Format == "" {
			a.Subject.Format = saml.NameIDUnspecified
		}
		a.Attributes = translateAttributes(snap, rp, id, v)
	}
	if req.RST.ActAs == nil {
		return a, nil
	}
	actors := append([]string(nil), id.Actors...)
	if req.Who.User != nil {
		actors = append(actors, req.Who.User.Name)
	}
	if len(actors) > 0 {
		a.Attributes = append(a.Attributes, convertAttribute(saml.Attribute{Name: actorClaim, Namespace: saml.AttrNameFormatURI, Values: actors}, saml.SAML20, v, ""))
	}
	if v == saml.SAML20 && id.Assertion != nil {
		advice := etree.NewElement("saml2:Advice")
		advice.AddChild(id.Assertion.Copy())
		a.Advice = advice
	}
	return a, nil
}

// presentedTokenMaxAge bounds how old a presented PasswordDigest token may be.
const presentedTokenMaxAge = 5 * time.Minute

func isAssertion(el *etree.Element) bool {
	return soap.IsElement(el, saml.NamespaceSAML20, "Assertion") || soap.IsElement(el, saml.NamespaceSAML11, "Assertion")
}

func versionOfElement(el *etree.Element) saml.Version {
	if el.NamespaceURI() == saml.NamespaceSAML11 {
		return saml.SAML11
	}
	return saml.SAML20
}

// ctx is the request's context, or Background when none was given.
func (r *Request) ctx() context.Context {
	if r.Ctx == nil {
		return context.Background()
	}
	return r.Ctx
}
