package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/trustbroker/trustbroker/internal/issuer"
	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/saml"
	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/wssec"
)

// usernameTokenMaxAge bounds how old a PasswordDigest token's Created may be.
const usernameTokenMaxAge = 5 * time.Minute

// denied is the fault for every failed authentication: the caller learns
// nothing about which part was wrong; the log says.
func denied(cause error) *soap.Fault {
	return soap.NewFault(soap.FailedAuthentication, "Access denied: the credentials could not be verified.", cause)
}

// authenticate establishes who is calling: by the message's credentials (a
// UsernameToken, an X.509 signature, a Kerberos ticket) when it carries any,
// else by the TLS client certificate. A signature is verified whenever there
// is one; with a UsernameToken it names the certificate the caller proved
// it holds (for holder-of-key tokens bound to it).
func (s *Server) authenticate(ctx context.Context, snap *policy.Snapshot, env *soap.Envelope, h *wssec.Header, conn *tls.ConnectionState, now time.Time) (issuer.Principal, error) {
	if h != nil && h.Timestamp != nil {
		if err := wssec.CheckTimestamp(h.Timestamp, now, snap.STS.MaxClockSkew); err != nil {
			return issuer.Principal{}, err
		}
	}
	if ticket := kerberosToken(h); ticket != nil {
		return s.kerberos(ctx, snap, ticket, now)
	}
	var signed *wssec.MessageSignature
	if h != nil && len(h.Signatures) > 0 {
		var err error
		if signed, err = messageSignature(snap, env, h, now); err != nil {
			return issuer.Principal{}, err
		}
	}
	switch {
	case h != nil && len(h.UsernameTokens) > 1:
		return issuer.Principal{}, soap.Faultf(soap.InvalidSecurity, "The request carries %d UsernameTokens; send one.", len(h.UsernameTokens))
	case h != nil && len(h.UsernameTokens) == 1:
		who, err := usernameToken(ctx, snap, h, now)
		if err == nil && signed != nil {
			who.Certificate = signed.Certificate
		}
		return who, err
	case signed != nil:
		return withStoredUser(ctx, snap, certificatePrincipal(signed.Certificate, now)), nil
	case conn != nil && len(conn.PeerCertificates) > 0:
		cert, err := trustedCertificate(snap.STS.X509, conn.PeerCertificates, now)
		if err != nil {
			return issuer.Principal{}, denied(fmt.Errorf("TLS client certificate: %w", err))
		}
		return withStoredUser(ctx, snap, certificatePrincipal(cert, now)), nil
	case h == nil:
		return issuer.Principal{}, denied(errors.New("the request has no wsse:Security header and no TLS client certificate"))
	default:
		return issuer.Principal{}, soap.Faultf(soap.UnsupportedSecurityToken, "The request carries no credentials this STS accepts: send a wsse:UsernameToken, an X.509 signature, a Kerberos ticket or a TLS client certificate.")
	}
}

// kerberosToken is the header's Kerberos BinarySecurityToken, if any.
func kerberosToken(h *wssec.Header) *wssec.BinarySecurityToken {
	if h == nil {
		return nil
	}
	for _, bst := range h.BinarySecurityTokens {
		if bst.IsKerberos() {
			return bst
		}
	}
	return nil
}

// usernameToken authenticates the header's one UsernameToken.
func usernameToken(ctx context.Context, snap *policy.Snapshot, h *wssec.Header, now time.Time) (issuer.Principal, error) {
	ut := h.UsernameTokens[0]
	auth := snap.STS.UsernameToken
	if !auth.Enabled || snap.Users == nil {
		return issuer.Principal{}, soap.Faultf(soap.UnsupportedSecurityToken, "UsernameToken authentication is not enabled on this STS.")
	}
	user, err := checkPassword(ctx, snap.Users, auth, ut, now, snap.STS.MaxClockSkew)
	if err != nil {
		return issuer.Principal{}, err
	}
	return issuer.Principal{User: user, Method: saml.AuthnPassword, Instant: now}, nil
}

func checkPassword(ctx context.Context, users policy.UserStore, auth policy.UsernameTokenAuth, ut *wssec.UsernameToken, now time.Time, skew time.Duration) (*policy.User, error) {
	if !ut.HasPassword {
		return nil, denied(fmt.Errorf("UsernameToken for %q has no password", ut.Username))
	}
	if !ut.IsDigest() {
		if !auth.AllowText {
			return nil, soap.Faultf(soap.UnsupportedSecurityToken, "PasswordText is not accepted by this STS; send a PasswordDigest.")
		}
		u, err := users.Authenticate(ctx, ut.Username, string(ut.Password))
		if err != nil {
			return nil, storeFault(ut.Username, err)
		}
		return u, nil
	}
	if !auth.AllowDigest {
		return nil, soap.Faultf(soap.UnsupportedSecurityToken, "PasswordDigest is not accepted by this STS; send the password as PasswordText over TLS.")
	}
	if err := wssec.CheckUsernameTokenFreshness(ut, now, skew, usernameTokenMaxAge); err != nil {
		return nil, err
	}
	password, u, err := users.PlainPassword(ctx, ut.Username)
	if err != nil {
		return nil, storeFault(ut.Username, err)
	}
	if !wssec.VerifyDigest(ut, password) {
		return nil, denied(fmt.Errorf("user %q: %w", ut.Username, policy.ErrBadCredentials))
	}
	return u, nil
}

// storeFault answers a user store's error: wrong credentials (or none to
// check a digest against) deny access; anything else is the store failing,
// which the caller must not mistake for a wrong password.
func storeFault(username string, err error) *soap.Fault {
	if errors.Is(err, policy.ErrBadCredentials) || errors.Is(err, policy.ErrNoPlainPassword) {
		return denied(fmt.Errorf("user %q: %w", username, err))
	}
	return soap.NewFault(soap.RequestFailed, "The user directory cannot be reached; try again later.", fmt.Errorf("user %q: %w", username, err))
}
