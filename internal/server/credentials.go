package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/trustbroker/trustbroker/internal/issuer"
	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/soap"
)

// withStoredUser adds the roles and attributes the user store holds for a
// caller authenticated by certificate or ticket, when the store can look
// users up; the credential's own attributes stay. A name the store does not
// know keeps the credential's attributes and gets no roles. A store that
// fails fails the request: going on without the store's answer could issue
// a token that lacks a restriction the store would have applied.
func withStoredUser(ctx context.Context, snap *policy.Snapshot, who issuer.Principal) (issuer.Principal, error) {
	lookup, ok := snap.Users.(policy.UserLookup)
	if !ok {
		return who, nil
	}
	stored, err := lookup.Lookup(ctx, who.User.Name)
	switch {
	case errors.Is(err, policy.ErrBadCredentials):
		return who, nil
	case err != nil:
		return issuer.Principal{}, soap.NewFault(soap.RequestFailed, "The user directory cannot be reached; try again later.",
			fmt.Errorf("looking up the roles of %q: %w", who.User.Name, err))
	}
	merged := &policy.User{Name: who.User.Name, Roles: stored.Roles, Attributes: map[string][]string{}}
	for k, v := range stored.Attributes {
		merged.Attributes[k] = v
	}
	for k, v := range who.User.Attributes {
		merged.Attributes[k] = v
	}
	who.User = merged
	return who, nil
}
