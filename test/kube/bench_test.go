package kube

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"
)

// loadedRelyingParties is how many relying parties are in place before the
// measured ones are created.
const loadedRelyingParties = 1000

// BenchmarkRelyingPartyHonoured measures the delay from creating a
// RelyingParty through the API to the first token the running STS issues
// for it, with 1,000 relying parties already loaded. It reports p50 and p99
// over the iterations (run with -benchtime=100x).
func BenchmarkRelyingPartyHonoured(b *testing.B) {
	cl := startCluster(b)
	ctx := context.Background()
	for i := range loadedRelyingParties {
		if err := cl.c.Create(ctx, relyingParty(fmt.Sprintf("loaded-%d", i), fmt.Sprintf("urn:test:loaded:%d", i))); err != nil {
			b.Fatal(err)
		}
	}
	waitFor(b, "the loaded relying parties", func() bool {
		status, _ := cl.ask(b, fmt.Sprintf("urn:test:loaded:%d", loadedRelyingParties-1))
		return status == http.StatusOK
	})

	var delays []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		endpoint := fmt.Sprintf("urn:test:new:%d", i)
		start := time.Now()
		if err := cl.c.Create(ctx, relyingParty(fmt.Sprintf("new-%d", i), endpoint)); err != nil {
			b.Fatal(err)
		}
		for {
			if status, _ := cl.ask(b, endpoint); status == http.StatusOK {
				break
			}
			if time.Since(start) > 30*time.Second {
				b.Fatalf("relying party %d not honoured after 30s", i)
			}
			time.Sleep(5 * time.Millisecond)
		}
		delays = append(delays, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(delays)
	b.ReportMetric(float64(delays[len(delays)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(delays[len(delays)*99/100].Milliseconds()), "p99-ms")
}
