// Package userstore holds the user stores the STS checks passwords against:
// the users list from a Secret, and an LDAP directory.
package userstore

import (
	"context"
	"crypto/subtle"
	"fmt"

	"golang.org/x/crypto/bcrypt"
	"sigs.k8s.io/yaml"

	"github.com/trustbroker/trustbroker/internal/policy"
)

// entry is one user of the users.yaml list.
type entry struct {
	Username     string                     `json:"username"`
	PasswordHash string                     `json:"passwordHash,omitempty"`
	Password     string                     `json:"password,omitempty"`
	Roles        []string                   `json:"roles,omitempty"`
	Attributes   map[string]attributeValues `json:"attributes,omitempty"`
}

// attributeValues accepts an attribute written as one value or a list.
type attributeValues []string

func (v *attributeValues) UnmarshalJSON(b []byte) error {
	var one string
	if err := yaml.Unmarshal(b, &one); err == nil {
		*v = []string{one}
		return nil
	}
	var many []string
	if err := yaml.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("an attribute is a string or a list of strings: %w", err)
	}
	*v = many
	return nil
}

// Static is a user store read from a users Secret. It is immutable: a
// changed Secret makes a new Static.
type Static struct {
	users map[string]entry
	cache *VerifiedCache
}

// dummyHash (bcrypt, default cost) is compared against when the user does
// not exist, so that an unknown user costs as much time as a wrong password.
// It is a constant so that start-up does not pay for hashing it.
var dummyHash = []byte("$2a$10$a8UB0tBrid.1JB7NhefGOOlaXwylY92aSJrE6ACJbGwtmx.j7tcea")

// ParseUsers reads the users.yaml list. cache may be shared between the
// stores built from successive versions of the Secret.
func ParseUsers(data []byte, cache *VerifiedCache) (*Static, error) {
	var list []entry
	if err := yaml.UnmarshalStrict(data, &list); err != nil {
		return nil, fmt.Errorf("users.yaml: %w", err)
	}
	users := make(map[string]entry, len(list))
	for i, u := range list {
		switch {
		case u.Username == "":
			return nil, fmt.Errorf("users.yaml: entry %d has no username", i+1)
		case u.PasswordHash == "" && u.Password == "":
			return nil, fmt.Errorf("users.yaml: user %q has neither passwordHash nor password", u.Username)
		}
		if u.PasswordHash != "" {
			if _, err := bcrypt.Cost([]byte(u.PasswordHash)); err != nil {
				return nil, fmt.Errorf("users.yaml: user %q: passwordHash is not a bcrypt hash: %w", u.Username, err)
			}
		}
		if _, dup := users[u.Username]; dup {
			return nil, fmt.Errorf("users.yaml: user %q is listed twice", u.Username)
		}
		users[u.Username] = u
	}
	if cache == nil {
		cache = NewVerifiedCache(DefaultCacheSize, DefaultCacheTTL)
	}
	return &Static{users: users, cache: cache}, nil
}

// Authenticate checks a clear-text password.
func (s *Static) Authenticate(ctx context.Context, username, password string) (*policy.User, error) {
	u, ok := s.users[username]
	if !ok {
		// The same cost as a known user, so that timing tells no names.
		err := s.cache.compare(ctx, s.cache.key(username, password, ""), func() bool {
			_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
			return false
		})
		return nil, err
	}
	if u.PasswordHash == "" {
		if subtle.ConstantTimeCompare([]byte(u.Password), []byte(password)) != 1 {
			return nil, policy.ErrBadCredentials
		}
		return u.user(), nil
	}
	key := s.cache.key(username, password, u.PasswordHash)
	if s.cache.hit(key) {
		return u.user(), nil
	}
	err := s.cache.compare(ctx, key, func() bool {
		return bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(password)) == nil
	})
	if err != nil {
		return nil, err
	}
	s.cache.add(key)
	return u.user(), nil
}

// Lookup implements policy.UserLookup.
func (s *Static) Lookup(_ context.Context, username string) (*policy.User, error) {
	u, ok := s.users[username]
	if !ok {
		return nil, policy.ErrBadCredentials
	}
	return u.user(), nil
}

// PlainPassword returns a user's plain password for PasswordDigest checks.
func (s *Static) PlainPassword(_ context.Context, username string) (string, *policy.User, error) {
	u, ok := s.users[username]
	if !ok {
		return "", nil, policy.ErrBadCredentials
	}
	if u.Password == "" {
		return "", nil, policy.ErrNoPlainPassword
	}
	return u.Password, u.user(), nil
}

func (u entry) user() *policy.User {
	attrs := make(map[string][]string, len(u.Attributes))
	for k, v := range u.Attributes {
		attrs[k] = v
	}
	return &policy.User{Name: u.Username, Roles: u.Roles, Attributes: attrs}
}
