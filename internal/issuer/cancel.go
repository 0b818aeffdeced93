package issuer

import (
	"context"
	"fmt"
	"time"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/wssec"
	"github.com/trustbroker/trustbroker/internal/wstrust"
)

// cancelKeyPrefix prefixes a cancelled assertion's ID in the replay store.
const cancelKeyPrefix = "cancel:"

// Cancel answers a Cancel request: the CancelTarget, a token this STS
// issued, is recorded as cancelled until it would have expired (plus the
// clock skew), under "cancel:" + its ID in the replay store. Later
// Validate, Renew and OnBehalfOf/ActAs requests refuse it.
func (is *Issuer) Cancel(snap *policy.Snapshot, req Request) (*wstrust.RSTR, error) {
	rst := req.RST
	if rst.CancelTarget == nil {
		return nil, soap.Faultf(soap.InvalidRequest, "wst:CancelTarget is missing: send the token to cancel.")
	}
	el, err := presentedElement(rst.CancelTarget, req.Token, "wst:CancelTarget")
	if err != nil {
		return nil, err
	}
	tok, err := is.ownToken(snap, el, req.Now, "The token to cancel", soap.InvalidRequest)
	if err != nil {
		return nil, err
	}
	until := tok.a.NotOnOrAfter
	if until.IsZero() {
		until = req.Now.Add(snap.STS.TokenLifetime)
	}
	if err := recordCancelled(req.ctx(), req.Store, tok.a.ID, until.Add(snap.STS.MaxClockSkew), req.Now); err != nil {
		return nil, err
	}
	return &wstrust.RSTR{Version: rst.Version, Context: rst.Context, RequestType: wstrust.RequestCancel, Cancelled: true}, nil
}

// ownToken verifies that el is an assertion this STS signed (with its
// current signing certificate) and reads it; code is the fault code of a
// refusal.
func (is *Issuer) ownToken(snap *policy.Snapshot, el *etree.Element, now time.Time, what string, code soap.FaultCode) (*samlToken, error) {
	if !isAssertion(el) {
		return nil, soap.NewFault(code, what+" is not a SAML assertion issued by this STS.", fmt.Errorf("got {%s}%s", truncate(el.NamespaceURI(), 120), truncate(el.Tag, 60)))
	}
	v := versionOfElement(el)
	claimed := claimedIssuer(el, v)
	if claimed != snap.STS.Issuer {
		return nil, soap.NewFault(code, what+" was not issued by this STS.", fmt.Errorf("issuer %q", truncate(claimed, 200)))
	}
	tok, err := is.verifySignature(snap, el, v, claimed, tokenUse{what: what}, now)
	if err != nil {
		return nil, soap.NewFault(code, what+" does not carry a valid signature of this STS.", err)
	}
	return tok, nil
}

// recordCancelled keeps id in the store as cancelled until the given time;
// a Redis store shares it with every replica.
func recordCancelled(ctx context.Context, store wssec.ReplayStore, id string, until, now time.Time) error {
	ttl := until.Sub(now)
	if ttl <= 0 {
		return nil // already unusable: nothing to remember
	}
	if _, err := store.Seen(ctx, cancelKeyPrefix+id, ttl); err != nil {
		return soap.NewFault(soap.RequestFailed, "The cancellation could not be recorded at the moment.", err)
	}
	return nil
}

// isCancelled reports whether id was cancelled on any replica sharing the store.
func isCancelled(ctx context.Context, store wssec.ReplayStore, id string) (bool, error) {
	held, err := store.Holds(ctx, cancelKeyPrefix+id)
	if err != nil {
		return false, soap.NewFault(soap.RequestFailed, "Cancelled tokens cannot be checked at the moment.", err)
	}
	return held, nil
}
