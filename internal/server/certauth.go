package server

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/trustbroker/trustbroker/internal/issuer"
	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/saml"
	"github.com/trustbroker/trustbroker/internal/wssec"
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

// certificatePrincipal is the caller a trusted certificate names: the
// first of the identity sources (policy.IdentityUPN, IdentityEmail,
// IdentitySubjectDN) the certificate has, in the configured order. The
// common name alone never names a caller, since any certificate from a
// trusted CA could carry a user's name there; a certificate with none of
// the sources is refused. The attributes upn, mail and subjectDN (with the
// subject and issuer) are there for relying parties to map.
func certificatePrincipal(cert *x509.Certificate, identity []string, now time.Time) (issuer.Principal, error) {
	upns, err := certificateUPNs(cert)
	if err != nil {
		return issuer.Principal{}, wssec.Denied(fmt.Errorf("the client certificate's UPN cannot be read: %w", err))
	}
	mails := certificateEmails(cert)
	dn := cert.Subject.String()
	attrs := map[string][]string{
		"subject": {dn},
		"issuer":  {cert.Issuer.String()},
	}
	if dn != "" {
		attrs["subjectDN"] = []string{dn}
	}
	if len(upns) > 0 {
		attrs["upn"] = upns
	}
	if len(mails) > 0 {
		attrs["mail"] = mails
	}
	if len(identity) == 0 {
		identity = policy.DefaultIdentity
	}
	name := ""
	for _, source := range identity {
		switch source {
		case policy.IdentityUPN:
			if len(upns) > 0 {
				name = upns[0]
			}
		case policy.IdentityEmail:
			if len(mails) > 0 {
				name = mails[0]
			}
		case policy.IdentitySubjectDN:
			name = dn
		}
		if name != "" {
			break
		}
	}
	if name == "" {
		return issuer.Principal{}, wssec.Denied(fmt.Errorf("the client certificate has none of the identity sources tried (%s, from spec.authentication.x509.identity)", strings.Join(identity, ", ")))
	}
	return issuer.Principal{
		User:        &policy.User{Name: name, Attributes: attrs},
		Method:      saml.AuthnX509,
		Instant:     now,
		Certificate: cert,
	}, nil
}

var (
	oidSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}
	// oidUPN is Microsoft's user principal name, an otherName in the SAN.
	oidUPN = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 20, 2, 3}
	// oidEmailAddress is PKCS #9 emailAddress, the e-mail in a subject.
	oidEmailAddress = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}
)

// certificateUPNs reads the UPN otherNames of the subject alternative name,
// which crypto/x509 does not parse. A UPN that is there but not a
// UTF8String is an error, not skipped: the certificate is then refused
// rather than named by a later source.
func certificateUPNs(cert *x509.Certificate) ([]string, error) {
	var upns []string
	for _, ext := range cert.Extensions {
		if !ext.Id.Equal(oidSubjectAltName) {
			continue
		}
		var names asn1.RawValue
		if rest, err := asn1.Unmarshal(ext.Value, &names); err != nil || len(rest) > 0 || names.Tag != asn1.TagSequence {
			return nil, fmt.Errorf("subject alternative name: not a sequence of names")
		}
		for b := names.Bytes; len(b) > 0; {
			var gn asn1.RawValue
			var err error
			if b, err = asn1.Unmarshal(b, &gn); err != nil {
				return nil, fmt.Errorf("subject alternative name: %w", err)
			}
			// otherName [0] { type-id OBJECT IDENTIFIER, value [0] EXPLICIT ANY }
			if gn.Class != asn1.ClassContextSpecific || gn.Tag != 0 || !gn.IsCompound {
				continue
			}
			var typeID asn1.ObjectIdentifier
			value, err := asn1.Unmarshal(gn.Bytes, &typeID)
			if err != nil {
				return nil, fmt.Errorf("otherName: %w", err)
			}
			if !typeID.Equal(oidUPN) {
				continue
			}
			var explicit asn1.RawValue
			if rest, err := asn1.Unmarshal(value, &explicit); err != nil || len(rest) > 0 || explicit.Class != asn1.ClassContextSpecific || explicit.Tag != 0 {
				return nil, fmt.Errorf("UPN otherName: not an explicitly tagged value")
			}
			// encoding/asn1 reads any string type into a string: check the
			// tag itself.
			var upn asn1.RawValue
			if rest, err := asn1.Unmarshal(explicit.Bytes, &upn); err != nil || len(rest) > 0 ||
				upn.Class != asn1.ClassUniversal || upn.Tag != asn1.TagUTF8String || upn.IsCompound || !utf8.Valid(upn.Bytes) {
				return nil, fmt.Errorf("UPN otherName: not a UTF8String")
			}
			if isAddress(string(upn.Bytes)) {
				upns = append(upns, string(upn.Bytes))
			}
		}
	}
	return upns, nil
}

// certificateEmails are the SAN e-mail addresses, else the subject's
// emailAddress attributes.
func certificateEmails(cert *x509.Certificate) []string {
	var mails []string
	for _, m := range cert.EmailAddresses {
		if isAddress(m) {
			mails = append(mails, m)
		}
	}
	if len(mails) > 0 {
		return mails
	}
	for _, atv := range cert.Subject.Names {
		if s, ok := atv.Value.(string); ok && atv.Type.Equal(oidEmailAddress) && isAddress(s) {
			mails = append(mails, s)
		}
	}
	return mails
}

// isAddress reports whether s has the user@domain shape of an e-mail
// address or UPN. Anything else is not taken as a name: a bare "alice" in
// an e-mail field would otherwise be looked up as the user alice.
func isAddress(s string) bool {
	local, domain, ok := strings.Cut(s, "@")
	return ok && local != "" && domain != "" && !strings.Contains(domain, "@")
}
