package wssec

import (
	"crypto/x509"
	"sync"
)

// parsedCertificates keeps the certificates of BinarySecurityTokens
// parsed, by their DER bytes: a caller presents the same certificate with
// every request, and parsing it cost as much as verifying the request's
// signature. The same bytes always parse to the same certificate, so the
// cache cannot change what is accepted; it only spares the work.
var parsedCertificates = certCache{max: 1024}

// maxCachedDER keeps unusually large certificates out of the cache.
const maxCachedDER = 16 << 10

// certCache is a bounded map from DER bytes to parsed certificates; when
// full it drops an arbitrary entry, which bounds its memory whatever
// certificates a sender makes up.
type certCache struct {
	mu    sync.Mutex
	max   int
	certs map[string]*x509.Certificate
}

func (c *certCache) parse(der []byte) (*x509.Certificate, error) {
	c.mu.Lock()
	cert, ok := c.certs[string(der)]
	c.mu.Unlock()
	if ok {
		return cert, nil
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil || len(der) > maxCachedDER {
		return cert, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.certs == nil {
		c.certs = make(map[string]*x509.Certificate)
	}
	if len(c.certs) >= c.max {
		for k := range c.certs {
			delete(c.certs, k)
			break
		}
	}
	c.certs[string(der)] = cert
	return cert, nil
}
