package wssec

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/testtools"
)

func TestMemoryReplayStoreDuplicate(t *testing.T) {
	clock := &fakeClock{now: mustTime(t, "2024-05-01T12:00:00Z")}
	s := NewMemoryReplayStore(10, clock.Now)
	ctx := context.Background()
	for i, want := range []bool{false, true, true} {
		got, err := s.Seen(ctx, "k", time.Minute)
		if err != nil || got != want {
			t.Fatalf("call %d: Seen = %v, %v; want %v", i, got, err, want)
		}
	}
	if got, _ := s.Seen(ctx, "other", time.Minute); got {
		t.Error("a new key was reported as seen")
	}
}

func TestMemoryReplayStoreTTL(t *testing.T) {
	clock := &fakeClock{now: mustTime(t, "2024-05-01T12:00:00Z")}
	s := NewMemoryReplayStore(10, clock.Now)
	ctx := context.Background()
	mustSeen(t, s, "short", time.Minute, false)
	mustSeen(t, s, "long", time.Hour, false)

	clock.Advance(time.Minute - time.Nanosecond)
	mustSeen(t, s, "short", time.Minute, true) // still remembered; not extended
	clock.Advance(time.Nanosecond)
	mustSeen(t, s, "short", time.Minute, false) // expired exactly at its ttl, recorded again
	mustSeen(t, s, "long", time.Hour, true)

	clock.Advance(2 * time.Hour)
	mustSeen(t, s, "fresh", time.Minute, false) // drops both expired keys
	if n := s.Len(); n != 1 {
		t.Errorf("Len = %d after expiry, want 1", n)
	}
	if _, err := s.Seen(ctx, "x", 0); err == nil {
		t.Error("zero ttl accepted")
	}
	if _, err := s.Seen(ctx, "", time.Minute); err == nil {
		t.Error("empty key accepted")
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Seen(cancelled, "y", time.Minute); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: err = %v", err)
	}
}

// TestMemoryReplayStoreBound: a full store refuses new keys rather than
// forget a live one (which would let its replay through), and counters
// likewise; expired keys make room.
func TestMemoryReplayStoreBound(t *testing.T) {
	clock := &fakeClock{now: mustTime(t, "2024-05-01T12:00:00Z")}
	ctx := context.Background()
	s := NewMemoryReplayStore(3, clock.Now)
	for _, k := range []string{"a", "b", "c"} {
		mustSeen(t, s, k, time.Hour, false)
		clock.Advance(time.Second)
	}
	if _, err := s.Seen(ctx, "d", time.Hour); !errors.Is(err, ErrStoreFull) {
		t.Fatalf("Seen in a full store: %v, want ErrStoreFull", err)
	}
	if _, err := s.Incr(ctx, "counter", time.Hour); !errors.Is(err, ErrStoreFull) {
		t.Fatalf("Incr in a full store: %v, want ErrStoreFull", err)
	}
	for _, k := range []string{"a", "b", "c"} {
		mustSeen(t, s, k, time.Hour, true) // every live key is still known
	}

	// Expired keys make room.
	s = NewMemoryReplayStore(2, clock.Now)
	mustSeen(t, s, "old", time.Second, false)
	mustSeen(t, s, "live", time.Hour, false)
	clock.Advance(2 * time.Second)
	mustSeen(t, s, "new", time.Hour, false)
	mustSeen(t, s, "live", time.Hour, true)
}

func TestMemoryReplayStoreConcurrent(t *testing.T) {
	var mu sync.Mutex
	now := mustTime(t, "2024-05-01T12:00:00Z")
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(time.Millisecond)
		return now
	}
	s := NewMemoryReplayStore(1000, clock)
	const keys, workers = 200, 8
	var firsts [keys]atomic.Int32
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range keys {
				k := (i + w*17) % keys // different orders per worker
				seen, err := s.Seen(context.Background(), fmt.Sprintf("key-%d", k), time.Hour)
				if err != nil {
					t.Error(err)
					return
				}
				if !seen {
					firsts[k].Add(1)
				}
			}
		}()
	}
	wg.Wait()
	for k := range keys {
		if n := firsts[k].Load(); n != 1 {
			t.Errorf("key-%d was new to %d callers, want exactly 1", k, n)
		}
	}
	if s.Len() != keys {
		t.Errorf("Len = %d, want %d", s.Len(), keys)
	}
}

