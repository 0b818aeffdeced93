package wssec

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/trustbroker/trustbroker/internal/testtools"
)

// TestMemoryCounter: counts within the window, starts over after it, and
// is not extended by later increments.
func TestMemoryCounter(t *testing.T) {
	clock := &fakeClock{now: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := NewMemoryReplayStore(10, clock.Now)
	ctx := context.Background()
	steps := []struct {
		advance time.Duration
		key     string
		want    int64
	}{
		{0, "a", 1},
		{time.Minute, "a", 2},
		{time.Minute, "b", 1},
		{time.Minute, "a", 3},
		// 15m after a's first increment its window is over, even though
		// the last increment was 12m ago.
		{12 * time.Minute, "a", 1},
		{time.Minute, "b", 2},
	}
	for i, st := range steps {
		clock.Advance(st.advance)
		got, err := s.Incr(ctx, st.key, 15*time.Minute)
		if err != nil || got != st.want {
			t.Fatalf("step %d: Incr(%s) = %d, %v; want %d", i, st.key, got, err, st.want)
		}
	}
	if held, _ := s.Holds(ctx, "b"); !held {
		t.Error("a counted key is not held")
	}
	if _, err := s.Incr(ctx, "", time.Minute); err == nil {
		t.Error("empty key accepted")
	}
	if _, err := s.Incr(ctx, "c", 0); err == nil {
		t.Error("zero ttl accepted")
	}
}

// TestMemoryCounterConcurrent: no increment is lost under contention.
func TestMemoryCounterConcurrent(t *testing.T) {
	s := NewMemoryReplayStore(10, time.Now)
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if _, err := s.Incr(context.Background(), "k", time.Minute); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n, _ := s.Incr(context.Background(), "k", time.Minute); n != 51 {
		t.Fatalf("count %d after 51 increments", n)
	}
}

// TestRedisCounterSharedByReplicas: two replicas count into one key, the
// key expires with the window set by the first increment, and other STSs'
// prefixes are separate.
func TestRedisCounterSharedByReplicas(t *testing.T) {
	addr := testtools.StartRedis(t, "")
	ctx := context.Background()
	a := NewRedisReplayStore(RedisOptions{Address: addr, Prefix: "sts-a:"})
	b := NewRedisReplayStore(RedisOptions{Address: addr, Prefix: "sts-a:"})
	other := NewRedisReplayStore(RedisOptions{Address: addr, Prefix: "sts-b:"})
	defer a.Close()
	defer b.Close()
	defer other.Close()

	var wg sync.WaitGroup
	for i := range 20 {
		store := a
		if i%2 == 1 {
			store = b
		}
		wg.Go(func() {
			if _, err := store.Incr(ctx, "fails", time.Minute); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n, err := b.Incr(ctx, "fails", time.Minute); err != nil || n != 21 {
		t.Fatalf("count %d, %v after 21 increments on two replicas", n, err)
	}
	if n, _ := other.Incr(ctx, "fails", time.Minute); n != 1 {
		t.Fatalf("another STS's counter is %d, want its own 1", n)
	}

	if n, _ := a.Incr(ctx, "short", 100*time.Millisecond); n != 1 {
		t.Fatalf("new key counted %d", n)
	}
	if n, _ := b.Incr(ctx, "short", time.Minute); n != 2 {
		t.Fatalf("second increment counted %d", n)
	}
	time.Sleep(250 * time.Millisecond)
	if n, err := a.Incr(ctx, "short", time.Minute); err != nil || n != 1 {
		t.Fatalf("count %d, %v after the window; want 1 (the later increment must not extend the window)", n, err)
	}

	down := NewRedisReplayStore(RedisOptions{Address: "127.0.0.1:1", Timeout: 200 * time.Millisecond})
	defer down.Close()
	if _, err := down.Incr(ctx, "k", time.Minute); err == nil {
		t.Fatal("an unreachable store counted")
	}
}
