package userstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/trustbroker/trustbroker/internal/policy"
)

// Unavailable stands in for a user store that cannot be read (its Secret
// deleted or invalid, its directory settings incomplete). It refuses every
// user: deleting the users Secret must lock users out, not leave the last
// copy of it in force.
type Unavailable struct {
	// Cause says why the store cannot be read and what to fix; it goes to
	// the log with every refusal, never into a fault.
	Cause error
}

// Authenticate refuses everyone as a wrong password would, so the caller
// learns nothing; the error names the cause for the log.
func (u Unavailable) Authenticate(context.Context, string, string) (*policy.User, error) {
	return nil, u.refusal()
}

// PlainPassword refuses everyone, as Authenticate does.
func (u Unavailable) PlainPassword(context.Context, string) (string, *policy.User, error) {
	return "", nil, u.refusal()
}

// Lookup implements policy.UserLookup. Its error is not ErrBadCredentials:
// an unknown user may still be vouched for by an authenticated requestor,
// but with the store unreadable no user is known or unknown.
func (u Unavailable) Lookup(context.Context, string) (*policy.User, error) {
	return nil, fmt.Errorf("the user store cannot be read: %w", u.cause())
}

func (u Unavailable) refusal() error {
	return fmt.Errorf("%w: the user store cannot be read, so no user signs in: %w", policy.ErrBadCredentials, u.cause())
}

func (u Unavailable) cause() error {
	if u.Cause == nil {
		return errors.New("no cause given")
	}
	return u.Cause
}

var (
	_ policy.UserStore  = Unavailable{}
	_ policy.UserLookup = Unavailable{}
)