func mustSeen(t *testing.T, s ReplayStore, key string, ttl time.Duration, want bool) {
	t.Helper()
	got, err := s.Seen(context.Background(), key, ttl)
	if err != nil {
		t.Fatalf("Seen(%q): %v", key, err)
	}
	if got != want {
		t.Fatalf("Seen(%q) = %v, want %v", key, got, want)
	}
}

func TestUsernameTokenReplayKey(t *testing.T) {
	base := UsernameToken{Username: "alice", Nonce: []byte{1, 2, 3}, CreatedText: "2024-05-01T12:00:00.000Z"}
	key, ok := UsernameTokenReplayKey(&base)
	if !ok || !strings.HasPrefix(key, "wssec:ut:") {
		t.Fatalf("key = %q, %v", key, ok)
	}
	again := base
	if k, _ := UsernameTokenReplayKey(&again); k != key {
		t.Error("the same token gives a different key")
	}
	variants := map[string]UsernameToken{
		"other user":    {Username: "bob", Nonce: base.Nonce, CreatedText: base.CreatedText},
		"other nonce":   {Username: "alice", Nonce: []byte{1, 2, 4}, CreatedText: base.CreatedText},
		"other created": {Username: "alice", Nonce: base.Nonce, CreatedText: "2024-05-01T12:00:01.000Z"},
		// Without length prefixes these two would hash the same bytes.
		"shifted boundary": {Username: "alice\x01", Nonce: []byte{2, 3}, CreatedText: base.CreatedText},
	}
	for name, v := range variants {
		if k, _ := UsernameTokenReplayKey(&v); k == key {
			t.Errorf("%s gives the same key", name)
		}
	}
	if _, ok := UsernameTokenReplayKey(&UsernameToken{Username: "alice"}); ok {
		t.Error("a token without nonce has a key")
	}
}

func signedHeader(t *testing.T) string {
	t.Helper()
	return string(testtools.ReadTestdata(t, "signed-header.xml"))
}

func TestMessageReplayKey(t *testing.T) {
	doc := signedHeader(t)
	key := messageKey(t, doc)
	if key == "" {
		t.Fatal("signed header has no key")
	}
	// What a replayer can change without breaking the signature does not
	// change the key.
	same := map[string]string{
		"prefix":          strings.ReplaceAll(strings.ReplaceAll(doc, "ds:", "dsig:"), "xmlns:ds=", "xmlns:dsig="),
		"SignatureValue":  strings.Replace(doc, "c2lnbmF0dXJl", "b3RoZXI=", 1),
		"unsigned header": strings.Replace(doc, "</wsse:Security>", `<x:Extra xmlns:x="urn:x"/></wsse:Security>`, 1),
		"Timestamp":       strings.Replace(doc, "12:05:00.000Z", "13:05:00.000Z", 1),
	}
	for name, d := range same {
		if got := messageKey(t, d); got != key {
			t.Errorf("changing %s changed the key", name)
		}
	}
	// What the signature covers does.
	differ := map[string]string{
		"digest value":  strings.Replace(doc, "3q2+7w", "3q2+7x", 1),
		"reference URI": strings.Replace(doc, `URI="#id-Body"`, `URI="#id-Other"`, 1),
		"digest method": strings.Replace(doc, "xmlenc#sha256", "xmlenc#sha512", 1),
	}
	for name, d := range differ {
		if got := messageKey(t, d); got == key || got == "" {
			t.Errorf("changing the %s did not change the key", name)
		}
	}

	unsigned, err := ParseHeader(parseRoot(t, security(`<wsu:Timestamp><wsu:Created>2024-05-01T12:00:00Z</wsu:Created></wsu:Timestamp>`)))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := MessageReplayKey(unsigned); ok {
		t.Error("an unsigned header has a message key")
	}
}

func messageKey(t *testing.T, doc string) string {
	t.Helper()
	h, err := ParseHeader(parseRoot(t, doc))
	if err != nil {
		t.Fatal(err)
	}
	key, _ := MessageReplayKey(h)
	return key
}

// failingStore is a store that is down.
type failingStore struct{}

