package userstore

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/trustbroker/trustbroker/internal/policy"
)

// Password checks cost bcrypt's deliberate CPU time, and anyone can ask
// for one: a few clients sending wrong passwords would otherwise take
// every core and starve the callers whose passwords are already cached.
// So a VerifiedCache also
//   - runs at most a bounded number of hash comparisons at once (half the
//     cores, at least one); a check that cannot start within
//     DefaultHashQueueWait is refused with policy.ErrBusy;
//   - remembers recent failures by a keyed digest of (user, password,
//     stored hash) for DefaultFailureTTL, so the same wrong password sent
//     again costs no second comparison;
//   - lets concurrent checks of the same attempt share one comparison (a
//     client's first burst of requests, or a flood of one guess).
const (
	DefaultHashQueueWait = 500 * time.Millisecond
	DefaultFailureTTL    = time.Minute
)

// hashSlots is how many comparisons may run at once.
func hashSlots() int {
	return max(1, runtime.GOMAXPROCS(0)/2)
}

// compare runs hash comparison f for the attempt key: from memory when the
// same attempt failed recently, else in a bounded slot. f reports whether
// the password matched.
func (c *VerifiedCache) compare(ctx context.Context, k cacheKey, f func() bool) error {
	if c.failedRecently(k) {
		return policy.ErrBadCredentials
	}
	c.mu.Lock()
	if call, ok := c.inflight[k]; ok {
		c.mu.Unlock()
		<-call.done
		return call.err
	}
	call := &comparison{done: make(chan struct{})}
	c.inflight[k] = call
	c.mu.Unlock()
	call.err = c.compareInSlot(ctx, k, f)
	c.mu.Lock()
	delete(c.inflight, k)
	c.mu.Unlock()
	close(call.done)
	return call.err
}

// comparison is a check in progress, for others with the same attempt to
// wait on.
type comparison struct {
	done chan struct{}
	err  error
}

// compareInSlot runs f once a slot is free, within the queue wait.
func (c *VerifiedCache) compareInSlot(ctx context.Context, k cacheKey, f func() bool) error {
	wait, cancel := context.WithTimeout(ctx, c.queueWait)
	defer cancel()
	select {
	case c.slots <- struct{}{}:
	case <-wait.Done():
		return fmt.Errorf("%w (waited %s)", policy.ErrBusy, c.queueWait)
	}
	ok := f()
	<-c.slots
	if !ok {
		c.addFailure(k)
		return policy.ErrBadCredentials
	}
	return nil
}

func (c *VerifiedCache) failedRecently(k cacheKey) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	expires, ok := c.failures[k]
	if ok && c.now().After(expires) {
		delete(c.failures, k)
		return false
	}
	return ok
}

// addFailure remembers a failed attempt. When the memory is full, expired
// entries go first, then an arbitrary one: forgetting a failure costs one
// more comparison, never a wrong answer.
func (c *VerifiedCache) addFailure(k cacheKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.failures) >= c.max {
		now := c.now()
		for old, expires := range c.failures {
			if now.After(expires) {
				delete(c.failures, old)
			}
		}
		for old := range c.failures {
			if len(c.failures) < c.max {
				break
			}
			delete(c.failures, old)
		}
	}
	c.failures[k] = c.now().Add(c.failureTTL)
}
