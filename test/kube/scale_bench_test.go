package kube

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/trustbroker/trustbroker/internal/devkeys"
)

// BenchmarkRelyingPartiesAtScale measures what an STS pod pays for many
// relying parties that each encrypt to a certificate in a Secret of their
// own, so that the pod watches one Secret per relying party (its Role names
// each one): the time from start to ready, the watches it holds, its RSS,
// and the delay from creating one more such relying party and its Secret to
// the first token issued for it (p50 and p99 over the iterations; run with
// -benchtime=50x).
func BenchmarkRelyingPartiesAtScale(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("rps=%d", n), func(b *testing.B) { benchmarkScale(b, n) })
	}
}

func benchmarkScale(b *testing.B, n int) {
	cl := newCluster(b)
	cert, err := devkeys.NewRSA("rp.example.com", time.Now(), 24*time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	populate(b, cl.c, n, cert)

	start := time.Now()
	sts := launchSTS(b, cl.api)
	cl.stsURL = sts.url
	waitWithin(b, 10*time.Minute, "the STS to be ready", func() bool {
		status, _ := sts.readyz()
		return status == http.StatusOK
	})
	waitWithin(b, 10*time.Minute, "the loaded relying parties", func() bool {
		status, _ := cl.ask(b, fmt.Sprintf("urn:test:loaded:%d", n-1))
		return status == http.StatusOK
	})
	startup := time.Since(start)

	ctx := context.Background()
	var delays []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		name := fmt.Sprintf("new-%d", i)
		endpoint := "urn:test:" + name
		begin := time.Now()
		for _, o := range encryptingRelyingParty(name, endpoint, cert) {
			if err := cl.c.Create(ctx, o); err != nil {
				b.Fatal(err)
			}
		}
		waitWithin(b, time.Minute, "relying party "+name, func() bool {
			status, _ := cl.ask(b, endpoint)
			return status == http.StatusOK
		})
		delays = append(delays, time.Since(begin))
	}
	b.StopTimer()

	b.ReportMetric(startup.Seconds(), "startup-s")
	slices.Sort(delays)
	b.ReportMetric(float64(delays[len(delays)/2].Milliseconds()), "reload-p50-ms")
	b.ReportMetric(float64(delays[len(delays)*99/100].Milliseconds()), "reload-p99-ms")
	b.ReportMetric(scrape(b, sts.metrics, `trustbroker_source_watches{resource="secrets"}`), "secret-watches")
	b.ReportMetric(scrape(b, sts.metrics, "go_goroutines"), "goroutines")
	mem := memory(b, sts.pid)
	b.ReportMetric(mem["VmRSS"], "rss-MiB")
	b.ReportMetric(mem["RssAnon"], "rss-anon-MiB")
	b.ReportMetric(mem["VmHWM"], "peak-rss-MiB")
}

// populate creates n relying parties, each with its own certificate Secret.
func populate(b *testing.B, c client.Client, n int, cert *devkeys.Pair) {
	b.Helper()
	var g errgroup.Group
	g.SetLimit(16)
	for i := range n {
		g.Go(func() error {
			name := fmt.Sprintf("loaded-%d", i)
			for _, o := range encryptingRelyingParty(name, fmt.Sprintf("urn:test:loaded:%d", i), cert) {
				if err := c.Create(context.Background(), o); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
}

// scrape reads one sample from the STS's /metrics.
func scrape(b *testing.B, addr, sample string) float64 {
	b.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	for lines.Scan() {
		if value, ok := strings.CutPrefix(lines.Text(), sample+" "); ok {
			v, err := strconv.ParseFloat(value, 64)
			if err != nil {
				b.Fatal(err)
			}
			return v
		}
	}
	b.Fatalf("no %s in /metrics", sample)
	return 0
}

// memory reads the process's memory figures from /proc, in MiB: VmRSS is
// resident memory, RssAnon the part of it that is not the mapped binary and
// VmHWM the peak.
func memory(b *testing.B, pid int) map[string]float64 {
	b.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	mem := map[string]float64{}
	for _, line := range strings.Split(string(status), "\n") {
		field, value, _ := strings.Cut(line, ":")
		if kib, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 64); err == nil {
			mem[field] = kib / 1024
		}
	}
	return mem
}
