package server

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// clientAddress is the caller's address: the connection's peer, or, when
// that peer is a trusted proxy, the nearest address in X-Forwarded-For that
// is not itself a trusted proxy. Entries further left were written by
// whoever sent the request and prove nothing, so they are never used past an
// untrusted hop.
func clientAddress(r *http.Request, trustedProxies []netip.Prefix) (netip.Addr, bool) {
	peer, ok := parseAddr(r.RemoteAddr)
	if !ok || !contains(trustedProxies, peer) {
		return peer, ok
	}
	forwarded := r.Header.Values("X-Forwarded-For")
	if len(forwarded) == 0 {
		return peer, true
	}
	hops := strings.Split(strings.Join(forwarded, ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, ok := parseAddr(strings.TrimSpace(hops[i]))
		if !ok {
			return netip.Addr{}, false
		}
		if !contains(trustedProxies, hop) {
			return hop, true
		}
	}
	return peer, true
}

func parseAddr(s string) (netip.Addr, bool) {
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	a, err := netip.ParseAddr(s)
	return a.Unmap(), err == nil
}

func contains(prefixes []netip.Prefix, a netip.Addr) bool {
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
