package wssec

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/xmlsec"
)

// Inbound is the STS's inbound message security: every request passes
// through Process, which decides who is calling in one fixed order:
//
//  1. parse the one Security header addressed to the STS;
//  2. decrypt and verify in the order the header gives (its first child
//     was applied last), so sign-then-encrypt clients such as WCF and
//     encrypt-then-sign clients both work;
//  3. a caller authenticated by a signature must send a wsu:Timestamp that
//     the signature covers;
//  4. freshness: the Timestamp, and the Created of every UsernameToken;
//  5. replay of the signed message and of Kerberos authenticators;
//  6. token authentication: the UsernameToken's password (then its nonce
//     is recorded), the X.509 or Kerberos signature's signer, or the TLS
//     client certificate.
//
// From the first decryption until the caller is authenticated every
// failure gets one and the same fault, so that the STS cannot serve as a
// decryption oracle; the log keeps the cause, which never quotes decrypted
// content.
type Inbound struct {
	// Decrypter decrypts with the STS's request-decryption key; nil
	// refuses encrypted requests.
	Decrypter *xmlsec.Decrypter
	// X509 decides which signing and TLS client certificates authenticate
	// a caller; nil refuses certificate callers.
	X509 *X509Trust
	// Kerberos checks Kerberos tickets; nil refuses them.
	Kerberos *KerberosVerifier
	// Passwords checks UsernameToken passwords; nil refuses them.
	Passwords PasswordChecker
	// Attempts, when set, may refuse a caller before its credentials are
	// checked and is told of every failed authentication (lockout).
	Attempts AttemptGuard
	// CheckCredentials, when set, refuses credentials the endpoint does
	// not accept, once the header is decrypted and before any is checked.
	CheckCredentials func(h *Header, t Transport) error
	// Replay keeps replay records.
	Replay ReplayStore
	// MaxClockSkew and MaxMessageAge bound the freshness checks.
	MaxClockSkew, MaxMessageAge time.Duration
}

// PasswordChecker checks the password of a UsernameToken against a user
// store and returns the user.
type PasswordChecker interface {
	CheckPassword(ctx context.Context, ut *UsernameToken) (*policy.User, error)
}

// AttemptGuard throttles sign-in attempts.
type AttemptGuard interface {
	// Allow refuses the attempt when the caller, or the user it names
	// (empty when it names none), may not try now.
	Allow(ctx context.Context, username string) error
	// Failed counts a failed authentication.
	Failed(ctx context.Context, username string)
}

// Transport is what the connection tells about the caller.
type Transport struct {
	// TLS is set when the request came over TLS to this server.
	TLS bool
	// PeerCertificates are the TLS client certificate chain, leaf first.
	PeerCertificates []*x509.Certificate
	// Negotiate is the Kerberos token of an HTTP "Authorization:
	// Negotiate" header; it is accepted only over TLS.
	Negotiate []byte
}

// Method says how a caller authenticated.
type Method int

// Authentication methods.
const (
	// Anonymous: the request carried no credentials at all.
	Anonymous Method = iota
	Password
	X509Signature
	TLSCertificate
	Kerberos
)

// Caller is the outcome of Process.
type Caller struct {
	Method Method
	// Header is the decrypted Security header, nil when there was none.
	Header *Header
	// User is the user a password authenticated.
	User *policy.User
	// Certificate is the certificate the caller proved it holds: the
	// message signer (also beside a UsernameToken) or the TLS client.
	Certificate *x509.Certificate
	// Kerberos is the verified ticket's client.
	Kerberos *KerberosIdentity
	// Signature is the verified message signature, nil when unsigned.
	Signature *MessageSignature
	// Decrypted reports whether any part of the request was encrypted:
	// the caller's later faults about the request's content must stay as
	// uninformative as Process's (see Opaque).
	Decrypted bool
}

// Opaque is the one fault for every failure from the first decryption until
// the caller is authenticated: the same code and text whatever went wrong
// (padding, algorithm, parse, signature, password), with the cause kept for
// the log only.
func Opaque(cause error) *soap.Fault {
	return soap.NewFault(soap.InvalidSecurity, "The security of the request could not be verified.", cause)
}

