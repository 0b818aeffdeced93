package wssec

import (
	"testing"
	"time"

	"github.com/trustbroker/trustbroker/internal/devkeys"
)

// TestCertCache: a certificate presented again is the one parsed before;
// bytes that do not parse are refused every time; the cache stays within
// its bound however many certificates are presented.
func TestCertCache(t *testing.T) {
	c := certCache{max: 3}
	var ders [][]byte
	for i := range 5 {
		p, err := devkeys.NewRSA("cache-"+string(rune('a'+i)), time.Now(), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		ders = append(ders, p.Cert.Raw)
	}
	first, err := c.parse(ders[0])
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.parse(append([]byte(nil), ders[0]...))
	if err != nil || again != first {
		t.Fatalf("the same bytes parsed anew (%v)", err)
	}
	if first.Subject.CommonName != "cache-a" {
		t.Fatalf("subject %q", first.Subject.CommonName)
	}
	for _, der := range ders {
		if _, err := c.parse(der); err != nil {
			t.Fatal(err)
		}
	}
	if len(c.certs) > 3 {
		t.Fatalf("%d certificates cached, bound 3", len(c.certs))
	}
	truncated := ders[1][:len(ders[1])-20]
	for range 2 {
		if _, err := c.parse(truncated); err == nil {
			t.Fatal("truncated certificate parsed")
		}
	}
	if _, cached := c.certs[string(truncated)]; cached {
		t.Fatal("a failed parse was cached")
	}
}
