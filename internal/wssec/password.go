package wssec

import (
	"context"
	"errors"
	"fmt"

	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/soap"
)

// Errors of CheckPassword for a password form the STS does not accept.
var (
	ErrPasswordTextRefused   = errors.New("PasswordText is not accepted")
	ErrPasswordDigestRefused = errors.New("PasswordDigest is not accepted")
)

// CheckPassword checks a UsernameToken's password against users in the
// forms auth allows: a PasswordText through the store, a PasswordDigest
// against the stored plain password. It is the one check for a caller's
// own token and for one presented for translation. Errors wrap
// ErrPasswordTextRefused or ErrPasswordDigestRefused, policy.
// ErrBadCredentials or ErrNoPlainPassword for credentials that do not
// match, or the store's own failure.
func CheckPassword(ctx context.Context, users policy.UserStore, auth policy.UsernameTokenAuth, ut *UsernameToken) (*policy.User, error) {
	if !ut.IsDigest() {
		if !auth.AllowText {
			return nil, ErrPasswordTextRefused
		}
		return users.Authenticate(ctx, ut.Username, string(ut.Password))
	}
	if !auth.AllowDigest {
		return nil, ErrPasswordDigestRefused
	}
	password, u, err := users.PlainPassword(ctx, ut.Username)
	if err != nil {
		return nil, err
	}
	if !VerifyDigest(ut, password) {
		return nil, fmt.Errorf("the PasswordDigest does not match: %w", policy.ErrBadCredentials)
	}
	return u, nil
}

// IsWrongCredential reports whether a CheckPassword error means the
// credentials do not match, as opposed to the store failing.
func IsWrongCredential(err error) bool {
	return errors.Is(err, policy.ErrBadCredentials) || errors.Is(err, policy.ErrNoPlainPassword)
}

// StoreFailure answers a user store that failed: busy, or unreachable. The
// caller must not take it for a wrong password, and it is not one: it
// counts toward no lockout.
func StoreFailure(username string, err error) *soap.Fault {
	if errors.Is(err, policy.ErrBusy) {
		return soap.NewFault(soap.RequestFailed, "The STS is busy checking passwords; try again shortly.", fmt.Errorf("user %q: %w", username, err))
	}
	return soap.NewFault(soap.RequestFailed, "The user directory cannot be reached; try again later.", fmt.Errorf("user %q: %w", username, err))
}
