package userstore

import (
	"container/list"
	"crypto/rand"
	"crypto/sha256"
	"sync"
	"time"
)

// Defaults for the cache of verified passwords.
const (
	DefaultCacheSize = 10000
	DefaultCacheTTL  = 5 * time.Minute
)

// VerifiedCache remembers recent successful bcrypt checks (and bounds and
// remembers failed ones: see guard.go), so that a client
// that authenticates on every request pays bcrypt's deliberate cost once per
// TTL instead of per request. It keeps only keyed digests of
// (user, password, stored hash): a changed password or hash misses, and the
// passwords cannot be read back from memory.
type VerifiedCache struct {
	mu      sync.Mutex
	secret  [32]byte
	ttl     time.Duration
	max     int
	now     func() time.Time
	order   *list.List // of cacheKey, oldest at the front
	entries map[cacheKey]cacheEntry

	// See guard.go.
	slots      chan struct{}
	queueWait  time.Duration
	failureTTL time.Duration
	failures   map[cacheKey]time.Time
	inflight   map[cacheKey]*comparison
}

type cacheKey [sha256.Size]byte

type cacheEntry struct {
	expires time.Time
	elem    *list.Element
}

// NewVerifiedCache returns a cache of at most size entries, each valid for ttl.
func NewVerifiedCache(size int, ttl time.Duration) *VerifiedCache {
	c := &VerifiedCache{ttl: ttl, max: size, now: time.Now, order: list.New(), entries: map[cacheKey]cacheEntry{},
		slots: make(chan struct{}, hashSlots()), queueWait: DefaultHashQueueWait, failureTTL: DefaultFailureTTL, failures: map[cacheKey]time.Time{}, inflight: map[cacheKey]*comparison{}}
	if _, err := rand.Read(c.secret[:]); err != nil {
		panic("userstore: no randomness: " + err.Error())
	}
	return c
}

func (c *VerifiedCache) key(username, password, hash string) cacheKey {
	h := sha256.New()
	h.Write(c.secret[:])
	for _, s := range []string{username, password, hash} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	var k cacheKey
	h.Sum(k[:0])
	return k
}

func (c *VerifiedCache) hit(k cacheKey) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok {
		return false
	}
	if c.now().After(e.expires) {
		c.order.Remove(e.elem)
		delete(c.entries, k)
		return false
	}
	return true
}

func (c *VerifiedCache) add(k cacheKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[k]; ok {
		c.order.Remove(e.elem)
	}
	for c.order.Len() >= c.max {
		oldest := c.order.Front()
		delete(c.entries, oldest.Value.(cacheKey))
		c.order.Remove(oldest)
	}
	c.entries[k] = cacheEntry{expires: c.now().Add(c.ttl), elem: c.order.PushBack(k)}
}
