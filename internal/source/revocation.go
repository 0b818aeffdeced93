package source

import (
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
	"github.com/trustbroker/trustbroker/internal/pki"
	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/xmlsec"
)

// Log messages of Problems that take an object out of service. They say the
// same as the object's status (CertificateValid=False, Ready=False).
const (
	msgRelyingPartyLeftOut  = "relying party not served: requests for its endpoint get a fault until its certificate is fixed"
	msgTrustedIssuerLeftOut = "trusted issuer not trusted: its tokens are refused until its certificates are fixed"
)

// signingKey reads the signing key and the previous signing certificates.
// A signing key that cannot be read keeps its version from prev, the only
// part of the policy that does: it grants no one anything, and losing it
// would stop every relying party. With no version in prev (the first load,
// or prev served another STS) the build fails.
func signingKey(o *stsv1alpha1.SecurityTokenService, r resolver, keys *hsmKeys, prev *policy.Snapshot, report func(err error, msg string)) (policy.SigningKey, error) {
	spec := o.Spec.Signing
	key, err := readSigningKey(spec, r, keys)
	if err != nil {
		if prev == nil || prev.STS.Namespace != o.Namespace || prev.STS.Name != o.Name || prev.STS.Signing.Signer == nil {
			return policy.SigningKey{}, err
		}
		report(err, "the last good signing key stays in use until the signing key is fixed")
		key = prev.STS.Signing
	}
	// Only the listed certificates, never what an earlier snapshot signed
	// with: every replica, restarted or not, accepts the same keys.
	key.Previous = nil
	if src := spec.PreviousCertificates; src != nil {
		certs, err := r.certificates(src)
		if err != nil {
			report(fmt.Errorf("signing.previousCertificates: %w", err), "tokens signed with earlier keys are refused until the source is fixed")
		} else {
			key.Previous = certs
		}
	}
	return key, nil
}

// readSigningKey reads and checks the key pair of the signing Secret, or
// opens the key in a PKCS#11 token.
func readSigningKey(spec stsv1alpha1.SigningSpec, r resolver, keys *hsmKeys) (policy.SigningKey, error) {
	var key policy.SigningKey
	where := ""
	switch {
	case spec.PKCS11 != nil:
		k, err := keys.readPKCS11Key(spec, r)
		if err != nil {
			return policy.SigningKey{}, fmt.Errorf("signing key: %w", err)
		}
		key, where = k, "in PKCS#11 token "+spec.PKCS11.TokenLabel
	case spec.SecretRef != nil:
		certPEM, keyPEM, err := r.keyPair(*spec.SecretRef)
		if err != nil {
			return policy.SigningKey{}, fmt.Errorf("signing key: %w", err)
		}
		signer, chain, err := pki.ParseKeyPair(certPEM, keyPEM)
		if err != nil {
			return policy.SigningKey{}, fmt.Errorf("signing key in Secret %s: %w", spec.SecretRef.Name, err)
		}
		key, where = policy.SigningKey{Signer: signer, Chain: chain}, "in Secret "+spec.SecretRef.Name
	default:
		return policy.SigningKey{}, errors.New("signing key: neither secretRef nor pkcs11 is given")
	}
	key.SignatureAlgorithm = stringOr(string(spec.SignatureAlgorithm), "rsa-sha256")
	key.DigestAlgorithm = stringOr(string(spec.DigestAlgorithm), "sha256")
	if err := checkSigningKey(key.Signer, key.SignatureAlgorithm); err != nil {
		return policy.SigningKey{}, fmt.Errorf("signing key %s: %w", where, err)
	}
	return key, nil
}

// checkEncryptionCertificate refuses a relying party certificate that
// cannot protect what is encrypted for it, by the rules the operator's
// CertificateValid condition applies: an RSA key of at least
// xmlsec.MinRSABits that may encipher keys. Its validity period is checked
// per request, as the clock moves.
func checkEncryptionCertificate(c *x509.Certificate) error {
	k, ok := c.PublicKey.(*rsa.PublicKey)
	switch {
	case !ok:
		return fmt.Errorf("the certificate (subject %q) holds no RSA key; token encryption needs one", c.Subject.String())
	case k.N.BitLen() < xmlsec.MinRSABits:
		return fmt.Errorf("the certificate (subject %q) has a %d-bit RSA key; use at least %d bits", c.Subject.String(), k.N.BitLen(), xmlsec.MinRSABits)
	case c.KeyUsage != 0 && c.KeyUsage&x509.KeyUsageKeyEncipherment == 0:
		return fmt.Errorf("the certificate (subject %q) has a key usage extension without keyEncipherment: issue one that allows key encipherment", c.Subject.String())
	}
	return nil
}