// Process authenticates the caller of env at now. It changes env: the
// encrypted parts are replaced by their plaintext.
func (in *Inbound) Process(ctx context.Context, env *soap.Envelope, t Transport, now time.Time) (*Caller, error) {
	p := &inbound{Inbound: in, env: env, t: t, now: now, caller: &Caller{}}
	err := p.run(ctx)
	if err != nil && in.Attempts != nil && !p.refused && isAuthenticationFailure(err) && carriesCredentials(p.caller.Header, t) {
		// A caller that hangs up must still be counted.
		in.Attempts.Failed(context.WithoutCancel(ctx), p.username)
	}
	if err != nil && p.caller.Decrypted {
		return nil, Opaque(err)
	}
	if err != nil {
		return nil, err
	}
	return p.caller, nil
}

// inbound is one request's way through the pipeline.
type inbound struct {
	*Inbound
	env      *soap.Envelope
	t        Transport
	now      time.Time
	caller   *Caller
	security *etree.Element
	// username is the UsernameToken's name once known, for lockout.
	username string
	// refused is set when Attempts refused the caller: that is no new
	// failure to count.
	refused bool
}

func (p *inbound) run(ctx context.Context) error {
	if err := p.parseHeader(); err != nil {
		return err
	}
	if err := p.allow(ctx); err != nil {
		return err
	}
	if err := p.unwrap(); err != nil {
		return err
	}
	if err := p.checkCredentials(); err != nil {
		return err
	}
	if err := p.verifySignature(); err != nil {
		return err
	}
	if err := p.checkFreshness(); err != nil {
		return err
	}
	guard := ReplayGuard{Store: p.Replay, MaxSkew: p.MaxClockSkew, MaxMessageAge: p.MaxMessageAge}
	if p.caller.Signature != nil {
		if err := guard.Message(ctx, p.caller.Header, p.now); err != nil {
			return err
		}
	}
	if p.caller.Kerberos != nil {
		if err := guard.Kerberos(ctx, p.caller.Kerberos, p.now); err != nil {
			return err
		}
	}
	return p.authenticate(ctx, &guard)
}

// allow asks Attempts whether the caller may try now.
func (p *inbound) allow(ctx context.Context) error {
	if p.Attempts == nil {
		return nil
	}
	err := p.Attempts.Allow(ctx, p.username)
	p.refused = err != nil
	return err
}

// parseHeader finds and parses the one Security header.
func (p *inbound) parseHeader() error {
	blocks := p.env.Blocks(NSSecExt, "Security")
	switch len(blocks) {
	case 0:
		return nil
	case 1:
	default:
		return soap.Faultf(soap.InvalidSecurity, "The request has %d wsse:Security headers for this STS; send one.", len(blocks))
	}
	p.security = blocks[0]
	return p.reparse()
}

// reparse reads the Security header again after a part of it was decrypted.
func (p *inbound) reparse() error {
	h, err := ParseHeader(p.security)
	if err != nil {
		return err
	}
	p.caller.Header = h
	if len(h.UsernameTokens) == 1 {
		p.username = h.UsernameTokens[0].Username
	}
	return nil
}

// unwrap decrypts the request: the parts each EncryptedKey of the header
// lists, in header order, then a Body that carries its own key. A
// signature met before a decryption (encrypt-then-sign) is verified over
// the ciphertext first; one met after (sign-then-encrypt) over the
// plaintext, once everything is decrypted.
func (p *inbound) unwrap() error {
	if p.security != nil {
		for i := 0; i < len(p.security.ChildElements()); i++ {
			c := p.security.ChildElements()[i]
			switch {
			case isEncryptedKeyList(c):
				if err := p.decrypt(func(d *xmlsec.Decrypter) error { return decryptListed(d, p.env, c) }); err != nil {
					return err
				}
			case soap.IsElement(c, NSDSig, "Signature") && p.caller.Signature == nil && p.needsDecryption(i):
				if err := p.verifySignature(); err != nil {
					return err
				}
			}
		}
	}
	if soap.IsElement(p.env.Body, xmlsec.NamespaceXEnc, "EncryptedData") {
		return p.decrypt(func(d *xmlsec.Decrypter) error { _, err := decryptBody(d, p.env); return err })
	}
	return nil
}

