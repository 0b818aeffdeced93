package controllers

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/trustbroker/trustbroker/internal/pki"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
)

// ExpiryWarning is how long before a certificate's notAfter its condition
// turns to reason ExpiringSoon, so owners renew it before tokens fail.
const ExpiryWarning = 30 * 24 * time.Hour

// minRSABits is the smallest RSA key accepted for signing or encryption.
const minRSABits = 2048

// certificateInfo summarises a certificate for status.
func certificateInfo(c *x509.Certificate) stsv1alpha1.CertificateInfo {
	sum := sha256.Sum256(c.Raw)
	hexSum := strings.ToUpper(hex.EncodeToString(sum[:]))
	var fp strings.Builder
	for i := 0; i < len(hexSum); i += 2 {
		if i > 0 {
			fp.WriteByte(':')
		}
		fp.WriteString(hexSum[i : i+2])
	}
	notAfter := metav1.NewTime(c.NotAfter.UTC())
	return stsv1alpha1.CertificateInfo{
		Subject:           c.Subject.String(),
		NotAfter:          &notAfter,
		SHA256Fingerprint: fp.String(),
	}
}

// verdict is the outcome of checking certificates: a condition's status,
// reason and message, and when the outcome changes by the clock alone.
type verdict struct {
	OK      bool
	Reason  string
	Message string
	// Recheck is when the verdict turns by itself (a certificate enters its
	// warning window or expires); zero when it never does.
	Recheck time.Time
}

// Condition reasons of certificates and keys, in addition to those in the API.
const (
	// ReasonValid: every certificate is current and usable.
	ReasonValid = "Valid"
	// ReasonSecretNotFound: a referenced Secret does not exist.
	ReasonSecretNotFound = "SecretNotFound"
	// ReasonKeyPairInvalid: the signing Secret's key and certificate cannot be
	// read or do not belong together.
	ReasonKeyPairInvalid = "KeyPairInvalid"
	// ReasonKeyUnsuitable: the key does not suit the signature algorithm or is too weak.
	ReasonKeyUnsuitable = "KeyUnsuitable"
	// ReasonCertificateNotYetValid: a certificate's notBefore is in the future.
	ReasonCertificateNotYetValid = "CertificateNotYetValid"
)

// formatTime prints a time the way kubectl shows timestamps.
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// checkValidity checks one certificate's validity period at now. what names
// the certificate for the message ("the encryption certificate") and fix says
// what to do when it is expired.
func checkValidity(c *x509.Certificate, now time.Time, what, fix string) verdict {
	subject := c.Subject.String()
	switch {
	case now.Before(c.NotBefore):
		return verdict{
			Reason:  ReasonCertificateNotYetValid,
			Message: fmt.Sprintf("%s (subject %q) is not valid before %s: check the clock of its issuer or wait", what, subject, formatTime(c.NotBefore)),
			Recheck: c.NotBefore,
		}
	case !now.Before(c.NotAfter):
		return verdict{
			Reason:  stsv1alpha1.ReasonCertificateExpired,
			Message: fmt.Sprintf("%s (subject %q) expired at %s (notAfter): %s", what, subject, formatTime(c.NotAfter), fix),
		}
	case now.Add(ExpiryWarning).After(c.NotAfter):
		days := int(c.NotAfter.Sub(now).Hours() / 24)
		return verdict{
			OK:      true,
			Reason:  stsv1alpha1.ReasonCertificateExpiringSoon,
			Message: fmt.Sprintf("%s (subject %q) expires at %s (in %d days): %s before then", what, subject, formatTime(c.NotAfter), days, fix),
			Recheck: c.NotAfter,
		}
	}
	return verdict{OK: true, Reason: ReasonValid, Recheck: c.NotAfter.Add(-ExpiryWarning)}
}

// checkEncryptionCertificate checks a relying party's encryption certificate:
// current, an RSA key of at least 2048 bits, and allowed to encipher keys when
// it carries a key usage extension.
func checkEncryptionCertificate(c *x509.Certificate, now time.Time, fix string) verdict {
	const what = "the encryption certificate"
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < minRSABits {
			return verdict{Reason: stsv1alpha1.ReasonCertificateInvalid, Message: fmt.Sprintf("%s (subject %q) has a %d-bit RSA key; use at least %d bits", what, c.Subject.String(), k.N.BitLen(), minRSABits)}
		}
	default:
		return verdict{Reason: stsv1alpha1.ReasonCertificateInvalid, Message: fmt.Sprintf("%s (subject %q) holds a %s key; token encryption needs an RSA key", what, c.Subject.String(), keyKind(c.PublicKey))}
	}
	if c.KeyUsage != 0 && c.KeyUsage&x509.KeyUsageKeyEncipherment == 0 {
		return verdict{Reason: stsv1alpha1.ReasonCertificateInvalid, Message: fmt.Sprintf("%s (subject %q) has a key usage extension without keyEncipherment: issue one that allows key encipherment", what, c.Subject.String())}
	}
	v := checkValidity(c, now, what, fix)
	if v.OK && v.Reason == ReasonValid {
		v.Message = fmt.Sprintf("%s (subject %q) is valid until %s", what, c.Subject.String(), formatTime(c.NotAfter))
	}
	return v
}

