package server

import (
	"context"

	"github.com/trustbroker/trustbroker/internal/issuer"
	"github.com/trustbroker/trustbroker/internal/policy"
)

// withStoredUser adds the roles and attributes the user store holds for a
// caller authenticated by certificate or ticket, when the store can look
// users up and knows this one; the credential's own attributes stay.
func withStoredUser(ctx context.Context, snap *policy.Snapshot, who issuer.Principal) issuer.Principal {
	lookup, ok := snap.Users.(policy.UserLookup)
	if !ok {
		return who
	}
	stored, err := lookup.Lookup(ctx, who.User.Name)
	if err != nil {
		return who
	}
	merged := &policy.User{Name: who.User.Name, Roles: stored.Roles, Attributes: map[string][]string{}}
	for k, v := range stored.Attributes {
		merged.Attributes[k] = v
	}
	for k, v := range who.User.Attributes {
		merged.Attributes[k] = v
	}
	who.User = merged
	return who
}
