package server

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
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
