// Package xmlsec signs and verifies enveloped XML signatures (on top of
// goxmldsig's canonicalisation and validation), and encrypts and decrypts XML
// elements and keys (XML Encryption 1.1), each under an algorithm allow-list.
package xmlsec

import (
	"crypto"
	"crypto/x509"
	"fmt"
	"slices"
	"strings"

	dsig "github.com/russellhaering/goxmldsig"
)

// XML Signature and related namespaces.
const (
	NamespaceDSig = dsig.Namespace
	// NamespaceExcC14N holds the InclusiveNamespaces element of exclusive
	// canonicalisation.
	NamespaceExcC14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
)

// Algorithm identifiers that appear in SignedInfo.
const (
	URIExcC14N             = string(dsig.CanonicalXML10ExclusiveAlgorithmId)
	URIExcC14NWithComments = string(dsig.CanonicalXML10ExclusiveWithCommentsAlgorithmId)
	URIC14N10              = string(dsig.CanonicalXML10RecAlgorithmId)
	URIC14N11              = string(dsig.CanonicalXML11AlgorithmId)
	URIEnvelopedSignature  = string(dsig.EnvelopedSignatureAltorithmId)

	URIRSASHA1     = dsig.RSASHA1SignatureMethod
	URIRSASHA256   = dsig.RSASHA256SignatureMethod
	URIRSASHA512   = dsig.RSASHA512SignatureMethod
	URIECDSASHA256 = dsig.ECDSASHA256SignatureMethod

	URIHMACSHA1   = "http://www.w3.org/2000/09/xmldsig#hmac-sha1"
	URIHMACSHA256 = "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256"
	URIHMACSHA512 = "http://www.w3.org/2001/04/xmldsig-more#hmac-sha512"

	URISHA1   = "http://www.w3.org/2000/09/xmldsig#sha1"
	URISHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
	URISHA512 = "http://www.w3.org/2001/04/xmlenc#sha512"
)

// SignatureAlgorithm is a signature method by the name configuration uses.
type SignatureAlgorithm string

// Supported signature algorithms.
const (
	RSASHA256   SignatureAlgorithm = "rsa-sha256"
	RSASHA1     SignatureAlgorithm = "rsa-sha1"
	RSASHA512   SignatureAlgorithm = "rsa-sha512"
	ECDSASHA256 SignatureAlgorithm = "ecdsa-sha256"

	// The HMAC methods are keyed with a shared secret (a Kerberos session
	// key); they verify requests only and are never a Signer's algorithm.
	HMACSHA256 SignatureAlgorithm = "hmac-sha256"
	HMACSHA1   SignatureAlgorithm = "hmac-sha1"
	HMACSHA512 SignatureAlgorithm = "hmac-sha512"

	// DefaultSignatureAlgorithm is used when configuration names none.
	DefaultSignatureAlgorithm = RSASHA256
)

// DigestAlgorithm is a reference digest method by the name configuration uses.
type DigestAlgorithm string

// Supported digest algorithms.
const (
	SHA256 DigestAlgorithm = "sha256"
	SHA1   DigestAlgorithm = "sha1"
	SHA512 DigestAlgorithm = "sha512"

	// DefaultDigestAlgorithm is used when configuration names none.
	DefaultDigestAlgorithm = SHA256
)

type signatureInfo struct {
	uri  string
	hash crypto.Hash
	// key is the public key the method needs; UnknownPublicKeyAlgorithm
	// marks an HMAC, keyed with a shared secret.
	key x509.PublicKeyAlgorithm
}

var signatureAlgorithms = map[SignatureAlgorithm]signatureInfo{
	RSASHA256:   {URIRSASHA256, crypto.SHA256, x509.RSA},
	RSASHA1:     {URIRSASHA1, crypto.SHA1, x509.RSA},
	RSASHA512:   {URIRSASHA512, crypto.SHA512, x509.RSA},
	ECDSASHA256: {URIECDSASHA256, crypto.SHA256, x509.ECDSA},
	HMACSHA256:  {URIHMACSHA256, crypto.SHA256, x509.UnknownPublicKeyAlgorithm},
	HMACSHA1:    {URIHMACSHA1, crypto.SHA1, x509.UnknownPublicKeyAlgorithm},
	HMACSHA512:  {URIHMACSHA512, crypto.SHA512, x509.UnknownPublicKeyAlgorithm},
}

type digestInfo struct {
	uri  string
	hash crypto.Hash
}

var digestAlgorithms = map[DigestAlgorithm]digestInfo{
	SHA256: {URISHA256, crypto.SHA256},
	SHA1:   {URISHA1, crypto.SHA1},
	SHA512: {URISHA512, crypto.SHA512},
}

