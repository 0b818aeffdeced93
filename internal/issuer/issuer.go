// Package issuer decides what token a request gets: it takes who the caller
// is, what they asked for and the current policy, and returns the signed
// token inside the RSTR to send back.
package issuer

import (
	"context"
	"crypto/x509"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/beevik/etree"
	"github.com/go-logr/logr"

	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/saml"
	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/wssec"
	"github.com/trustbroker/trustbroker/internal/wstrust"
	"github.com/trustbroker/trustbroker/internal/xmlsec"
)

// Role claims are written the way WIF and AD FS name them, so that
// .NET relying parties see the memberships as roles.
const (
	roleClaim20         = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"
	roleClaimNamespace  = "http://schemas.microsoft.com/ws/2008/06/identity/claims"
	roleClaimName11     = "role"
	defaultNamespace11  = "http://schemas.xmlsoap.org/claims"
	accessDeniedMessage = "Access denied."
)

// Principal is an authenticated caller.
type Principal struct {
	User *policy.User
	// Method is how the caller authenticated.
	Method saml.AuthnKind
	// Instant is when it authenticated.
	Instant time.Time
	// Certificate is the caller's, when it proved possession of its key
	// (an X.509 message signature or a TLS client certificate); it can be the
	// proof key of a holder-of-key token.
	Certificate *x509.Certificate
}

// Request is one request as the issuer sees it.
type Request struct {
	// Ctx carries the request's deadline to user and replay stores; nil
	// means context.Background.
	Ctx context.Context
	// Who is the authenticated requestor. A nil User is an anonymous
	// requestor, which gets no token: it cannot be an allowed requestor
	// for translation either.
	Who Principal
	RST *wstrust.RST
	// Token resolves a "#id" reference into the request's Security header
	// (for UseKey and token references); nil when there is no header.
	Token func(ref string) (*etree.Element, bool)
	// Store records cancelled tokens: a store of their own, so that no
	// other kind of record can push a cancellation out; nil keeps them in
	// this process only.
	Store wssec.ReplayStore
	Now   time.Time
	// ConfidentialTransport is true when the request came over TLS (to this
	// server, or through a trusted proxy that says so): only then may a
	// symmetric proof key be sent to the requestor in clear.
	ConfidentialTransport bool
}

// Issuer issues tokens. It is safe for concurrent use.
type Issuer struct {
	// Log receives what is ignored rather than refused (e.g. Claims of an
	// unknown dialect); the zero Logger discards.
	Log logr.Logger

	mu sync.Mutex
	// signer is built once per policy generation: building one checks the
	// key and certificate, which need not happen per token.
	signer    *xmlsec.Signer
	signerGen uint64
	// reviewers are the clients of the trusted issuers' token review
	// webhooks, which validate custom token types.
	reviewers webhookClients
}

// Handle answers a request of any RequestType: Issue, Validate, Renew or
// Cancel. Validate, Renew and Cancel need an authenticated requestor with a
// role the STS allows.
func (is *Issuer) Handle(snap *policy.Snapshot, req Request) (*wstrust.RSTR, error) {
	switch req.RST.RequestType {
	case wstrust.RequestValidate, wstrust.RequestRenew, wstrust.RequestCancel:
		if req.Who.User == nil {
			return nil, soap.Faultf(soap.TrustFailedAuthentication, "The requestor must authenticate.")
		}
		if !policy.HasAnyRole(snap.STS.AllowedRoles, req.Who.User.Roles) {
			return nil, soap.NewFault(soap.TrustFailedAuthentication, accessDeniedMessage,
				fmt.Errorf("user %q has roles %v; the STS allows %v", req.Who.User.Name, req.Who.User.Roles, snap.STS.AllowedRoles))
		}
	}
	switch req.RST.RequestType {
	case wstrust.RequestValidate:
		return is.Validate(snap, req)
	case wstrust.RequestRenew:
		return is.Renew(snap, req)
	case wstrust.RequestCancel:
		return is.Cancel(snap, req)
	}
	return is.Issue(snap, req)
}