// needsDecryption reports whether a header child after position i still
// decrypts something: the signature at i was then applied after
// encryption and covers ciphertext.
func (p *inbound) needsDecryption(i int) bool {
	for _, c := range p.security.ChildElements()[i+1:] {
		if isEncryptedKeyList(c) {
			return true
		}
	}
	return false
}

// decrypt runs one decryption step and reads the message again.
func (p *inbound) decrypt(step func(*xmlsec.Decrypter) error) error {
	p.caller.Decrypted = true
	if p.Decrypter == nil {
		return soap.NewFault(soap.UnsupportedAlgorithm, "This STS does not accept encrypted requests.", errors.New("no requestDecryption key is configured"))
	}
	if err := step(p.Decrypter); err != nil {
		return err
	}
	if err := p.env.Reread(); err != nil {
		return err
	}
	if p.security != nil {
		return p.reparse()
	}
	return nil
}

func (p *inbound) checkCredentials() error {
	if p.CheckCredentials == nil {
		return nil
	}
	return p.CheckCredentials(p.caller.Header, p.t)
}

// verifySignature verifies the header's signature, if any and not yet
// verified: keyed by a Kerberos ticket's session key when its KeyInfo
// names the header's Kerberos token, else by an X.509 certificate.
func (p *inbound) verifySignature() error {
	h := p.caller.Header
	if h == nil || len(h.Signatures) == 0 || p.caller.Signature != nil {
		return nil
	}
	if bst := h.KerberosToken(); bst != nil {
		return p.verifyKerberosSignature(bst)
	}
	if p.X509 == nil {
		return soap.Faultf(soap.UnsupportedSecurityToken, "X.509 signed requests are not enabled on this STS.")
	}
	v := &SignatureVerifier{Trust: *p.X509}
	sig, err := v.Verify(p.env, h, p.now)
	if err != nil {
		return err
	}
	p.caller.Signature, p.caller.Certificate = sig, sig.Certificate
	return nil
}

// checkFreshness applies the Timestamp rules: a signed request needs a
// Timestamp its signature covers, and every Timestamp or UsernameToken
// Created must be within MaxMessageAge.
func (p *inbound) checkFreshness() error {
	h := p.caller.Header
	if h == nil {
		return nil
	}
	if sig := p.caller.Signature; sig != nil && (h.Timestamp == nil || !sig.Covers(h.Timestamp.Element)) {
		return soap.NewFault(soap.InvalidSecurity, "A signed request must carry a wsu:Timestamp that the signature covers.", nil)
	}
	if h.Timestamp != nil {
		if err := CheckTimestamp(h.Timestamp, p.now, p.MaxClockSkew, maxMessageAge(p.MaxMessageAge)); err != nil {
			return err
		}
	}
	for _, ut := range h.UsernameTokens {
		if err := CheckUsernameTokenFreshness(ut, p.now, p.MaxClockSkew, maxMessageAge(p.MaxMessageAge)); err != nil {
			return err
		}
	}
	return nil
}

// authenticate names the caller from the verified credentials.
func (p *inbound) authenticate(ctx context.Context, guard *ReplayGuard) error {
	h, c := p.caller.Header, p.caller
	if h != nil && h.KerberosToken() != nil && p.Kerberos == nil {
		return soap.Faultf(soap.UnsupportedSecurityToken, "Kerberos authentication is not enabled on this STS.")
	}
	if h != nil && h.KerberosToken() != nil && c.Kerberos == nil {
		return soap.NewFault(soap.InvalidSecurity, "A Kerberos token must sign the message (Body and Timestamp) with its session key.", nil)
	}
	switch {
	case len(p.t.Negotiate) > 0:
		return p.negotiate(ctx)
	case h != nil && len(h.UsernameTokens) > 1:
		return soap.Faultf(soap.InvalidSecurity, "The request carries %d UsernameTokens; send one.", len(h.UsernameTokens))
	case h != nil && len(h.UsernameTokens) == 1:
		return p.password(ctx, guard, h.UsernameTokens[0])
	case c.Kerberos != nil:
		c.Method = Kerberos
	case c.Signature != nil:
		c.Method = X509Signature
	case len(p.t.PeerCertificates) > 0:
		return p.tlsCertificate()
	}
	return nil
}