// ParseSignatureAlgorithm reads a configured name of a signing key's
// algorithm; "" means the default. HMAC names are refused: the STS signs
// with a private key only.
func ParseSignatureAlgorithm(name string) (SignatureAlgorithm, error) {
	a := SignatureAlgorithm(strings.ToLower(strings.TrimSpace(name)))
	if a == "" {
		return DefaultSignatureAlgorithm, nil
	}
	if _, ok := signatureAlgorithms[a]; !ok || a.IsHMAC() {
		return "", fmt.Errorf("unknown signature algorithm %q (want rsa-sha256, rsa-sha512, ecdsa-sha256 or rsa-sha1)", name)
	}
	return a, nil
}

// ParseDigestAlgorithm reads a configured name; "" means the default.
func ParseDigestAlgorithm(name string) (DigestAlgorithm, error) {
	d := DigestAlgorithm(strings.ToLower(strings.TrimSpace(name)))
	if d == "" {
		return DefaultDigestAlgorithm, nil
	}
	if _, ok := digestAlgorithms[d]; !ok {
		return "", fmt.Errorf("unknown digest algorithm %q (want sha256, sha512 or sha1)", name)
	}
	return d, nil
}

// URI is the algorithm's SignatureMethod identifier ("" if unknown).
func (a SignatureAlgorithm) URI() string { return signatureAlgorithms[a].uri }

// Hash is the hash the signature is computed over.
func (a SignatureAlgorithm) Hash() crypto.Hash { return signatureAlgorithms[a].hash }

// KeyAlgorithm is the kind of public key the algorithm needs
// (UnknownPublicKeyAlgorithm for an HMAC).
func (a SignatureAlgorithm) KeyAlgorithm() x509.PublicKeyAlgorithm { return signatureAlgorithms[a].key }

// IsHMAC reports whether a is an HMAC, keyed with a shared secret.
func (a SignatureAlgorithm) IsHMAC() bool {
	info, ok := signatureAlgorithms[a]
	return ok && info.key == x509.UnknownPublicKeyAlgorithm
}

// URI is the algorithm's DigestMethod identifier ("" if unknown).
func (d DigestAlgorithm) URI() string { return digestAlgorithms[d].uri }

// Hash is the hash function of the digest.
func (d DigestAlgorithm) Hash() crypto.Hash { return digestAlgorithms[d].hash }

func signatureAlgorithmByURI(uri string) (SignatureAlgorithm, bool) {
	uri = strings.TrimSpace(uri)
	for a, info := range signatureAlgorithms {
		if info.uri == uri {
			return a, true
		}
	}
	return "", false
}

func digestAlgorithmByURI(uri string) (DigestAlgorithm, bool) {
	uri = strings.TrimSpace(uri)
	for d, info := range digestAlgorithms {
		if info.uri == uri {
			return d, true
		}
	}
	return "", false
}

// canonicalizationURIs are the c14n methods goxmldsig implements and that
// are accepted in CanonicalizationMethod and as Reference transforms.
var canonicalizationURIs = []string{URIExcC14N, URIExcC14NWithComments, URIC14N10, URIC14N11}

func isCanonicalization(uri string) bool {
	return slices.Contains(canonicalizationURIs, strings.TrimSpace(uri))
}

// AlgorithmPolicy is the allow-list for signing and verification. The zero
// value allows every supported algorithm except SHA-1.
type AlgorithmPolicy struct {
	// Signatures lists the allowed signature algorithms; empty means all
	// supported ones.
	Signatures []SignatureAlgorithm
	// Digests lists the allowed digest algorithms; empty means all
	// supported ones.
	Digests []DigestAlgorithm
	// AllowSHA1 admits rsa-sha1, hmac-sha1 and sha1. SHA-1 is refused
	// without it even when listed above, so legacy partners must be
	// enabled on purpose.
	AllowSHA1 bool
}

// AllowsSignature reports whether a may be used under the policy.
func (p AlgorithmPolicy) AllowsSignature(a SignatureAlgorithm) bool {
	info, ok := signatureAlgorithms[a]
	if !ok || (info.hash == crypto.SHA1 && !p.AllowSHA1) {
		return false
	}
	return len(p.Signatures) == 0 || slices.Contains(p.Signatures, a)
}

// AllowsDigest reports whether d may be used under the policy.
func (p AlgorithmPolicy) AllowsDigest(d DigestAlgorithm) bool {
	info, ok := digestAlgorithms[d]
	if !ok || (info.hash == crypto.SHA1 && !p.AllowSHA1) {
		return false
	}
	return len(p.Digests) == 0 || slices.Contains(p.Digests, d)
}
