package issuer

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"math/big"
	"slices"
	"time"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/saml"
	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/wstrust"
)

// renewableClaim marks a token issued for a request with wst:Renewing
// Allow="false", which WS-Trust says must not be renewed. The signed token
// is the only record every replica sees, so the mark travels in it; it
// appears only on such tokens, with the value "false".
const renewableClaim = "http://trustbroker.io/claims/renewable"

// notRenewable is the mark of renewableClaim in version v.
func notRenewable(v saml.Version) saml.Attribute {
	return convertAttribute(saml.Attribute{Name: renewableClaim, Namespace: saml.AttrNameFormatURI, Values: []string{"false"}}, saml.SAML20, v, "")
}

// markedNotRenewable reports whether a carries the mark of notRenewable.
func markedNotRenewable(a *saml.Assertion) bool {
	for _, at := range a.Attributes {
		if claimName(at, a.Version) == renewableClaim && slices.Contains(at.Values, "false") {
			return true
		}
	}
	return false
}

// Renew answers a Renew request. The RenewTarget must be a token this STS
// issued (signed with its current or a listed previous key) and not
// cancelled; the requestor must be its subject or listed in
// onBehalfOf.allowedRequestors; it must not have been issued with
// wst:Renewing Allow="false"; a holder-of-key token needs proof of its key
// (see checkProof). It may be renewed until renewal.maxLifetime has passed
// since its first issue, while valid, or once expired only with
// renewal.allowAfterExpiry and wst:Renewing OK="true".
//
// The renewed token has a new ID and a fresh lifetime as long as the
// original's, cut at the end of maxLifetime, with the same subject,
// confirmation, audiences, attributes and authentication. It keeps the
// original IssueInstant: that is the first issue maxLifetime counts from,
// carried in the signed token so that renewing again cannot restart it.
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
	if !isSubject(snap, req.Who, old) && !isAllowedRequestor(snap.STS.OnBehalfOf.AllowedRequestors, req.Who) {
		return nil, soap.NewFault(soap.UnableToRenew, "Only the token's subject, or a requestor listed in spec.onBehalfOf.allowedRequestors, may renew it.",
			fmt.Errorf("%s is neither the subject of assertion %s nor an allowed requestor", describeRequestor(req.Who), old.ID))
	}
	if markedNotRenewable(old) {
		return nil, soap.NewFault(soap.UnableToRenew, `The token was issued for a request with wst:Renewing Allow="false" and cannot be renewed; request a new one.`,
			fmt.Errorf("assertion %s", old.ID))
	}
	if err := checkProof(old, req.Who); err != nil {
		return nil, err
	}
	renewal := snap.STS.Renewal
	if renewal.MaxLifetime <= 0 {
		renewal.MaxLifetime = policy.DefaultRenewalMaxLifetime
	}
	if err := checkRenewable(old, rst.Renewing, renewal, snap.STS.MaxClockSkew, req.Now); err != nil {
		return nil, err
	}

	life := old.NotOnOrAfter.Sub(old.NotBefore)
	if old.NotBefore.IsZero() || old.NotOnOrAfter.IsZero() || life <= 0 {
		life = snap.STS.TokenLifetime
	}
	first := firstIssue(old)
	end := req.Now.Add(life)
	if limit := first.Add(renewal.MaxLifetime); end.After(limit) {
		end = limit
	}
	renewed := *old
	renewed.ID, renewed.IssueInstant = saml.NewID(), first
	renewed.NotBefore, renewed.NotOnOrAfter = req.Now, end
	if !renewed.Confirmation.NotOnOrAfter.IsZero() {
		renewed.Confirmation.NotOnOrAfter = renewed.NotOnOrAfter
	}
	if rst.Renewing != nil && !rst.Renewing.Allow {
		// Asked of a renewal, it holds for the renewed token.
		renewed.Attributes = append(slices.Clip(renewed.Attributes), notRenewable(old.Version))
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

// firstIssue is when a token of this STS was first issued: its
// IssueInstant, which renewals keep. A token without one counts from its
// NotBefore; without either, it is past any maxLifetime.
func firstIssue(a *saml.Assertion) time.Time {
	if !a.IssueInstant.IsZero() {
		return a.IssueInstant
	}
	return a.NotBefore
}

// checkRenewable refuses a token first issued maxLifetime ago or longer,
// and an expired one unless the STS allows renewing expired tokens and the
// requestor said it accepts that (Renewing OK).
func checkRenewable(a *saml.Assertion, renewing *wstrust.Renewing, r policy.Renewal, skew time.Duration, now time.Time) error {
	first := firstIssue(a)
	if first.IsZero() || !now.Before(first.Add(r.MaxLifetime)) {
		return soap.NewFault(soap.UnableToRenew, fmt.Sprintf("The token was first issued more than %s ago and can no longer be renewed; request a new one.", r.MaxLifetime),
			fmt.Errorf("assertion %s first issued at %s; renewal.maxLifetime is %s", a.ID, first.Format(time.RFC3339), r.MaxLifetime))
	}
	if a.NotOnOrAfter.IsZero() || now.Add(-skew).Before(a.NotOnOrAfter) {
		return nil
	}
	expired := fmt.Errorf("assertion %s expired at %s", a.ID, a.NotOnOrAfter.Format(time.RFC3339))
	if !r.AllowAfterExpiry {
		return soap.NewFault(soap.UnableToRenew, "The token has expired, and this STS renews only tokens that are still valid; request a new one.",
			fmt.Errorf("%w; renewal.allowAfterExpiry is off", expired))
	}
	if renewing == nil || !renewing.OK {
		return soap.NewFault(soap.RenewNeeded, `The token has expired; to renew it anyway, send wst:Renewing OK="true".`, expired)
	}
	return nil
}

// isSubject reports whether who is the subject of a token this STS issued:
// its NameID is the requestor's user name, or the name the relying party of
// one of the token's audiences gives the requestor (a mapped attribute such
// as mail).
func isSubject(snap *policy.Snapshot, who Principal, a *saml.Assertion) bool {
	if who.User == nil {
		return false
	}
	if a.Subject.NameID == who.User.Name {
		return true
	}
	for _, aud := range a.Audiences {
		rp, ok := snap.RelyingPartyFor(aud)
		if !ok || rp.NameID.Attribute == "" {
			continue
		}
		if name, err := subjectName(rp, who.User); err == nil && name == a.Subject.NameID {
			return true
		}
	}
	return false
}

// checkProof lets a holder-of-key token be renewed only by whoever proves
// it holds the token's key, as a renewed token is as good as the original:
// a token bound to a certificate or an RSA key needs a request signed with
// that key (or made with its certificate as the TLS client certificate). A
// symmetric proof key was encrypted for the relying party and the STS kept
// no copy, so it cannot tell whether a request was signed with it: such
// tokens are not renewed at all.
func checkProof(a *saml.Assertion, who Principal) error {
	if a.Confirmation.Method != saml.HolderOfKey {
		return nil
	}
	ki := a.Confirmation.KeyInfo
	if ki == nil || soap.ChildElement(ki, soap.NamespaceXEnc, "EncryptedKey") != nil {
		return soap.NewFault(soap.UnableToRenew, "A token bound to a symmetric proof key cannot be renewed; request a new one.", fmt.Errorf("assertion %s", a.ID))
	}
	bound, err := boundKey(ki)
	if err != nil {
		return soap.NewFault(soap.UnableToRenew, "The token's proof key cannot be read, so it cannot be renewed; request a new one.", fmt.Errorf("assertion %s: %w", a.ID, err))
	}
	if who.Certificate == nil || !publicKeysEqual(bound, who.Certificate.PublicKey) {
		return soap.NewFault(soap.UnableToRenew, "A holder-of-key token is renewed only for a request signed with its proof key (or made with its certificate over TLS).",
			fmt.Errorf("%s did not prove the key of assertion %s", describeRequestor(who), a.ID))
	}
	return nil
}

// boundKey reads the public key of a holder-of-key KeyInfo, as publicKeyProof
// writes it: an X509Certificate or an RSAKeyValue.
func boundKey(ki *etree.Element) (crypto.PublicKey, error) {
	if data := soap.ChildElement(ki, soap.NamespaceDSig, "X509Data"); data != nil {
		c := soap.ChildElement(data, soap.NamespaceDSig, "X509Certificate")
		if c == nil {
			return nil, fmt.Errorf("X509Data without an X509Certificate")
		}
		der, err := base64.StdEncoding.DecodeString(soap.CollapsedText(c))
		if err != nil {
			return nil, fmt.Errorf("proof certificate: %w", err)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("proof certificate: %w", err)
		}
		return cert.PublicKey, nil
	}
	if kv := soap.ChildElement(ki, soap.NamespaceDSig, "KeyValue"); kv != nil {
		if rk := soap.ChildElement(kv, soap.NamespaceDSig, "RSAKeyValue"); rk != nil {
			n, errN := base64Int(soap.ChildElement(rk, soap.NamespaceDSig, "Modulus"))
			e, errE := base64Int(soap.ChildElement(rk, soap.NamespaceDSig, "Exponent"))
			if errN != nil || errE != nil || !e.IsInt64() || e.Int64() > 1<<31-1 {
				return nil, fmt.Errorf("RSAKeyValue cannot be read")
			}
			return &rsa.PublicKey{N: n, E: int(e.Int64())}, nil
		}
	}
	return nil, fmt.Errorf("KeyInfo holds neither a certificate nor an RSA key")
}

func base64Int(el *etree.Element) (*big.Int, error) {
	if el == nil {
		return nil, fmt.Errorf("missing")
	}
	b, err := base64.StdEncoding.DecodeString(soap.CollapsedText(el))
	if err != nil || len(b) == 0 {
		return nil, fmt.Errorf("not base64")
	}
	return new(big.Int).SetBytes(b), nil
}

// publicKeysEqual compares two public keys of any supported kind.
func publicKeysEqual(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(x crypto.PublicKey) bool })
	return ok && k.Equal(b)
}
