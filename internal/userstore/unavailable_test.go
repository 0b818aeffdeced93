package userstore

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/trustbroker/trustbroker/internal/policy"
)

// TestUnavailableRefusesEveryone: a store that cannot be read refuses every
// password as a wrong one (the caller learns nothing), names the cause for
// the log, and does not let a lookup pass as "unknown user".
func TestUnavailableRefusesEveryone(t *testing.T) {
	cause := errors.New("Secret default/users not found")
	s := Unavailable{Cause: cause}
	ctx := context.Background()
	if _, err := s.Authenticate(ctx, "alice", "alice-pw"); !errors.Is(err, policy.ErrBadCredentials) || !errors.Is(err, cause) {
		t.Errorf("Authenticate: %v, want a bad-credentials error naming the cause", err)
	}
	if _, _, err := s.PlainPassword(ctx, "dave"); !errors.Is(err, policy.ErrBadCredentials) || !strings.Contains(err.Error(), "not found") {
		t.Errorf("PlainPassword: %v, want a bad-credentials error naming the cause", err)
	}
	if _, err := s.Lookup(ctx, "alice"); err == nil || errors.Is(err, policy.ErrBadCredentials) || !errors.Is(err, cause) {
		t.Errorf("Lookup: %v, want a store failure naming the cause", err)
	}
}
