package wssec

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Counter counts events per key within a fixed window: the first Incr of a
// key starts its window, later ones within it add to the count, and the
// count starts over once the window has passed. Both replay stores
// implement it, so counts kept in Redis are shared by all replicas (the
// extranet lockout counts failed sign-ins this way).
type Counter interface {
	// Incr adds one to key's count and returns the new count. ttl is the
	// window, set when the count starts and not extended by later calls.
	// An error means nothing is known.
	Incr(ctx context.Context, key string, ttl time.Duration) (int64, error)
}

var (
	_ Counter = (*MemoryReplayStore)(nil)
	_ Counter = (*RedisReplayStore)(nil)
)

// Incr implements Counter. Counters share the store's bound with other
// keys: a new counter in a full store is refused with ErrStoreFull.
func (s *MemoryReplayStore) Incr(ctx context.Context, key string, ttl time.Duration) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if key == "" {
		return 0, errEmptyKey
	}
	if ttl <= 0 {
		return 0, errBadTTL
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.dropExpired(now)
	if e, ok := s.entries[key]; ok {
		e.count++
		return e.count, nil
	}
	if err := s.add(&replayEntry{key: key, expires: now.Add(ttl), count: 1}); err != nil {
		return 0, err
	}
	return 1, nil
}

// incrScript increments a key and starts its TTL with the first increment,
// in one step: INCR and a separate EXPIRE could leave a key without a TTL
// (counting forever) if the client died between them.
var incrScript = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`)

// Incr implements Counter with an atomic script, so that concurrent
// increments from all replicas are counted exactly.
func (s *RedisReplayStore) Incr(ctx context.Context, key string, ttl time.Duration) (int64, error) {
	if ttl < time.Millisecond {
		ttl = time.Millisecond
	}
	n, err := incrScript.Run(ctx, s.client, []string{s.prefix + key}, ttl.Milliseconds()).Int64()
	if err != nil {
		return 0, fmt.Errorf("replay store %s: %w", s.client.Options().Addr, err)
	}
	return n, nil
}
