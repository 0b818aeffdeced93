package policy

import (
	"testing"
	"time"
)

// TestResolveClaims: of two claims on one key the older wins even when its
// name sorts second; equal times fall back to the name; other keys and
// lone claims are untouched; the answer does not depend on input order.
func TestResolveClaims(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	exact := RelyingPartyKey(false, "urn:app")
	claims := []Claim{
		{Name: "a-newer", Created: t0.Add(time.Minute), Key: exact},
		{Name: "b-older", Created: t0, Key: exact},
		{Name: "prefix", Created: t0.Add(time.Hour), Key: RelyingPartyKey(true, "urn:app")},
		{Name: "y-same-second", Created: t0, Key: TrustedIssuerKey("https://idp")},
		{Name: "x-same-second", Created: t0, Key: TrustedIssuerKey("https://idp")},
		{Name: "no-timestamp", Key: TrustedIssuerKey("https://other")},
		{Name: "stamped", Created: t0, Key: TrustedIssuerKey("https://other")},
	}
	want := []string{"b-older", "b-older", "prefix", "x-same-second", "x-same-second", "no-timestamp", "no-timestamp"}
	check := func(cs []Claim, want []string) {
		t.Helper()
		for i, w := range ResolveClaims(cs) {
			if cs[w].Name != want[i] {
				t.Errorf("%s: winner %s, want %s", cs[i].Name, cs[w].Name, want[i])
			}
		}
	}
	check(claims, want)

	// Reversed input, same winners.
	rev := make([]Claim, len(claims))
	revWant := make([]string, len(want))
	for i := range claims {
		rev[len(claims)-1-i], revWant[len(want)-1-i] = claims[i], want[i]
	}
	check(rev, revWant)
}

// TestRelyingPartyKey: surrounding whitespace does not make a second claim;
// the match kind does.
func TestRelyingPartyKey(t *testing.T) {
	if RelyingPartyKey(false, " urn:app\n") != RelyingPartyKey(false, "urn:app") {
		t.Error("whitespace around the endpoint makes a different key")
	}
	if RelyingPartyKey(false, "urn:app") == RelyingPartyKey(true, "urn:app") {
		t.Error("Exact and Prefix claims of one endpoint share a key")
	}
}
