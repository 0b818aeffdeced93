package policy

import (
	"fmt"
	"testing"
)

func TestRelyingPartyFor(t *testing.T) {
	rps := []*RelyingParty{
		{Name: "short-prefix", Endpoint: "https://app.example.com/", Prefix: true},
		{Name: "long-prefix", Endpoint: "https://app.example.com/api/", Prefix: true},
		{Name: "exact", Endpoint: "https://app.example.com/api/orders"},
		{Name: "b-twin", Endpoint: "urn:twin"},
		{Name: "a-twin", Endpoint: "urn:twin"},
		{Name: "portal", Endpoint: "urn:example:portal", Prefix: true},
		{Name: "shop", Endpoint: "https://shop.example.com/cart", Prefix: true},
	}
	SortRelyingParties(rps)
	def := &RelyingParty{Name: "default"}
	s := &Snapshot{RelyingParties: rps, STS: STS{DefaultRelyingParty: def}}
	cases := map[string]string{
		"https://app.example.com/api/orders":   "exact",
		"https://app.example.com/api/invoices": "long-prefix",
		"https://app.example.com/api/":         "long-prefix",
		"https://app.example.com/home":         "short-prefix",
		"urn:twin":                             "a-twin", // equal endpoints: the first by name
		"https://other.example.com/":           "",
		// A prefix matches on a boundary only.
		"urn:example:portal":                  "portal",
		"urn:example:portal/orders":           "portal",
		"urn:example:portal?tenant=a":         "portal",
		"urn:example:portal#x":                "portal",
		"urn:example:portalevil":              "",
		"urn:example:portal:evil":             "",
		"https://shop.example.com/cart/items": "shop",
		"https://shop.example.com/cartel":     "",
		"https://shop.example.com/cart?id=1":  "shop",
		"":                                    "default",
	}
	for appliesTo, want := range cases {
		rp, ok := s.RelyingPartyFor(appliesTo)
		got := ""
		if ok {
			got = rp.Name
		}
		if got != want {
			t.Errorf("RelyingPartyFor(%q) = %q, want %q", appliesTo, got, want)
		}
	}
}

// BenchmarkRelyingPartyFor looks up among 1,000 relying parties, as many as
// the hot-reload budget counts on.
func BenchmarkRelyingPartyFor(b *testing.B) {
	var rps []*RelyingParty
	for i := range 1000 {
		rps = append(rps, &RelyingParty{Name: fmt.Sprint(i), Endpoint: fmt.Sprintf("urn:app:%d", i)})
	}
	rps = append(rps, &RelyingParty{Name: "portal", Endpoint: "https://portal.example.com/", Prefix: true})
	SortRelyingParties(rps)
	s := &Snapshot{RelyingParties: rps}
	for b.Loop() {
		if _, ok := s.RelyingPartyFor("urn:app:999"); !ok {
			b.Fatal("not found")
		}
	}
}
