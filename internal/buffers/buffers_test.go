package buffers

import "testing"

// TestGetIsEmptyAndLargeBuffersAreDropped: a buffer comes back empty
// whatever it held, and one grown past the bound is not kept.
func TestGetIsEmptyAndLargeBuffersAreDropped(t *testing.T) {
	b := Get()
	b.WriteString("a response")
	Put(b)
	if got := Get(); got.Len() != 0 {
		t.Fatalf("buffer holds %q", got.String())
	}
	large := Get()
	large.Grow(maxKept + 1)
	Put(large)
	for range 100 {
		if Get() == large {
			t.Fatal("a buffer past the bound was kept")
		}
	}
}
