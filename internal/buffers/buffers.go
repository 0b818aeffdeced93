// Package buffers keeps byte buffers for reuse across requests: each
// token is canonicalised and each response serialised into a buffer of a
// few kilobytes that dies with its request.
package buffers

import (
	"bytes"
	"sync"
)

// maxKept keeps a buffer that one unusually large message grew out of the
// pool, which would otherwise hold that memory for good.
const maxKept = 64 << 10

var pool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// Get returns an empty buffer; give it back with Put once its bytes are no
// longer used.
func Get() *bytes.Buffer {
	b := pool.Get().(*bytes.Buffer)
	b.Reset()
	return b
}

// Put returns b for reuse, unless it grew large.
func Put(b *bytes.Buffer) {
	if b.Cap() <= maxKept {
		pool.Put(b)
	}
}
