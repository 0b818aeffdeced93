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
// checks as it can send. Each address has a bucket of failedSignInBurst
// failures, refilled at failedSignInRate per second; with the bucket
// empty, its next attempts are refused before any credential is checked.
const (
	failedSignInBurst = 20
	failedSignInRate  = 2.0
	// maxThrottledAddresses bounds the buckets kept; when it is reached,
	// the buckets that have refilled (no recent failures) are dropped.
	maxThrottledAddresses = 100_000
)

// addressThrottle holds the buckets.
type addressThrottle struct {
	mu      sync.Mutex
	buckets map[netip.Addr]*failureBucket
}

type failureBucket struct {
	tokens float64
	at     time.Time
}

// refill brings b up to now.
func (b *failureBucket) refill(now time.Time) {
	b.tokens = min(failedSignInBurst, b.tokens+now.Sub(b.at).Seconds()*failedSignInRate)
	b.at = now
}

// allow reports whether addr may try to sign in now.
func (t *addressThrottle) allow(addr netip.Addr, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	b, ok := t.buckets[addr]
	if !ok {
		return true
	}
	b.refill(now)
	return b.tokens >= 1
}

// failed takes one failure from addr's bucket.
func (t *addressThrottle) failed(addr netip.Addr, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.buckets == nil {
		t.buckets = map[netip.Addr]*failureBucket{}
	}
	b, ok := t.buckets[addr]
	if !ok {
		if len(t.buckets) >= maxThrottledAddresses {
			t.prune(now)
		}
		b = &failureBucket{tokens: failedSignInBurst, at: now}
		t.buckets[addr] = b
	}
	b.refill(now)
	b.tokens = max(0, b.tokens-1)
}

// prune drops the buckets that have refilled.
func (t *addressThrottle) prune(now time.Time) {
	for addr, b := range t.buckets {
		if b.refill(now); b.tokens >= failedSignInBurst {
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
	if addr, ok := clientAddress(g.r, g.s.TrustedProxies); ok && !g.s.throttle.allow(addr, g.s.Now()) {
		return wssec.Denied(fmt.Errorf("%w (%s): at most %d failures, then %g per second; the credentials were not checked", errThrottled, addr, failedSignInBurst, failedSignInRate))
	}
	if g.lockout != nil {
		return g.lockout.Allow(ctx, username)
	}
	return nil
}

// Failed implements wssec.AttemptGuard.
func (g attemptGuard) Failed(ctx context.Context, username string) {
	if addr, ok := clientAddress(g.r, g.s.TrustedProxies); ok {
		g.s.throttle.failed(addr, g.s.Now())
	}
	if g.lockout != nil {
		g.lockout.Failed(ctx, username)
	}
}
