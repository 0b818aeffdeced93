package issuer

import (
	"fmt"
	"time"

	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/saml"
	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/wstrust"
)

// RenewGrace is how long after expiry a token may still be renewed, when
// the request says wst:Renewing OK="true".
const RenewGrace = 24 * time.Hour

// Renew answers a Renew request. The RenewTarget must be a token this STS
// issued (signed with its current key), not cancelled, and still valid, or
// expired for less than RenewGrace with wst:Renewing OK="true". It is
// re-issued with a new ID and a fresh lifetime as long as the original's,
// with the same subject, confirmation, audiences, attributes and
// authentication. The Renewing Allow="false" of an original Issue is not
// recorded, so every token this STS issued may be renewed.
func (is *Issuer) Renew(snap *policy.Snapshot, req Request) (*wstrust.RSTR, error) {
	rst := req.RST
	if rst.RenewTarget == nil {
		return nil, soap.Faultf(soap.InvalidRequest, "wst:RenewTarget is missing: send the token to renew.")
	}
	el, err := presentedElement(rst.RenewTarget, req.Token, "wst:RenewTarget")
	if err != nil {
		return nil, err
	}
	tok, err := is.ownToken(snap, el, req.Now, "The token to renew", soap.UnableToRenew)
	if err != nil {
		return nil, err
	}
	old := tok.a
	cancelled, err := isCancelled(req.ctx(), req.Store, old.ID)
	if err != nil {
		return nil, err
	}
	if cancelled {
		return nil, soap.NewFault(soap.UnableToRenew, "The token to renew was cancelled.", fmt.Errorf("assertion %s", old.ID))
	}
	if err := checkRenewable(old, rst.Renewing, snap.STS.MaxClockSkew, req.Now); err != nil {
		return nil, err
	}

	life := old.NotOnOrAfter.Sub(old.NotBefore)
	if old.NotBefore.IsZero() || old.NotOnOrAfter.IsZero() || life <= 0 {
		life = snap.STS.TokenLifetime
	}
	renewed := *old
	renewed.ID, renewed.IssueInstant = saml.NewID(), req.Now
	renewed.NotBefore, renewed.NotOnOrAfter = req.Now, req.Now.Add(life)
	if !renewed.Confirmation.NotOnOrAfter.IsZero() {
		renewed.Confirmation.NotOnOrAfter = renewed.NotOnOrAfter
	}
	token, err := is.sign(snap, old.Version, &renewed)
	if err != nil {
		return nil, err
	}
	kind := requestTokenKind(old.Version)
	tokenType := rst.TokenType
	if rst.TokenKind != kind {
		tokenType = kind.DefaultURI(rst.Version)
	}
	return &wstrust.RSTR{
		Version:             rst.Version,
		Context:             rst.Context,
		TokenType:           tokenType,
		Token:               token,
		AttachedReference:   wstrust.SAMLTokenReference(kind, renewed.ID),
		UnattachedReference: wstrust.SAMLTokenReference(kind, renewed.ID),
		Lifetime:            &wstrust.Lifetime{Created: renewed.NotBefore, Expires: renewed.NotOnOrAfter},
		AppliesTo:           rst.AppliesTo,
		RequestType:         wstrust.RequestRenew,
	}, nil
}

// checkRenewable refuses an expired token unless the requestor said it
// accepts renewing one (Renewing OK), and then only within RenewGrace.
func checkRenewable(a *saml.Assertion, renewing *wstrust.Renewing, skew time.Duration, now time.Time) error {
	if a.NotOnOrAfter.IsZero() || now.Add(-skew).Before(a.NotOnOrAfter) {
		return nil
	}
	if renewing == nil || !renewing.OK {
		return soap.NewFault(soap.RenewNeeded, `The token has expired; to renew it anyway, send wst:Renewing OK="true".`,
			fmt.Errorf("assertion %s expired at %s", a.ID, a.NotOnOrAfter.Format(time.RFC3339)))
	}
	if now.After(a.NotOnOrAfter.Add(RenewGrace)) {
		return soap.NewFault(soap.UnableToRenew, fmt.Sprintf("The token expired more than %s ago and can no longer be renewed.", RenewGrace),
			fmt.Errorf("assertion %s expired at %s", a.ID, a.NotOnOrAfter.Format(time.RFC3339)))
	}
	return nil
}
