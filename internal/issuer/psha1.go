package issuer

import (
	"crypto/hmac"
	"crypto/sha1"
)

// PSHA1 derives a computed proof key of n bytes from the requestor's and the
// issuer's entropy with P_SHA-1 of TLS 1.0 (RFC 2246 §5), as WS-Trust's
// .../CK/PSHA1 prescribes: the requestor's entropy is the secret and the
// issuer's the seed. SHA-1 here is a key derivation fixed by the
// specification, not a signature algorithm choice.
func PSHA1(requestorEntropy, issuerEntropy []byte, n int) []byte {
	out := make([]byte, 0, n+sha1.Size)
	a := issuerEntropy // A(0) = seed
	for len(out) < n {
		m := hmac.New(sha1.New, requestorEntropy)
		m.Write(a)
		a = m.Sum(nil) // A(i) = HMAC(secret, A(i-1))
		m.Reset()
		m.Write(a)
		m.Write(issuerEntropy)
		out = m.Sum(out) // HMAC(secret, A(i) + seed)
	}
	return out[:n]
}
