package server

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestClientAddress(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")}
	cases := []struct {
		name, remote string
		xff          []string
		want         string
		ok           bool
	}{
		{"direct caller", "192.0.2.7:5000", nil, "192.0.2.7", true},
		{"direct caller's forged header ignored", "192.0.2.7:5000", []string{"127.0.0.1"}, "192.0.2.7", true},
		{"through the proxy", "10.0.0.2:5000", []string{"198.51.100.9"}, "198.51.100.9", true},
		{"through two proxies", "10.0.0.2:5000", []string{"198.51.100.9, 10.0.0.3"}, "198.51.100.9", true},
		{"forged entry left of the real client ignored", "10.0.0.2:5000", []string{"127.0.0.1, 198.51.100.9"}, "198.51.100.9", true},
		{"split header lines", "10.0.0.2:5000", []string{"127.0.0.1", "198.51.100.9"}, "198.51.100.9", true},
		{"proxy without the header", "10.0.0.2:5000", nil, "10.0.0.2", true},
		{"garbage in the header", "10.0.0.2:5000", []string{"not-an-ip"}, "", false},
		{"IPv4-mapped peer", "[::ffff:192.0.2.7]:5000", nil, "192.0.2.7", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/sts", nil)
			r.RemoteAddr = tc.remote
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			got, ok := clientAddress(r, proxies)
			if ok != tc.ok || (ok && got.String() != tc.want) {
				t.Errorf("clientAddress = %v, %v; want %s, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}
