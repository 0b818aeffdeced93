package policy

import (
	"strings"
	"time"
)

// Claim is one object's claim on something only one object of an STS may
// hold: a relying party's endpoint (with its match), a trusted issuer's
// name. The operator (for status) and the STS (for the snapshot) resolve
// claims with the same rule, so the winner the status names is the one the
// STS serves.
type Claim struct {
	Namespace, Name string
	// Created is the object's creationTimestamp; zero when the object has
	// none (a manifest that names none), which counts as the oldest.
	Created time.Time
	// Key is what is claimed; claims with equal keys conflict.
	Key string
}

// Precedes reports whether c wins over other: the older creation time
// wins, then the name, then the namespace, so any two claims are ordered
// and every reader of the same objects picks the same winner.
// Kubernetes keeps creation times to the second only, so objects created
// within one second are told apart by name.
func (c Claim) Precedes(other Claim) bool {
	if !c.Created.Equal(other.Created) {
		return c.Created.Before(other.Created)
	}
	if c.Name != other.Name {
		return c.Name < other.Name
	}
	return c.Namespace < other.Namespace
}

// ResolveClaims returns, for each claim, the index of the claim that holds
// its key: its own index when it wins, the winner's when it loses.
func ResolveClaims(claims []Claim) []int {
	winner := make(map[string]int, len(claims))
	for i, c := range claims {
		if w, ok := winner[c.Key]; !ok || c.Precedes(claims[w]) {
			winner[c.Key] = i
		}
	}
	out := make([]int, len(claims))
	for i, c := range claims {
		out[i] = winner[c.Key]
	}
	return out
}

// RelyingPartyKey is what a relying party claims: how it matches and its
// endpoint, whitespace trimmed as xs:anyURI collapses it. An exact and a
// prefix endpoint of the same text are different claims.
func RelyingPartyKey(prefix bool, endpoint string) string {
	match := "Exact"
	if prefix {
		match = "Prefix"
	}
	return match + "\x00" + strings.TrimSpace(endpoint)
}

// TrustedIssuerKey is what a trusted issuer claims: the Issuer name tokens
// are matched by, compared exactly as TrustedIssuerFor does.
func TrustedIssuerKey(issuer string) string { return issuer }
