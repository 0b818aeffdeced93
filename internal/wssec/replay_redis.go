package wssec

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisReplayStore keeps replay keys in a Redis server shared by every
// replica of an STS, so a message replayed to another replica is refused too.
type RedisReplayStore struct {
	client *redis.Client
	prefix string
}

// RedisOptions says how to reach the Redis server.
type RedisOptions struct {
	Address  string
	Password string
	DB       int
	// Prefix separates the keys of different STSs sharing one server.
	Prefix string
	// Timeout bounds each operation; a slow store fails the request
	// rather than holding it.
	Timeout time.Duration
}

// NewRedisReplayStore connects lazily: the first Seen dials.
func NewRedisReplayStore(o RedisOptions) *RedisReplayStore {
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	return &RedisReplayStore{
		client: redis.NewClient(&redis.Options{
			Addr:         o.Address,
			Password:     o.Password,
			DB:           o.DB,
			DialTimeout:  o.Timeout,
			ReadTimeout:  o.Timeout,
			WriteTimeout: o.Timeout,
		}),
		prefix: o.Prefix,
	}
}

// Seen sets the key only if it is absent (SET NX with the TTL): Redis makes
// the check and the record one atomic step across all replicas.
func (s *RedisReplayStore) Seen(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if ttl < time.Millisecond {
		ttl = time.Millisecond
	}
	ok, err := s.client.SetNX(ctx, s.prefix+key, 1, ttl).Result()
	if err != nil {
		return false, fmt.Errorf("replay store %s: %w", s.client.Options().Addr, err)
	}
	return !ok, nil
}

// Holds implements ReplayStore with EXISTS: Redis drops keys at their TTL.
func (s *RedisReplayStore) Holds(ctx context.Context, key string) (bool, error) {
	n, err := s.client.Exists(ctx, s.prefix+key).Result()
	if err != nil {
		return false, fmt.Errorf("replay store %s: %w", s.client.Options().Addr, err)
	}
	return n == 1, nil
}

// WithPrefix returns a store on the same connections whose keys carry
// prefix after this store's own, to keep kinds of records apart.
func (s *RedisReplayStore) WithPrefix(prefix string) *RedisReplayStore {
	return &RedisReplayStore{client: s.client, prefix: s.prefix + prefix}
}

// Close releases the connections (shared with every WithPrefix store).
func (s *RedisReplayStore) Close() error { return s.client.Close() }
