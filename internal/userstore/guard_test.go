package userstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/trustbroker/trustbroker/internal/policy"
)

// TestCompareRemembersFailures: the same wrong password costs one hash
// comparison however often it is sent; another password is compared.
func TestCompareRemembersFailures(t *testing.T) {
	c := NewVerifiedCache(100, time.Minute)
	calls := 0
	wrong := func() bool { calls++; return false }
	k := c.key("bob", "guess", "$2a$hash")
	for range 5 {
		if err := c.compare(context.Background(), k, wrong); !errors.Is(err, policy.ErrBadCredentials) {
			t.Fatalf("compare: %v, want ErrBadCredentials", err)
		}
	}
	if calls != 1 {
		t.Errorf("%d comparisons for one wrong password sent 5 times, want 1", calls)
	}
	if err := c.compare(context.Background(), c.key("bob", "right", "$2a$hash"), func() bool { return true }); err != nil {
		t.Errorf("the right password after a wrong one: %v", err)
	}
	// A changed stored hash is a new attempt.
	if err := c.compare(context.Background(), c.key("bob", "guess", "$2a$other"), wrong); !errors.Is(err, policy.ErrBadCredentials) || calls != 2 {
		t.Errorf("after a password change: err %v, %d comparisons; want a fresh comparison", err, calls)
	}
}

// TestCompareBoundsConcurrency: with every slot busy, a check that cannot
// start within the queue wait is refused as busy instead of piling up.
func TestCompareBoundsConcurrency(t *testing.T) {
	c := NewVerifiedCache(100, time.Minute)
	c.queueWait = 20 * time.Millisecond
	release := make(chan struct{})
	started := make(chan struct{}, cap(c.slots))
	for i := range cap(c.slots) {
		go func() {
			_ = c.compare(context.Background(), c.key("busy", string(rune('a'+i)), ""), func() bool {
				started <- struct{}{}
				<-release
				return false
			})
		}()
	}
	for range cap(c.slots) {
		<-started
	}
	err := c.compare(context.Background(), c.key("alice", "pw", ""), func() bool { return true })
	close(release)
	if !errors.Is(err, policy.ErrBusy) {
		t.Fatalf("compare with every slot busy: %v, want ErrBusy", err)
	}
	c.queueWait = 10 * time.Second // the busy checks are finishing
	if err := c.compare(context.Background(), c.key("alice", "pw", ""), func() bool { return true }); err != nil {
		t.Errorf("once the slots are free: %v", err)
	}
}
