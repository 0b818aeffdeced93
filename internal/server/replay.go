package server

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-logr/logr"

	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/wssec"
)

// StoreSet is the STS's security records, kept apart so that one kind can
// never push out another: failed sign-ins cannot crowd out replay records
// or cancellations.
type StoreSet struct {
	// Replay holds seen nonces, Kerberos authenticators and signed
	// messages.
	Replay wssec.ReplayStore
	// Cancelled holds the tokens cancelled before they expire.
	Cancelled wssec.ReplayStore
	// Lockout holds the failed sign-in counters and lockout markers; its
	// store also implements wssec.Counter.
	Lockout wssec.ReplayStore
}

// NewMemoryStores returns a StoreSet of in-memory stores, each bounded by
// maxEntries.
func NewMemoryStores(maxEntries int, clock func() time.Time) StoreSet {
	return StoreSet{
		Replay:    wssec.NewMemoryReplayStore(maxEntries, clock),
		Cancelled: wssec.NewMemoryReplayStore(maxEntries, clock),
		Lockout:   wssec.NewMemoryReplayStore(maxEntries, clock),
	}
}

// ReplayStores picks the stores a snapshot asks for: the process's
// in-memory ones, or a Redis server shared by all replicas, each kind under
// a prefix of its own. The Redis connections are kept while the settings
// stay the same and replaced when they change.
type ReplayStores struct {
	Memory StoreSet
	Log    logr.Logger

	mu       sync.Mutex
	redis    *wssec.RedisReplayStore
	shared   StoreSet
	settings policy.Redis
}

// For returns the stores for snap.
func (r *ReplayStores) For(snap *policy.Snapshot) StoreSet {
	want := snap.STS.Replay.Redis
	if want == nil {
		return r.Memory
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.redis == nil || r.settings != *want {
		if r.redis != nil {
			if err := r.redis.Close(); err != nil {
				r.Log.Error(err, "closing the previous Redis replay store")
			}
		}
		r.redis = wssec.NewRedisReplayStore(wssec.RedisOptions{
			Address:  want.Address,
			Password: want.Password,
			DB:       want.DB,
			// Replicas of one STS share keys; other STSs on the server do not.
			Prefix: "trustbroker:" + snap.STS.Namespace + "/" + snap.STS.Name + ":",
		})
		r.shared = StoreSet{Replay: r.redis.WithPrefix("replay:"), Cancelled: r.redis.WithPrefix("cancelled:"), Lockout: r.redis.WithPrefix("lockout:")}
		r.settings = *want
		r.Log.Info("replay store: Redis", "address", want.Address, "db", want.DB)
	}
	return r.shared
}

// stores are snap's stores, each counting in the metrics the records it
// refuses because it is full.
func (s *Server) stores(snap *policy.Snapshot) StoreSet {
	set := s.Replay.For(snap)
	if s.Metrics == nil {
		return set
	}
	return StoreSet{
		Replay:    countingStore{set.Replay, s.Metrics, "replay"},
		Cancelled: countingStore{set.Cancelled, s.Metrics, "cancelled"},
		Lockout:   countingStore{set.Lockout, s.Metrics, "lockout"},
	}
}

// countingStore counts ErrStoreFull refusals of the store it wraps.
type countingStore struct {
	wssec.ReplayStore
	metrics *Metrics
	name    string
}

func (c countingStore) Seen(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	seen, err := c.ReplayStore.Seen(ctx, key, ttl)
	c.count(err)
	return seen, err
}

// Incr implements wssec.Counter when the wrapped store does.
func (c countingStore) Incr(ctx context.Context, key string, ttl time.Duration) (int64, error) {
	counter, ok := c.ReplayStore.(wssec.Counter)
	if !ok {
		return 0, fmt.Errorf("the %s store %T cannot count", c.name, c.ReplayStore)
	}
	n, err := counter.Incr(ctx, key, ttl)
	c.count(err)
	return n, err
}

func (c countingStore) count(err error) {
	if errors.Is(err, wssec.ErrStoreFull) {
		c.metrics.storeFull.WithLabelValues(c.name).Inc()
	}
}
