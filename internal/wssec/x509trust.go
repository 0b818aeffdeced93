package wssec

import (
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/trustbroker/trustbroker/internal/soap"
)

// X509Trust decides which client certificates authenticate a caller.
type X509Trust struct {
	// Roots is the CA bundle: a certificate that chains to one of them is
	// trusted. nil trusts no CA.
	Roots *x509.CertPool
	// Pinned are registered client certificates, trusted as they are
	// (self-signed ones included) while valid.
	Pinned []*x509.Certificate
}

// untrusted is the fault for a certificate that is not trusted: the caller
// learns that, not why; the cause says why for the log.
func untrusted(cause error) error {
	return soap.NewFault(soap.FailedAuthentication, "the signing certificate is not trusted", cause)
}

// Verify decides whether cert identifies a trusted caller at now and
// returns its chain, leaf first (the leaf alone for a pinned certificate).
// A pinned certificate is trusted when it is byte-for-byte one of Pinned;
// otherwise cert must chain to Roots, through intermediates if needed
// (certificates the message carried), with every certificate valid at now
// and the leaf's extended key usage allowing client authentication (or any
// use, or none stated). Either way the leaf must be valid at now and, when
// it states key usages, allow digital signatures. Failures are
// FailedAuthentication faults.
func (t X509Trust) Verify(cert *x509.Certificate, intermediates []*x509.Certificate, now time.Time) ([]*x509.Certificate, error) {
	if cert == nil {
		return nil, untrusted(errors.New("no certificate"))
	}
	if now.IsZero() {
		return nil, errors.New("wssec: X509Trust.Verify needs a time")
	}
	if now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		return nil, untrusted(fmt.Errorf("certificate %q is valid from %s to %s, not at %s", truncate(cert.Subject.String(), 200),
			cert.NotBefore.UTC().Format(time.RFC3339), cert.NotAfter.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339)))
	}
	if cert.KeyUsage != 0 && cert.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) == 0 {
		return nil, untrusted(fmt.Errorf("certificate %q does not allow digital signatures (key usage %#x)", truncate(cert.Subject.String(), 200), cert.KeyUsage))
	}
	for _, p := range t.Pinned {
		if p != nil && p.Equal(cert) {
			return []*x509.Certificate{cert}, nil
		}
	}
	if t.Roots == nil {
		return nil, untrusted(fmt.Errorf("certificate %q is not registered and no CA is trusted", truncate(cert.Subject.String(), 200)))
	}
	pool := x509.NewCertPool()
	for _, c := range intermediates {
		if c != nil && !c.Equal(cert) {
			pool.AddCert(c)
		}
	}
	chains, err := cert.Verify(x509.VerifyOptions{
		Roots:         t.Roots,
		Intermediates: pool,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return nil, untrusted(fmt.Errorf("certificate %q: %w", truncate(cert.Subject.String(), 200), err))
	}
	return chains[0], nil
}
