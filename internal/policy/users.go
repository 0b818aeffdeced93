package policy

import (
	"context"
	"errors"
)

// User is an authenticated caller: who it is, its roles and attributes.
type User struct {
	Name       string
	Roles      []string
	Attributes map[string][]string
}

// ErrBadCredentials means the user name or password is wrong; stores never
// say which, so callers cannot probe for user names.
var ErrBadCredentials = errors.New("unknown user or wrong password")

// ErrBusy means the store could not check the password in time because
// too many checks are queued: the caller should try again shortly. It is
// not a wrong password and counts toward no lockout.
var ErrBusy = errors.New("too many password checks are queued")

// ErrNoPlainPassword means the user's password is stored only as a hash, so
// a PasswordDigest cannot be checked.
var ErrNoPlainPassword = errors.New("user has no plain password for PasswordDigest")

// UserStore checks user names and passwords.
type UserStore interface {
	// Authenticate checks a clear-text password and returns the user, or an
	// error wrapping ErrBadCredentials.
	Authenticate(ctx context.Context, username, password string) (*User, error)
	// PlainPassword returns the stored plain password and the user, for
	// checking a PasswordDigest; ErrNoPlainPassword when there is none.
	PlainPassword(ctx context.Context, username string) (string, *User, error)
}