func (failingStore) Seen(context.Context, string, time.Duration) (bool, error) {
	return false, errors.New("connection refused")
}

func (failingStore) Holds(context.Context, string) (bool, error) {
	return false, errors.New("connection refused")
}

// recordingStore remembers the ttl it was asked for.
type recordingStore struct {
	*MemoryReplayStore
	ttls []time.Duration
}

func (r *recordingStore) Seen(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	r.ttls = append(r.ttls, ttl)
	return r.MemoryReplayStore.Seen(ctx, key, ttl)
}

func TestReplayGuard(t *testing.T) {
	digestHeader, err := ParseHeader(parseRoot(t, string(testtools.ReadTestdata(t, "wss4j-ut-digest.xml"))))
	if err != nil {
		t.Fatal(err)
	}
	signed, err := ParseHeader(parseRoot(t, signedHeader(t)))
	if err != nil {
		t.Fatal(err)
	}
	now := mustTime(t, "2024-05-01T12:01:00Z")
	ctx := context.Background()

	ut := digestHeader.UsernameTokens[0]
	t.Run("UsernameToken nonce", func(t *testing.T) {
		store := &recordingStore{MemoryReplayStore: NewMemoryReplayStore(10, func() time.Time { return now })}
		g := &ReplayGuard{Store: store, MaxSkew: time.Minute, MaxMessageAge: 5 * time.Minute}
		if err := g.UsernameToken(ctx, ut, now); err != nil {
			t.Fatalf("first use refused: %v", err)
		}
		wantFault(t, g.UsernameToken(ctx, ut, now), soap.InvalidSecurity, "nonce was already used")
		// Created 12:00 + 5m age + 1m skew, seen at 12:01: kept 5 minutes.
		if store.ttls[0] != 5*time.Minute {
			t.Errorf("ttl = %s, want 5m", store.ttls[0])
		}
	})
	t.Run("message", func(t *testing.T) {
		store := &recordingStore{MemoryReplayStore: NewMemoryReplayStore(10, func() time.Time { return now })}
		g := &ReplayGuard{Store: store, MaxSkew: time.Minute}
		if err := g.Message(ctx, signed, now); err != nil {
			t.Fatalf("first message refused: %v", err)
		}
		wantFault(t, g.Message(ctx, signed, now), soap.InvalidSecurity, "message was already received")
		// Expires 12:05 + 1m skew, seen at 12:01: kept 5 minutes.
		if store.ttls[0] != 5*time.Minute {
			t.Errorf("ttl = %s, want 5m", store.ttls[0])
		}
		// A message with no signature has no record to make: refused, not
		// waved through.
		g2 := &ReplayGuard{Store: failingStore{}}
		wantFault(t, g2.Message(ctx, digestHeader, now), soap.InvalidSecurity, "Timestamp that the signature covers")
	})
	t.Run("far Expires is capped at the maximum message age", func(t *testing.T) {
		store := &recordingStore{MemoryReplayStore: NewMemoryReplayStore(10, func() time.Time { return now })}
		g := &ReplayGuard{Store: store, MaxMessageAge: 2 * time.Minute}
		if err := g.Message(ctx, signed, now); err != nil {
			t.Fatal(err)
		}
		// Created 12:00 + 2m, seen at 12:01: kept 1 minute, not until Expires.
		if store.ttls[0] != time.Minute {
			t.Errorf("ttl = %s, want 1m", store.ttls[0])
		}
	})
	t.Run("store down", func(t *testing.T) {
		g := &ReplayGuard{Store: failingStore{}}
		wantFault(t, g.Message(ctx, signed, now), soap.RequestFailed, "replay detection is unavailable")
		wantFault(t, g.UsernameToken(ctx, ut, now), soap.RequestFailed, "replay detection is unavailable")
	})
	t.Run("late token keeps a minimum ttl", func(t *testing.T) {
		store := &recordingStore{MemoryReplayStore: NewMemoryReplayStore(10, func() time.Time { return now })}
		g := &ReplayGuard{Store: store}
		if err := g.UsernameToken(ctx, ut, now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if store.ttls[0] != minReplayTTL {
			t.Errorf("ttl = %s, want %s", store.ttls[0], minReplayTTL)
		}
	})
}
