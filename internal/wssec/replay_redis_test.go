package wssec

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/trustbroker/trustbroker/internal/testtools"
)

// TestRedisReplayStoreSharedByReplicas: two stores (two STS replicas) on
// one Redis server see each other's keys, atomically.
func TestRedisReplayStoreSharedByReplicas(t *testing.T) {
	addr := testtools.StartRedis(t, "s3cret")
	ctx := context.Background()
	a := NewRedisReplayStore(RedisOptions{Address: addr, Password: "s3cret", Prefix: "sts-a:"})
	b := NewRedisReplayStore(RedisOptions{Address: addr, Password: "s3cret", Prefix: "sts-a:"})
	defer a.Close()
	defer b.Close()

	if seen, err := a.Seen(ctx, "k1", time.Minute); err != nil || seen {
		t.Fatalf("first Seen = %v, %v", seen, err)
	}
	if seen, err := b.Seen(ctx, "k1", time.Minute); err != nil || !seen {
		t.Fatalf("the other replica did not see the key: %v, %v", seen, err)
	}

	// Exactly one of many concurrent callers gets "new".
	var wg sync.WaitGroup
	var mu sync.Mutex
	fresh := 0
	for i := range 16 {
		store := a
		if i%2 == 1 {
			store = b
		}
		wg.Go(func() {
			seen, err := store.Seen(ctx, "race", time.Minute)
			if err != nil {
				t.Error(err)
			}
			if !seen {
				mu.Lock()
				fresh++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if fresh != 1 {
		t.Fatalf("%d callers saw the key as new, want 1", fresh)
	}

	// Keys expire with their TTL.
	if seen, _ := a.Seen(ctx, "short", 50*time.Millisecond); seen {
		t.Fatal("new key seen")
	}
	time.Sleep(150 * time.Millisecond)
	if seen, err := b.Seen(ctx, "short", time.Minute); err != nil || seen {
		t.Fatalf("expired key still seen: %v, %v", seen, err)
	}

	// Another STS's prefix does not collide.
	other := NewRedisReplayStore(RedisOptions{Address: addr, Password: "s3cret", Prefix: "sts-b:"})
	defer other.Close()
	if seen, _ := other.Seen(ctx, "k1", time.Minute); seen {
		t.Fatal("keys of another STS collided")
	}
}

func TestRedisReplayStoreErrors(t *testing.T) {
	addr := testtools.StartRedis(t, "s3cret")
	ctx := context.Background()
	wrong := NewRedisReplayStore(RedisOptions{Address: addr, Password: "wrong"})
	defer wrong.Close()
	if _, err := wrong.Seen(ctx, "k", time.Minute); err == nil {
		t.Fatal("a wrong password was accepted")
	}
	down := NewRedisReplayStore(RedisOptions{Address: "127.0.0.1:1", Timeout: 200 * time.Millisecond})
	defer down.Close()
	if _, err := down.Seen(ctx, "k", time.Minute); err == nil {
		t.Fatal("no error with the store down")
	}
}

// TestRedisReplayStoreHolds: a key recorded by one replica is held for
// another, without being recorded by asking, until its TTL.
func TestRedisReplayStoreHolds(t *testing.T) {
	addr := testtools.StartRedis(t, "")
	ctx := context.Background()
	a := NewRedisReplayStore(RedisOptions{Address: addr, Prefix: "p:"})
	b := NewRedisReplayStore(RedisOptions{Address: addr, Prefix: "p:"})
	defer a.Close()
	defer b.Close()
	if held, err := b.Holds(ctx, "cancel:x"); err != nil || held {
		t.Fatalf("Holds before recording = %v, %v", held, err)
	}
	if held, _ := b.Holds(ctx, "cancel:x"); held {
		t.Fatal("asking recorded the key")
	}
	if _, err := a.Seen(ctx, "cancel:x", 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if held, err := b.Holds(ctx, "cancel:x"); err != nil || !held {
		t.Fatalf("the other replica does not hold the key: %v, %v", held, err)
	}
	time.Sleep(200 * time.Millisecond)
	if held, _ := b.Holds(ctx, "cancel:x"); held {
		t.Fatal("the key outlived its TTL")
	}
}