// Issue answers an Issue request. With OnBehalfOf or ActAs the token is
// issued for the identity the presented token names (see translation).
func (is *Issuer) Issue(snap *policy.Snapshot, req Request) (*wstrust.RSTR, error) {
	rst := req.RST
	if req.Token == nil {
		req.Token = func(string) (*etree.Element, bool) { return nil, false }
	}
	if rst.RequestType != wstrust.RequestIssue {
		return nil, soap.Faultf(soap.InvalidRequest, "RequestType %s is not supported on this endpoint yet; send %s", rst.RequestTypeURI, wstrust.RequestIssue.URI(rst.Version))
	}
	rp, err := relyingParty(snap, rst.AppliesTo)
	if err != nil {
		return nil, err
	}
	subject, err := is.translation(snap, &req)
	if err != nil {
		return nil, err
	}
	if err := checkRoles(snap, rp, req.Who); err != nil {
		return nil, err
	}
	return is.issueFor(snap, req, rp, subject)
}

// checkRoles lets only requestors with a role the STS and the relying party
// allow obtain tokens.
func checkRoles(snap *policy.Snapshot, rp *policy.RelyingParty, who Principal) error {
	if who.User == nil {
		return soap.Faultf(soap.TrustFailedAuthentication, "The requestor must authenticate.")
	}
	if !policy.HasAnyRole(snap.STS.AllowedRoles, who.User.Roles) || !policy.HasAnyRole(rp.AllowedRoles, who.User.Roles) {
		return soap.NewFault(soap.TrustFailedAuthentication, accessDeniedMessage,
			fmt.Errorf("user %q has roles %v; the STS allows %v and relying party %s allows %v", who.User.Name, who.User.Roles, snap.STS.AllowedRoles, rp.Name, rp.AllowedRoles))
	}
	return nil
}

// issueFor builds, signs and (when the relying party asks) encrypts a token
// for the requestor, or for subject when it is not nil, and answers with it.
func (is *Issuer) issueFor(snap *policy.Snapshot, req Request, rp *policy.RelyingParty, subject *Identity) (*wstrust.RSTR, error) {
	rst := req.RST
	kind, tokenTypeURI, err := tokenType(rst, rp)
	if err != nil {
		return nil, err
	}
	p, err := proofFor(req, rp)
	if err != nil {
		return nil, err
	}

	version := saml.SAML20
	if kind == wstrust.TokenSAML11 {
		version = saml.SAML11
	}
	var a *saml.Assertion
	if subject == nil {
		a, err = assertion(snap, rp, req.Who, rst, version, p, req.Now)
	} else {
		a, err = translatedAssertion(snap, rp, subject, &req, version, p)
	}
	if err != nil {
		return nil, err
	}
	if a.Attributes, err = applyClaims(is.Log, rst.Claims, rp, a.Attributes, version); err != nil {
		return nil, err
	}
	if rst.Renewing != nil && !rst.Renewing.Allow {
		// After the claims filter: the mark is the STS's, not a claim the
		// requestor chooses.
		a.Attributes = append(a.Attributes, notRenewable(version))
	}
	token, err := is.sign(snap, version, a)
	if err != nil {
		return nil, err
	}
	if rp.Encryption != nil && rp.Encryption.Tokens {
		if token, err = encryptToken(token, version, rp, req.Now); err != nil {
			return nil, err
		}
	}

	appliesTo := rst.AppliesTo
	if appliesTo == "" {
		appliesTo = rp.Endpoint
	}
	return &wstrust.RSTR{
		Version:   rst.Version,
		Context:   rst.Context,
		TokenType: tokenTypeURI,
		Token:     token,
		// The references name the assertion even when it is encrypted: the
		// relying party finds it by ID once decrypted.
		AttachedReference:   wstrust.SAMLTokenReference(kind, a.ID),
		UnattachedReference: wstrust.SAMLTokenReference(kind, a.ID),
		Lifetime:            &wstrust.Lifetime{Created: a.NotBefore, Expires: a.NotOnOrAfter},
		AppliesTo:           appliesTo,
		RequestType:         wstrust.RequestIssue,
		KeyType:             p.keyType,
		ProofToken:          p.token,
		Entropy:             p.entropy,
		EncryptedEntropy:    p.encryptedEntropy,
		KeySize:             p.keySize,
	}, nil
}

