package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/trustbroker/trustbroker/internal/wssec"
)

// Failed sign-ins are throttled per client address whether or not lockout
// is on: lockout counts against a user name or an address over a window,
// and a client spraying random names would otherwise get as many password
// checks as it can send. Each address has a bucket of failedSignIns.burst
// failures, refilled at failedSignIns.rate per second; with the bucket
// empty, its next attempts are refused before any credential is checked.
var failedSignIns = bucketLimit{burst: 20, rate: 2}

// maxTrackedAddresses bounds the buckets kept per limit; when it is
// reached, the buckets that have refilled (no recent events) are dropped.
const maxTrackedAddresses = 100_000

// bucketLimit is a token bucket's size and refill rate per second.
type bucketLimit struct{ burst, rate float64 }

// addressBuckets counts events per client address against a bucketLimit.
type addressBuckets struct {
	mu      sync.Mutex
	buckets map[netip.Addr]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
	// skipped counts the events refused since the last one allowed.
	skipped int
}

// refill brings b up to now.
func (b *bucket) refill(now time.Time, l bucketLimit) {
	b.tokens = min(l.burst, b.tokens+now.Sub(b.at).Seconds()*l.rate)
	b.at = now
}

// allow reports whether addr has an event left now, without taking it.
func (t *addressBuckets) allow(addr netip.Addr, now time.Time, l bucketLimit) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	b, ok := t.buckets[addr]
	if !ok {
		return true
	}
	b.refill(now, l)
	return b.tokens >= 1
}

// take takes one event from addr's bucket.
func (t *addressBuckets) take(addr netip.Addr, now time.Time, l bucketLimit) {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.bucket(addr, now, l)
	b.tokens = max(0, b.tokens-1)
}

// takeIfAllowed takes one event when addr has one left and reports it;
// otherwise it counts the event as skipped. skipped is the number skipped
// before this allowed event.
func (t *addressBuckets) takeIfAllowed(addr netip.Addr, now time.Time, l bucketLimit) (ok bool, skipped int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.bucket(addr, now, l)
	if b.tokens < 1 {
		b.skipped++
		return false, 0
	}
	b.tokens--
	skipped, b.skipped = b.skipped, 0
	return true, skipped
}

// bucket returns addr's bucket refilled to now, made full when new.
func (t *addressBuckets) bucket(addr netip.Addr, now time.Time, l bucketLimit) *bucket {
	if t.buckets == nil {
		t.buckets = map[netip.Addr]*bucket{}
	}
	b, ok := t.buckets[addr]
	if !ok {
		if len(t.buckets) >= maxTrackedAddresses {
			t.prune(now, l)
		}
		b = &bucket{tokens: l.burst, at: now}
		t.buckets[addr] = b
	}
	b.refill(now, l)
	return b
}

// prune drops the buckets that have refilled and skipped nothing.
func (t *addressBuckets) prune(now time.Time, l bucketLimit) {
	for addr, b := range t.buckets {
		if b.refill(now, l); b.tokens >= l.burst && b.skipped == 0 {
			delete(t.buckets, addr)
		}
	}
}

// attemptGuard is the pipeline's wssec.AttemptGuard: the per-address
// throttle, then the lockout when the STS has one.
type attemptGuard struct {
	s       *Server
	r       *http.Request
	lockout wssec.AttemptGuard // nil when lockout is off
}

var errThrottled = errors.New("too many failed sign-ins from this address")

// Allow implements wssec.AttemptGuard.
func (g attemptGuard) Allow(ctx context.Context, username string) error {
	if addr, ok := clientAddress(g.r, g.s.TrustedProxies); ok && !g.s.throttle.allow(addr, g.s.Now(), failedSignIns) {
		return wssec.Denied(fmt.Errorf("%w (%s): at most %g failures, then %g per second; the credentials were not checked", errThrottled, addr, failedSignIns.burst, failedSignIns.rate))
	}
	if g.lockout != nil {
		return g.lockout.Allow(ctx, username)
	}
	return nil
}

// Failed implements wssec.AttemptGuard.
func (g attemptGuard) Failed(ctx context.Context, username string) {
	if addr, ok := clientAddress(g.r, g.s.TrustedProxies); ok {
		g.s.throttle.take(addr, g.s.Now(), failedSignIns)
	}
	if g.lockout != nil {
		g.lockout.Failed(ctx, username)
	}
}
