package source

import (
	"crypto/sha256"
	"crypto/x509"
	"slices"
	"sync"

	"github.com/trustbroker/trustbroker/internal/pki"
)

// parsedCertificates remembers, by content, the certificates the last build
// parsed, so that a rebuild after one change parses only what changed. With
// thousands of relying parties that each encrypt to their own certificate,
// parsing them all again was most of a rebuild's time and garbage. Only
// parsing is remembered: every check that depends on the time or the
// policy runs on each build.
type parsedCertificates struct {
	mu         sync.Mutex
	last, this map[[sha256.Size]byte]parsed
}

type parsed struct {
	certs []*x509.Certificate
	err   error
}

// parse returns the certificates in PEM data, parsing them only when the
// last build did not.
func (p *parsedCertificates) parse(data []byte) ([]*x509.Certificate, error) {
	key := sha256.Sum256(data)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.this == nil {
		p.this = map[[sha256.Size]byte]parsed{}
	}
	e, ok := p.this[key]
	if !ok {
		if e, ok = p.last[key]; !ok {
			e.certs, e.err = pki.ParseCertificates(data)
		}
		p.this[key] = e
	}
	// Callers own the slice; the certificates are shared and never changed.
	return slices.Clone(e.certs), e.err
}

// sweep ends a build: what it did not parse is forgotten.
func (p *parsedCertificates) sweep() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.last, p.this = p.this, nil
}
