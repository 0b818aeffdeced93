package policy

import (
	"cmp"
	"slices"
	"strings"
	"sync"
)

// SortRelyingParties orders relying parties for RelyingPartyFor: exact
// endpoints first, then prefixes longest first, ties by name so the order
// never depends on how the configuration was read.
func SortRelyingParties(rps []*RelyingParty) {
	slices.SortFunc(rps, func(a, b *RelyingParty) int {
		if a.Prefix != b.Prefix {
			if a.Prefix {
				return 1
			}
			return -1
		}
		if c := cmp.Compare(len(b.Endpoint), len(a.Endpoint)); c != 0 {
			return c
		}
		return cmp.Or(cmp.Compare(a.Endpoint, b.Endpoint), cmp.Compare(a.Name, b.Name))
	})
}

// RelyingPartyFor returns the relying party for a request's AppliesTo: an
// exact endpoint match wins, then the longest matching prefix. An empty
// AppliesTo gets the STS's default relying party, if it has one.
//
// Exact endpoints are found through an index built on first use, so the
// cost per request does not grow with the number of relying parties; only
// prefix endpoints are scanned.
func (s *Snapshot) RelyingPartyFor(appliesTo string) (*RelyingParty, bool) {
	if appliesTo == "" {
		return s.STS.DefaultRelyingParty, s.STS.DefaultRelyingParty != nil
	}
	s.lookup.once.Do(s.index)
	if rp, ok := s.lookup.exact[appliesTo]; ok {
		return rp, true
	}
	for _, rp := range s.lookup.prefixes {
		if PrefixMatches(rp.Endpoint, appliesTo) {
			return rp, true
		}
	}
	return nil, false
}

// PrefixMatches reports whether appliesTo falls under prefix on a boundary:
// it equals the prefix, or the prefix ends in "/" or ":", or the next
// character is "/", "?" or "#". So urn:example:portal covers
// urn:example:portal/orders but not urn:example:portalevil, and
// https://app.example.com/a not https://app.example.com/ab.
func PrefixMatches(prefix, appliesTo string) bool {
	rest, ok := strings.CutPrefix(appliesTo, prefix)
	switch {
	case !ok:
		return false
	case rest == "", strings.HasSuffix(prefix, "/"), strings.HasSuffix(prefix, ":"):
		return true
	}
	return strings.ContainsRune("/?#", rune(rest[0]))
}

// relyingPartyIndex is RelyingParties arranged for RelyingPartyFor.
type relyingPartyIndex struct {
	once     sync.Once
	exact    map[string]*RelyingParty
	prefixes []*RelyingParty // in RelyingParties' order: longest first
}

// index builds the lookup from RelyingParties (ordered by
// SortRelyingParties). Snapshots hold only the winners of duplicate claims
// (ResolveClaims); should two with one exact endpoint come anyway, the
// first is kept so the answer is still stable.
func (s *Snapshot) index() {
	s.lookup.exact = make(map[string]*RelyingParty, len(s.RelyingParties))
	for _, rp := range s.RelyingParties {
		if rp.Prefix {
			s.lookup.prefixes = append(s.lookup.prefixes, rp)
		} else if _, dup := s.lookup.exact[rp.Endpoint]; !dup {
			s.lookup.exact[rp.Endpoint] = rp
		}
	}
}

// TrustedIssuerFor returns the trusted issuer with the given Issuer name.
func (s *Snapshot) TrustedIssuerFor(issuer string) (*TrustedIssuer, bool) {
	for _, ti := range s.TrustedIssuers {
		if ti.Issuer == issuer {
			return ti, true
		}
	}
	return nil, false
}

// HasAnyRole reports whether roles allows a user with the given roles: an
// empty allow-list allows everyone.
func HasAnyRole(allowed, roles []string) bool {
	if len(allowed) == 0 {
		return true
	}
	for _, r := range roles {
		if slices.Contains(allowed, r) {
			return true
		}
	}
	return false
}
