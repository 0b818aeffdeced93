package issuer

import (
	"errors"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/wssec"
	"github.com/trustbroker/trustbroker/internal/wstrust"
)

// Validate answers a Validate request. The ValidateTarget (inline, or a
// reference into the Security header) is checked like an OnBehalfOf token:
// issued here and not cancelled, or by a trusted issuer whose usages
// include Validate, or a custom token whose type is allowed. A TokenType of
// .../RSTR/Status (or none) is answered with the status alone; a SAML
// TokenType exchanges a valid token for a new one for the AppliesTo, with
// its subject and attributes carried over (as CXF and AD FS do).
func (is *Issuer) Validate(snap *policy.Snapshot, req Request) (*wstrust.RSTR, error) {
	rst := req.RST
	if rst.ValidateTarget == nil {
		return nil, soap.Faultf(soap.InvalidRequest, "wst:ValidateTarget is missing: send the token to validate.")
	}
	exchange := false
	switch rst.TokenKind {
	case wstrust.TokenNone, wstrust.TokenStatus:
	case wstrust.TokenSAML20, wstrust.TokenSAML11:
		exchange = true
	default:
		return nil, soap.Faultf(soap.InvalidRequest, "Validate answers with a status (TokenType %s) or a SAML token; %q is not issued here.",
			wstrust.TokenStatus.DefaultURI(rst.Version), rst.TokenType)
	}
	el, err := presentedElement(rst.ValidateTarget, req.Token, "wst:ValidateTarget")
	if err != nil {
		return nil, err
	}
	id, err := is.validateToken(snap, &req, el)
	status := &wstrust.Status{Code: wstrust.StatusValid, Reason: "The token is valid."}
	if err != nil {
		var f *soap.Fault
		if !errors.As(err, &f) || f.Code.Receiver {
			return nil, err // the STS, not the token, failed
		}
		status = &wstrust.Status{Code: wstrust.StatusInvalid, Reason: f.Reason}
	}
	if !exchange || status.Code == wstrust.StatusInvalid {
		tokenType := rst.TokenType
		if rst.TokenKind != wstrust.TokenStatus {
			tokenType = wstrust.TokenStatus.DefaultURI(rst.Version)
		}
		return &wstrust.RSTR{Version: rst.Version, Context: rst.Context, RequestType: wstrust.RequestValidate, TokenType: tokenType, Status: status}, nil
	}
	rp, err := relyingParty(snap, rst.AppliesTo)
	if err != nil {
		return nil, err
	}
	rstr, err := is.issueFor(snap, req, rp, id)
	if err != nil {
		return nil, err
	}
	rstr.RequestType, rstr.Status = wstrust.RequestValidate, status
	return rstr, nil
}

// validateToken checks a token presented for validation and returns whom
// it names.
func (is *Issuer) validateToken(snap *policy.Snapshot, req *Request, el *etree.Element) (*Identity, error) {
	use := tokenUse{usage: policy.UsageValidate, what: "The token"}
	switch {
	case isAssertion(el):
		tok, err := is.verifySAML(req.ctx(), snap, req, el, use)
		if err != nil {
			return nil, err
		}
		return identityOf(tok), nil
	case soap.IsElement(el, wssec.NSSecExt, "UsernameToken"):
		return nil, soap.Faultf(soap.InvalidRequest, "UsernameTokens are not validated by this STS.")
	default:
		return is.pluginIdentity(req.ctx(), snap, el, req, use)
	}
}
