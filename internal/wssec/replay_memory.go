package wssec

import (
	"container/heap"
	"context"
	"errors"
	"sync"
	"time"
)

// DefaultReplayEntries is the bound of a MemoryReplayStore created with no
// explicit size. An entry costs about 200 bytes, so this is some 20 MB.
const DefaultReplayEntries = 100_000

var (
	errEmptyKey = errors.New("replay key is empty")
	errBadTTL   = errors.New("replay ttl must be positive")
	// ErrStoreFull says a record could not be made because the store holds
	// as many live records as it may: the request that needed it must be
	// refused, since evicting a live record would let its replay through.
	ErrStoreFull = errors.New("the store is full of live records")
)

// MemoryReplayStore is a ReplayStore for a single replica. It holds at most
// a fixed number of keys: expired keys are dropped first, and when it is
// still full a new key is refused with ErrStoreFull. A live record is never
// evicted, so flooding the store cannot make a replay pass.
type MemoryReplayStore struct {
	now func() time.Time
	max int

	mu      sync.Mutex
	entries map[string]*replayEntry
	expiry  expiryQueue // soonest expiry first
}

type replayEntry struct {
	key     string
	expires time.Time
	count   int64 // for Incr; 0 for keys recorded by Seen
	index   int   // position in expiry
}

// NewMemoryReplayStore returns a store holding at most maxEntries keys
// (DefaultReplayEntries if maxEntries <= 0) whose time comes from clock
// (time.Now if nil).
func NewMemoryReplayStore(maxEntries int, clock func() time.Time) *MemoryReplayStore {
	if maxEntries <= 0 {
		maxEntries = DefaultReplayEntries
	}
	if clock == nil {
		clock = time.Now
	}
	return &MemoryReplayStore{
		now:     clock,
		max:     maxEntries,
		entries: make(map[string]*replayEntry),
	}
}

// Seen implements ReplayStore. A key counts as seen until its ttl has
// passed; seeing it again does not extend it.
func (s *MemoryReplayStore) Seen(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if key == "" {
		return false, errEmptyKey
	}
	if ttl <= 0 {
		return false, errBadTTL
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.dropExpired(now)
	if _, ok := s.entries[key]; ok {
		return true, nil
	}
	return false, s.add(&replayEntry{key: key, expires: now.Add(ttl)})
}

// add records e, or refuses when the store is full.
func (s *MemoryReplayStore) add(e *replayEntry) error {
	if len(s.entries) >= s.max {
		return ErrStoreFull
	}
	heap.Push(&s.expiry, e)
	s.entries[e.key] = e
	return nil
}

// Holds implements ReplayStore.
func (s *MemoryReplayStore) Holds(ctx context.Context, key string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[key]
	return ok && s.now().Before(e.expires), nil
}

// Len returns the number of keys held, expired ones included until the next
// Seen drops them.
func (s *MemoryReplayStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}

func (s *MemoryReplayStore) dropExpired(now time.Time) {
	for len(s.expiry) > 0 && !now.Before(s.expiry[0].expires) {
		s.remove(s.expiry[0])
	}
}

func (s *MemoryReplayStore) remove(e *replayEntry) {
	heap.Remove(&s.expiry, e.index)
	delete(s.entries, e.key)
}

// expiryQueue is a min-heap of entries by expiry time.
type expiryQueue []*replayEntry

func (q expiryQueue) Len() int           { return len(q) }
func (q expiryQueue) Less(i, j int) bool { return q[i].expires.Before(q[j].expires) }
func (q expiryQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index = i
	q[j].index = j
}

func (q *expiryQueue) Push(x any) {
	e := x.(*replayEntry)
	e.index = len(*q)
	*q = append(*q, e)
}

func (q *expiryQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return e
}
