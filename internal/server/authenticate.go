package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/trustbroker/trustbroker/internal/issuer"
	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/saml"
	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/wssec"
	"github.com/trustbroker/trustbroker/internal/xmlsec"
)

// caller runs the request through the inbound message-security pipeline
// (wssec.Inbound) and names the principal it authenticated.
func (s *Server) caller(r *http.Request, ep endpoint, snap *policy.Snapshot, env *soap.Envelope, now time.Time) (*wssec.Caller, error) {
	base, err := s.inbound.forSnapshot(snap)
	if err != nil {
		return nil, soap.NewFault(soap.RequestFailed, "The STS cannot check credentials at the moment.", err)
	}
	negotiate, err := negotiateToken(r)
	if err != nil {
		return nil, err
	}
	t := wssec.Transport{TLS: r.TLS != nil, Negotiate: negotiate}
	if r.TLS != nil {
		t.PeerCertificates = r.TLS.PeerCertificates
	}
	in := *base
	in.Replay = s.stores(snap).Replay
	in.CheckCredentials = ep.checkCredentials
	guard := attemptGuard{s: s, r: r}
	if snap.STS.Lockout.Enabled() {
		guard.lockout = s.lockoutGuard(r, snap)
	}
	in.Attempts = guard
	return in.Process(r.Context(), env, t, now)
}

// principal is the issuer's view of an authenticated caller: a certificate
// or Kerberos caller gets the roles and attributes the user store holds
// for its name. A certificate that names nobody (see certificatePrincipal)
// is refused, and so is any caller when the store fails.
func principal(ctx context.Context, snap *policy.Snapshot, c *wssec.Caller, now time.Time) (issuer.Principal, error) {
	switch c.Method {
	case wssec.Password:
		return issuer.Principal{User: c.User, Method: saml.AuthnPassword, Instant: now, Certificate: c.Certificate}, nil
	case wssec.X509Signature, wssec.TLSCertificate:
		who, err := certificatePrincipal(c.Certificate, snap.STS.X509.Identity, now)
		if err != nil {
			return issuer.Principal{}, err
		}
		return withStoredUser(ctx, snap, who)
	case wssec.Kerberos:
		id := c.Kerberos
		// upn is the principal, as AD FS states it for Kerberos callers.
		who := issuer.Principal{User: &policy.User{Name: id.Name(), Attributes: map[string][]string{"realm": {id.Realm}, "upn": {id.Name()}}}, Method: saml.AuthnKerberos, Instant: id.AuthTime}
		return withStoredUser(ctx, snap, who)
	}
	return issuer.Principal{}, nil
}

// noCredentials refuses a request that carried no credentials and may not
// go on as an anonymous token translation.
func noCredentials(c *wssec.Caller) error {
	if c.Header == nil {
		return wssec.Denied(errors.New("the request has no wsse:Security header and no TLS client certificate"))
	}
	return soap.Faultf(soap.UnsupportedSecurityToken, "The request carries no credentials this STS accepts: send a wsse:UsernameToken, an X.509 signature, a Kerberos ticket or a TLS client certificate.")
}

// inboundPipelines builds a snapshot's wssec.Inbound once per policy
// generation: parsing a keytab or a decryption key need not happen per
// request.
type inboundPipelines struct {
	mu  sync.Mutex
	gen uint64
	in  *wssec.Inbound
}

func (c *inboundPipelines) forSnapshot(snap *policy.Snapshot) (*wssec.Inbound, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.in != nil && c.gen == snap.Generation {
		return c.in, nil
	}
	in, err := newInbound(snap)
	if err != nil {
		return nil, err
	}
	c.in, c.gen = in, snap.Generation
	return in, nil
}

// newInbound turns the STS's authentication settings into a pipeline.
func newInbound(snap *policy.Snapshot) (*wssec.Inbound, error) {
	sts := &snap.STS
	in := &wssec.Inbound{MaxClockSkew: sts.MaxClockSkew, MaxMessageAge: sts.MaxMessageAge}
	if d := sts.RequestDecryption; d != nil {
		allowed := xmlsec.EncryptionPolicy{}
		for _, name := range d.DataAlgorithms {
			a, err := xmlsec.ParseDataAlgorithm(name)
			if err != nil {
				return nil, fmt.Errorf("requestDecryption: %w", err)
			}
			allowed.Data = append(allowed.Data, a)
		}
		in.Decrypter = &xmlsec.Decrypter{Key: d.Key, Allowed: allowed}
	}
	if sts.X509.Enabled {
		in.X509 = &wssec.X509Trust{Roots: sts.X509.Roots, Pinned: sts.X509.Pinned}
	}
	if k := sts.Kerberos; k != nil {
		v, err := wssec.NewKerberosVerifier(k.ServicePrincipal, k.Keytab, sts.MaxClockSkew)
		if err != nil {
			return nil, err
		}
		in.Kerberos = v
	}
	if sts.UsernameToken.Enabled && snap.Users != nil {
		in.Passwords = passwords{users: snap.Users, auth: sts.UsernameToken}
	}
	return in, nil
}

// passwords checks UsernameTokens against the snapshot's user store.
type passwords struct {
	users policy.UserStore
	auth  policy.UsernameTokenAuth
}

// CheckPassword implements wssec.PasswordChecker.
func (p passwords) CheckPassword(ctx context.Context, ut *wssec.UsernameToken) (*policy.User, error) {
	if !ut.HasPassword {
		return nil, wssec.Denied(fmt.Errorf("UsernameToken for %q has no password", ut.Username))
	}
	u, err := wssec.CheckPassword(ctx, p.users, p.auth, ut)
	switch {
	case errors.Is(err, wssec.ErrPasswordTextRefused):
		return nil, soap.Faultf(soap.UnsupportedSecurityToken, "PasswordText is not accepted by this STS; send a PasswordDigest.")
	case errors.Is(err, wssec.ErrPasswordDigestRefused):
		return nil, soap.Faultf(soap.UnsupportedSecurityToken, "PasswordDigest is not accepted by this STS; send the password as PasswordText over TLS.")
	case err != nil:
		return nil, storeFault(ut.Username, err)
	}
	return u, nil
}

// storeFault answers a user store's error: wrong credentials (or none to
// check a digest against) deny access; anything else is the store failing,
// which the caller must not mistake for a wrong password.
func storeFault(username string, err error) *soap.Fault {
	if wssec.IsWrongCredential(err) {
		return wssec.Denied(fmt.Errorf("user %q: %w", username, err))
	}
	return wssec.StoreFailure(username, err)
}
