package issuer

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"slices"

	"github.com/go-ldap/ldap/v3"

	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/soap"
)

// delegationRefused is the reason given to a requestor that may not act for
// others: it says what the STS's owner has to change, nothing more.
const delegationRefused = "This requestor may not request tokens on behalf of others; list it in spec.onBehalfOf.allowedRequestors."

// mayDelegate lets only the requestors onBehalfOf.allowedRequestors lists
// send OnBehalfOf or ActAs: without it any caller could name anyone and get
// that user's token. An anonymous requestor cannot be listed, so it never
// may. name is the container's element name, for the reason.
func mayDelegate(snap *policy.Snapshot, who Principal, name string) error {
	if who.User == nil {
		return soap.NewFault(soap.TrustFailedAuthentication,
			fmt.Sprintf("A request with %s must come from an authenticated requestor listed in spec.onBehalfOf.allowedRequestors.", name),
			fmt.Errorf("anonymous requestor sent %s", name))
	}
	if !isAllowedRequestor(snap.STS.OnBehalfOf.AllowedRequestors, who) {
		return soap.NewFault(soap.RequestFailed, delegationRefused,
			fmt.Errorf("%s sent %s but is not in onBehalfOf.allowedRequestors", describeRequestor(who), name))
	}
	return nil
}

// isAllowedRequestor reports whether an authenticated requestor is listed:
// by user name, by one of its roles, or by the certificate it proved it
// holds (subject DN or SHA-256 fingerprint).
func isAllowedRequestor(r policy.Requestors, who Principal) bool {
	if who.User == nil {
		return false
	}
	if slices.Contains(r.Users, who.User.Name) {
		return true
	}
	for _, role := range who.User.Roles {
		// Not policy.HasAnyRole: there an empty list allows everyone.
		if slices.Contains(r.Roles, role) {
			return true
		}
	}
	return who.Certificate != nil && slices.ContainsFunc(r.Certificates, certificateMatcher(who.Certificate))
}

// certificateMatcher matches entries against cert: by fingerprint, or by
// subject compared as distinguished names, ignoring case (Go writes the
// subject most specific part first, as RFC 4514 and the entries do).
func certificateMatcher(cert *x509.Certificate) func(policy.RequestorCertificate) bool {
	sum := sha256.Sum256(cert.Raw)
	fingerprint := hex.EncodeToString(sum[:])
	subject, err := ldap.ParseDN(cert.Subject.String())
	if err != nil || len(subject.RDNs) == 0 {
		subject = nil // matched by fingerprint only
	}
	return func(c policy.RequestorCertificate) bool {
		if c.SHA256 != "" {
			return c.SHA256 == fingerprint
		}
		if subject == nil {
			return false
		}
		want, err := ldap.ParseDN(c.Subject)
		return err == nil && len(want.RDNs) > 0 && want.EqualFold(subject)
	}
}

// describeRequestor names a requestor for the log: its user name, roles
// and, for a certificate caller, the certificate's subject and fingerprint.
func describeRequestor(who Principal) string {
	if who.User == nil {
		return "an anonymous requestor"
	}
	s := fmt.Sprintf("requestor %q (roles %v", who.User.Name, who.User.Roles)
	if c := who.Certificate; c != nil {
		sum := sha256.Sum256(c.Raw)
		s += fmt.Sprintf(", certificate %q sha256 %s", truncate(c.Subject.String(), 200), hex.EncodeToString(sum[:]))
	}
	return s + ")"
}
