package userstore

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/trustbroker/trustbroker/internal/policy"
)

func hash(t *testing.T, password string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

func TestParseUsersRefusesBadLists(t *testing.T) {
	cases := map[string]struct{ yaml, want string }{
		"no username":     {"- password: x\n", "entry 1 has no username"},
		"no password":     {"- username: a\n", `user "a" has neither passwordHash nor password`},
		"not bcrypt":      {"- username: a\n  passwordHash: 5f4dcc3b5aa765d61d8327deb882cf99\n", "not a bcrypt hash"},
		"duplicate":       {"- {username: a, password: x}\n- {username: a, password: y}\n", `user "a" is listed twice`},
		"unknown field":   {"- {username: a, password: x, pasword: y}\n", "pasword"},
		"attribute a map": {"- {username: a, password: x, attributes: {mail: {a: b}}}\n", "string or a list of strings"},
		"not a list":      {"username: a\n", "users.yaml"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := ParseUsers([]byte(tc.yaml), nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestAuthenticate(t *testing.T) {
	users := "- username: alice\n  passwordHash: \"" + hash(t, "alice-pw") + "\"\n  roles: [admin]\n" +
		"  attributes: {mail: alice@example.com, groups: [a, b]}\n" +
		"- username: dave\n  password: dave-pw\n"
	s, err := ParseUsers([]byte(users), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cases := []struct {
		user, password string
		ok             bool
	}{
		{"alice", "alice-pw", true},
		{"alice", "alice-pw", true}, // from the cache
		{"alice", "wrong", false},
		{"alice", "", false},
		{"dave", "dave-pw", true},
		{"dave", "dave-pw ", false},
		{"nobody", "alice-pw", false},
	}
	for _, tc := range cases {
		u, err := s.Authenticate(ctx, tc.user, tc.password)
		if tc.ok != (err == nil) {
			t.Errorf("Authenticate(%q, %q) err = %v, want ok=%v", tc.user, tc.password, err, tc.ok)
		}
		if !tc.ok && !errors.Is(err, policy.ErrBadCredentials) {
			t.Errorf("Authenticate(%q, %q) err = %v, want ErrBadCredentials", tc.user, tc.password, err)
		}
		if tc.ok && u.Name != tc.user {
			t.Errorf("Authenticate(%q) user = %q", tc.user, u.Name)
		}
	}
	u, _ := s.Authenticate(ctx, "alice", "alice-pw")
	if !slices.Equal(u.Roles, []string{"admin"}) || !slices.Equal(u.Attributes["groups"], []string{"a", "b"}) || !slices.Equal(u.Attributes["mail"], []string{"alice@example.com"}) {
		t.Errorf("alice = %+v", u)
	}

	if u, err := s.Lookup(ctx, "alice"); err != nil || !slices.Equal(u.Roles, []string{"admin"}) {
		t.Errorf("Lookup(alice) = %+v, %v", u, err)
	}
	if _, err := s.Lookup(ctx, "nobody"); !errors.Is(err, policy.ErrBadCredentials) {
		t.Errorf("Lookup(nobody) err = %v, want ErrBadCredentials", err)
	}
	if pw, _, err := s.PlainPassword(ctx, "dave"); err != nil || pw != "dave-pw" {
		t.Errorf("PlainPassword(dave) = %q, %v", pw, err)
	}
	if _, _, err := s.PlainPassword(ctx, "alice"); !errors.Is(err, policy.ErrNoPlainPassword) {
		t.Errorf("PlainPassword(alice) err = %v, want ErrNoPlainPassword", err)
	}
}

// TestCacheFollowsTheStoredHash checks that a cached verification does not
// outlive a password change: the new store (same cache) refuses the old password.
func TestCacheFollowsTheStoredHash(t *testing.T) {
	cache := NewVerifiedCache(10, time.Hour)
	ctx := context.Background()
	old, err := ParseUsers([]byte("- {username: a, passwordHash: \""+hash(t, "old")+"\"}\n"), cache)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Authenticate(ctx, "a", "old"); err != nil {
		t.Fatal(err)
	}
	rotated, err := ParseUsers([]byte("- {username: a, passwordHash: \""+hash(t, "new")+"\"}\n"), cache)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rotated.Authenticate(ctx, "a", "old"); err == nil {
		t.Fatal("the old password still works after the hash changed")
	}
	if _, err := rotated.Authenticate(ctx, "a", "new"); err != nil {
		t.Fatal(err)
	}
}

func TestCacheBoundAndExpiry(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := NewVerifiedCache(2, time.Minute)
	c.now = func() time.Time { return now }
	k1, k2, k3 := c.key("a", "1", "h"), c.key("b", "2", "h"), c.key("c", "3", "h")
	c.add(k1)
	c.add(k2)
	c.add(k3)
	if c.hit(k1) || !c.hit(k2) || !c.hit(k3) {
		t.Fatal("the oldest entry should be evicted when the cache is full")
	}
	now = now.Add(2 * time.Minute)
	if c.hit(k2) {
		t.Fatal("an expired entry was a hit")
	}
	if len(c.entries) != 1 || c.order.Len() != 1 {
		t.Fatalf("expired entry not removed: %d entries", len(c.entries))
	}
}
