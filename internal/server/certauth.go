package server

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/trustbroker/trustbroker/internal/issuer"
	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/saml"
)

// TLSConfig serves the STS's certificate from the current policy, so a
// rotated serving Secret takes effect on the next handshake, and asks (but
// does not require) clients for a certificate: callers may authenticate by
// TLS client certificate or by message credentials on the same port.
func TLSConfig(holder *policy.Holder) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		ClientAuth: tls.RequestClientCert,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			snap := holder.Load()
			if snap == nil || snap.STS.TLS == nil {
				return nil, errors.New("no serving certificate in the current policy")
			}
			return snap.STS.TLS, nil
		},
	}
}

// trustedCertificate checks a caller's certificate chain (leaf first, then
// what the caller sent to help build the path) against the STS's X.509
// trust: a registered client certificate, or a chain to a trusted CA.
func trustedCertificate(auth policy.X509Auth, chain []*x509.Certificate, now time.Time) (*x509.Certificate, error) {
	if !auth.Enabled {
		return nil, errors.New("X.509 authentication is not enabled")
	}
	if len(chain) == 0 {
		return nil, errors.New("no certificate")
	}
	leaf := chain[0]
	for _, p := range auth.Pinned {
		if p.Equal(leaf) {
			if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
				return nil, fmt.Errorf("registered certificate %q is not valid at %s", leaf.Subject, now.UTC().Format(time.RFC3339))
			}
			return leaf, nil
		}
	}
	if auth.Roots == nil {
		return nil, fmt.Errorf("certificate %q is not a registered client certificate", leaf.Subject)
	}
	intermediates := x509.NewCertPool()
	for _, c := range chain[1:] {
		intermediates.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots: auth.Roots, Intermediates: intermediates, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return nil, fmt.Errorf("certificate %q: %w", leaf.Subject, err)
	}
	return leaf, nil
}

// certificatePrincipal is the caller a trusted certificate names: its common
// name (else its whole subject), with the subject, issuer and e-mail
// addresses as attributes relying parties can map.
func certificatePrincipal(cert *x509.Certificate, now time.Time) issuer.Principal {
	name := cert.Subject.CommonName
	if name == "" {
		name = cert.Subject.String()
	}
	attrs := map[string][]string{
		"subject": {cert.Subject.String()},
		"issuer":  {cert.Issuer.String()},
	}
	if len(cert.EmailAddresses) > 0 {
		attrs["mail"] = cert.EmailAddresses
	}
	return issuer.Principal{
		User:        &policy.User{Name: name, Attributes: attrs},
		Method:      saml.AuthnX509,
		Instant:     now,
		Certificate: cert,
	}
}