// sign builds the assertion in version v and signs it with the STS's key.
func (is *Issuer) sign(snap *policy.Snapshot, v saml.Version, a *saml.Assertion) (*etree.Element, error) {
	signer, err := is.Signer(snap)
	if err != nil {
		return nil, soap.NewFault(soap.RequestFailed, "The STS cannot sign tokens at the moment.", err)
	}
	token, err := saml.BuildSigned(v, a, signer)
	if err != nil {
		return nil, soap.NewFault(soap.RequestFailed, "The token could not be built.", err)
	}
	return token, nil
}

// encryptToken encrypts a signed assertion for the relying party: SAML 2.0
// as an EncryptedAssertion, SAML 1.1 as a bare EncryptedData (SAML 1.1 has
// no wrapper of its own).
func encryptToken(token *etree.Element, v saml.Version, rp *policy.RelyingParty, now time.Time) (*etree.Element, error) {
	encrypter, err := encrypterFor(rp, now, "tokens")
	if err != nil {
		return nil, err
	}
	data, err := encrypter.EncryptElement(token)
	if err != nil {
		return nil, soap.NewFault(soap.RequestFailed, "The token could not be encrypted for the relying party.", err)
	}
	if v == saml.SAML11 {
		return data, nil
	}
	wrapper := etree.NewElement("saml2:EncryptedAssertion")
	wrapper.CreateAttr("xmlns:saml2", saml.NamespaceSAML20)
	wrapper.AddChild(data)
	return wrapper, nil
}

// relyingParty finds the relying party of an AppliesTo.
func relyingParty(snap *policy.Snapshot, appliesTo string) (*policy.RelyingParty, error) {
	rp, ok := snap.RelyingPartyFor(appliesTo)
	switch {
	case ok:
		return rp, nil
	case appliesTo == "":
		return nil, soap.Faultf(soap.InvalidRequest, "The request has no AppliesTo and this STS has no default relying party: name the relying party in wsp:AppliesTo.")
	default:
		return nil, soap.Faultf(soap.InvalidRequest, "No relying party is registered for AppliesTo %q.", appliesTo)
	}
}

// tokenType picks the token kind and the TokenType URI to answer with: the
// form the client asked for, or the urn:oasis:names:tc:SAML form that ADAL
// and MSAL (which never ask) accept.
func tokenType(rst *wstrust.RST, rp *policy.RelyingParty) (wstrust.TokenKind, string, error) {
	switch rst.TokenKind {
	case wstrust.TokenSAML20, wstrust.TokenSAML11:
		return rst.TokenKind, rst.TokenType, nil
	case wstrust.TokenNone:
		kind := wstrust.TokenSAML20
		if rp.TokenType == policy.SAML11 {
			kind = wstrust.TokenSAML11
		}
		return kind, kind.DefaultURI(rst.Version), nil
	default:
		return 0, "", soap.Faultf(soap.InvalidRequest, "TokenType %q is not issued by this STS; ask for SAML 2.0 or SAML 1.1.", rst.TokenType)
	}
}

func keyTypeList(rp *policy.RelyingParty) string {
	names := make([]string, len(rp.AllowedKeyTypes))
	for i, k := range rp.AllowedKeyTypes {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}

// Signer returns the signer for snap's signing key, made once per policy
// generation.
func (is *Issuer) Signer(snap *policy.Snapshot) (*xmlsec.Signer, error) {
	is.mu.Lock()
	defer is.mu.Unlock()
	if is.signer != nil && is.signerGen == snap.Generation {
		return is.signer, nil
	}
	k := snap.STS.Signing
	sig, err := xmlsec.ParseSignatureAlgorithm(k.SignatureAlgorithm)
	if err != nil {
		return nil, err
	}
	digest, err := xmlsec.ParseDigestAlgorithm(k.DigestAlgorithm)
	if err != nil {
		return nil, err
	}
	// The resource chose the algorithms, SHA-1 included: it is the opt-in.
	s, err := xmlsec.NewSigner(k.Signer, k.Chain, sig, digest, xmlsec.AlgorithmPolicy{AllowSHA1: true})
	if err != nil {
		return nil, err
	}
	is.signer, is.signerGen = s, snap.Generation
	return s, nil
}