func (p *inbound) password(ctx context.Context, guard *ReplayGuard, ut *UsernameToken) error {
	if p.Passwords == nil {
		return soap.Faultf(soap.UnsupportedSecurityToken, "UsernameToken authentication is not enabled on this STS.")
	}
	if p.caller.Decrypted {
		// The name was encrypted when Allow was first asked.
		if err := p.allow(ctx); err != nil {
			return err
		}
	}
	user, err := p.Passwords.CheckPassword(ctx, ut)
	if err != nil {
		return err
	}
	if err := guard.UsernameToken(ctx, ut, p.now); err != nil {
		return err
	}
	p.caller.Method, p.caller.User = Password, user
	return nil
}

func (p *inbound) tlsCertificate() error {
	if p.X509 == nil {
		return Denied(errors.New("TLS client certificate: X.509 authentication is not enabled"))
	}
	chain := p.t.PeerCertificates
	trusted, err := p.X509.Verify(chain[0], chain[1:], p.now)
	if err != nil {
		return Denied(fmt.Errorf("TLS client certificate: %w", err))
	}
	p.caller.Method, p.caller.Certificate = TLSCertificate, trusted[0]
	return nil
}

// negotiate authenticates by the Kerberos token of HTTP Negotiate: only
// over TLS, where the channel binds the token to this request.
func (p *inbound) negotiate(ctx context.Context) error {
	if !p.t.TLS {
		return soap.NewFault(soap.InvalidSecurity, "HTTP Negotiate is accepted only over HTTPS.", errors.New("Negotiate on the plain HTTP listener"))
	}
	if p.Kerberos == nil {
		return soap.Faultf(soap.UnsupportedSecurityToken, "Kerberos authentication is not enabled on this STS.")
	}
	bst := &BinarySecurityToken{ValueType: ValueTypeKerberosGSSAPREQ, Value: p.t.Negotiate}
	id, err := p.Kerberos.Verify(ctx, bst, p.now, p.Replay)
	if err != nil {
		return err
	}
	p.caller.Method, p.caller.Kerberos = Kerberos, id
	return nil
}

// Denied is the fault for every failed authentication: the caller learns
// nothing about which part was wrong; the log says.
func Denied(cause error) *soap.Fault {
	return soap.NewFault(soap.FailedAuthentication, "Access denied: the credentials could not be verified.", cause)
}

// KerberosToken is the header's Kerberos BinarySecurityToken, if any.
func (h *Header) KerberosToken() *BinarySecurityToken {
	for _, bst := range h.BinarySecurityTokens {
		if bst.IsKerberos() {
			return bst
		}
	}
	return nil
}

// isAuthenticationFailure reports whether err says the credentials were
// wrong (a password, an untrusted certificate, a bad signature or ticket),
// as opposed to a refused option, an expired message or the STS failing.
func isAuthenticationFailure(err error) bool {
	var f *soap.Fault
	if !errors.As(err, &f) {
		return false
	}
	switch f.Code {
	case soap.FailedAuthentication, soap.TrustFailedAuthentication, soap.FailedCheck, soap.InvalidSecurityToken:
		return true
	}
	return false
}

// carriesCredentials reports whether the request presented any credential:
// a request with none (an anonymous token translation) has nothing to count.
func carriesCredentials(h *Header, t Transport) bool {
	if len(t.PeerCertificates) > 0 || len(t.Negotiate) > 0 {
		return true
	}
	return h != nil && (len(h.UsernameTokens) > 0 || len(h.BinarySecurityTokens) > 0 || len(h.Signatures) > 0)
}