// checkVerificationCertificates checks every certificate a trusted issuer's
// signatures are verified with: each current, RSA of at least 2048 bits or EC.
// The first problem found decides; otherwise the earliest expiry does.
func checkVerificationCertificates(certs []*x509.Certificate, now time.Time, fix string) verdict {
	var soonest verdict
	var earliest time.Time
	for i, c := range certs {
		what := fmt.Sprintf("certificate %d of %d", i+1, len(certs))
		switch k := c.PublicKey.(type) {
		case *rsa.PublicKey:
			if k.N.BitLen() < minRSABits {
				return verdict{Reason: stsv1alpha1.ReasonCertificateInvalid, Message: fmt.Sprintf("%s (subject %q) has a %d-bit RSA key; use at least %d bits", what, c.Subject.String(), k.N.BitLen(), minRSABits)}
			}
		case *ecdsa.PublicKey:
		default:
			return verdict{Reason: stsv1alpha1.ReasonCertificateInvalid, Message: fmt.Sprintf("%s (subject %q) holds a %s key; signatures are verified with RSA or EC keys", what, c.Subject.String(), keyKind(c.PublicKey))}
		}
		v := checkValidity(c, now, what, fix)
		if !v.OK {
			return v
		}
		if earliest.IsZero() || c.NotAfter.Before(earliest) {
			earliest, soonest = c.NotAfter, v
		}
	}
	if soonest.Reason == ReasonValid {
		soonest.Message = fmt.Sprintf("%d certificate(s) valid; the first expires at %s", len(certs), formatTime(earliest))
	}
	// Every certificate's own turning point matters, not only the earliest.
	for _, c := range certs {
		for _, t := range []time.Time{c.NotAfter.Add(-ExpiryWarning), c.NotAfter} {
			if t.After(now) && (soonest.Recheck.IsZero() || t.Before(soonest.Recheck)) {
				soonest.Recheck = t
			}
		}
	}
	return soonest
}

// checkSigningKeyPair checks the STS signing Secret's contents: the key and
// the first certificate match, the certificate is current and the key suits
// the signature algorithm.
func checkSigningKeyPair(certPEM, keyPEM []byte, algorithm stsv1alpha1.SignatureAlgorithm, now time.Time, fix string) (verdict, *x509.Certificate) {
	chain, err := pki.ParseCertificates(certPEM)
	if err != nil {
		return verdict{Reason: ReasonKeyPairInvalid, Message: fmt.Sprintf("the certificate cannot be read (%v): put the PEM certificate chain in the Secret", err)}, nil
	}
	leaf := chain[0]
	key, err := pki.ParsePrivateKey(keyPEM)
	if err != nil {
		return verdict{Reason: ReasonKeyPairInvalid, Message: fmt.Sprintf("the private key cannot be read (%v): put a PEM PKCS#1, PKCS#8 or SEC1 key in tls.key", err)}, leaf
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if pub, ok := key.Public().(equaler); !ok || !pub.Equal(leaf.PublicKey) {
		return verdict{Reason: ReasonKeyPairInvalid, Message: fmt.Sprintf("the private key in tls.key does not match the first certificate (subject %q): put the key and certificate of one pair in the Secret", leaf.Subject.String())}, leaf
	}
	if msg := signingKeyProblem(key.Public(), algorithm); msg != "" {
		return verdict{Reason: ReasonKeyUnsuitable, Message: msg}, leaf
	}
	v := checkValidity(leaf, now, "the signing certificate", fix)
	if v.OK && v.Reason == ReasonValid {
		v.Message = fmt.Sprintf("the signing certificate (subject %q) is valid until %s", leaf.Subject.String(), formatTime(leaf.NotAfter))
	}
	return v, leaf
}

// signingKeyProblem says what is wrong with a signing key for the algorithm,
// or "" when nothing is.
func signingKeyProblem(pub crypto.PublicKey, algorithm stsv1alpha1.SignatureAlgorithm) string {
	if algorithm == "" {
		algorithm = "rsa-sha256"
	}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if algorithm == "ecdsa-sha256" {
			return "signatureAlgorithm ecdsa-sha256 needs an EC key but the Secret holds an RSA key: put an EC key pair in the Secret or choose an rsa-* algorithm"
		}
		if k.N.BitLen() < minRSABits {
			return fmt.Sprintf("the RSA signing key has %d bits: use at least %d", k.N.BitLen(), minRSABits)
		}
	case *ecdsa.PublicKey:
		if algorithm != "ecdsa-sha256" {
			return fmt.Sprintf("signatureAlgorithm %s needs an RSA key but the Secret holds an EC key: set spec.signing.signatureAlgorithm: ecdsa-sha256", algorithm)
		}
	default:
		return fmt.Sprintf("a %s key cannot sign tokens: use an RSA (2048 bits or more) or EC key", keyKind(pub))
	}
	return ""
}

// keyKind names a public key's algorithm for messages.
func keyKind(pub crypto.PublicKey) string {
	switch pub.(type) {
	case *rsa.PublicKey:
		return "RSA"
	case *ecdsa.PublicKey:
		return "ECDSA"
	default:
		return strings.TrimPrefix(fmt.Sprintf("%T", pub), "*")
	}
}
