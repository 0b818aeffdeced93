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

// authenticate establishes who is calling: from the message's WS-Security
// header when it carries credentials, else from the TLS client certificate.
func authenticate(ctx context.Context, snap *policy.Snapshot, h *wssec.Header, conn *tls.ConnectionState, now time.Time) (issuer.Principal, error) {
	if h != nil && h.Timestamp != nil {
		if err := wssec.CheckTimestamp(h.Timestamp, now, snap.STS.MaxClockSkew); err != nil {
			return issuer.Principal{}, err
		}
	}
	switch {
	case h != nil && len(h.UsernameTokens) > 1:
		return issuer.Principal{}, soap.Faultf(soap.InvalidSecurity, "The request carries %d UsernameTokens; send one.", len(h.UsernameTokens))
	case h != nil && len(h.UsernameTokens) == 1:
		return usernameToken(ctx, snap, h, now)
	case conn != nil && len(conn.PeerCertificates) > 0:
		cert, err := trustedCertificate(snap.STS.X509, conn.PeerCertificates, now)
		if err != nil {
			return issuer.Principal{}, denied(fmt.Errorf("TLS client certificate: %w", err))
		}
		return certificatePrincipal(cert, now), nil
	case h == nil:
		return issuer.Principal{}, denied(errors.New("the request has no wsse:Security header and no TLS client certificate"))
	default:
		return issuer.Principal{}, soap.Faultf(soap.UnsupportedSecurityToken, "The request carries no credentials this STS accepts: send a wsse:UsernameToken or a TLS client certificate.")
	}
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
			return nil, denied(fmt.Errorf("user %q: %w", ut.Username, err))
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
		return nil, denied(fmt.Errorf("user %q: %w", ut.Username, err))
	}
	if !wssec.VerifyDigest(ut, password) {
		return nil, denied(fmt.Errorf("user %q: %w", ut.Username, policy.ErrBadCredentials))
	}
	return u, nil
}
