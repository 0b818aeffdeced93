package wssec

import (
	"container/heap"
	"container/list"
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
)

// MemoryReplayStore is a ReplayStore for a single replica. It holds at most
// a fixed number of keys: expired keys are dropped first, and when it is
// still full the oldest key is evicted (a replay of that key is then no
// longer detected, which Evicted counts so it can be alerted on).
type MemoryReplayStore struct {
	now func() time.Time
	max int

	mu      sync.Mutex
	entries map[string]*replayEntry
	order   *list.List  // insertion order, oldest first; values are *replayEntry
	expiry  expiryQueue // soonest expiry first
	evicted uint64
}

type replayEntry struct {
	key     string
	expires time.Time
	count   int64 // for Incr; 0 for keys recorded by Seen
	elem    *list.Element
	index   int // position in expiry
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
		order:   list.New(),
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
	if len(s.entries) >= s.max {
		s.remove(s.order.Front().Value.(*replayEntry))
		s.evicted++
	}
	e := &replayEntry{key: key, expires: now.Add(ttl)}
	e.elem = s.order.PushBack(e)
	heap.Push(&s.expiry, e)
	s.entries[key] = e
	return false, nil
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

// Evicted returns how many unexpired keys were evicted because the store
// was full.
func (s *MemoryReplayStore) Evicted() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.evicted
}

func (s *MemoryReplayStore) dropExpired(now time.Time) {
	for len(s.expiry) > 0 && !now.Before(s.expiry[0].expires) {
		s.remove(s.expiry[0])
	}
}

func (s *MemoryReplayStore) remove(e *replayEntry) {
	heap.Remove(&s.expiry, e.index)
	s.order.Remove(e.elem)
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
