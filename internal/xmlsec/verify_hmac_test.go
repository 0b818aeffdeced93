package xmlsec

import (
	"bytes"
	"crypto/hmac"
	"crypto/x509"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/soap"
)

// hmacTestKey is a 32-byte shared secret (the size of an AES-256 Kerberos
// session key).
var hmacTestKey = bytes.Repeat([]byte{0x5a}, 32)

// remac turns sig, already in its document, into an HMAC signature with
// alg and key: the SignatureMethod is replaced and the SignatureValue
// computed over SignedInfo as it then canonicalises in place.
func remac(t testing.TB, sig *etree.Element, alg SignatureAlgorithm, key []byte) {
	t.Helper()
	si := sig.FindElement("SignedInfo")
	si.FindElement("SignatureMethod").CreateAttr("Algorithm", alg.URI())
	canonical, err := canonicalExclusive(si, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(alg.Hash().New, key)
	mac.Write(canonical)
	sig.FindElement("SignatureValue").SetText(base64.StdEncoding.EncodeToString(mac.Sum(nil)))
}

// hmacDoc signs "to" and "body" of detachedDoc with an HMAC; edit runs
// after the MAC is computed.
func hmacDoc(t testing.TB, alg SignatureAlgorithm, key []byte, edit func(sig *etree.Element)) *etree.Element {
	t.Helper()
	k := newTestKey(t, "detached-rsa2048", "rsa2048")
	return signDetachedDoc(t, mustSigner(t, k, RSASHA256, SHA256, AlgorithmPolicy{}), nil, func(sig *etree.Element) {
		remac(t, sig, alg, key)
		if edit != nil {
			edit(sig)
		}
	})
}

func verifyHMACDoc(t testing.TB, root *etree.Element, key []byte, opts DetachedOptions) ([]VerifiedReference, error) {
	t.Helper()
	ix, err := IndexIDs(root)
	if err != nil {
		return nil, err
	}
	sig, err := ParseDetachedSignature(root.FindElement("Header/Security/Signature"), opts)
	if err != nil {
		return nil, err
	}
	if err := sig.VerifySignatureValueHMAC(key); err != nil {
		return nil, err
	}
	return sig.VerifyReferences(ix.Lookup)
}

// TestDetachedHMACRoundTrip verifies each HMAC method with its key, hmac-sha1
// only when SHA-1 is allowed.
func TestDetachedHMACRoundTrip(t *testing.T) {
	tests := []struct {
		alg    SignatureAlgorithm
		policy AlgorithmPolicy
	}{
		{HMACSHA256, AlgorithmPolicy{}},
		{HMACSHA512, AlgorithmPolicy{}},
		{HMACSHA1, AlgorithmPolicy{AllowSHA1: true}},
	}
	for _, tt := range tests {
		t.Run(string(tt.alg), func(t *testing.T) {
			root := hmacDoc(t, tt.alg, hmacTestKey, nil)
			refs, err := verifyHMACDoc(t, root, hmacTestKey, DetachedOptions{Algorithms: tt.policy, HMAC: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(refs) != 2 || refs[0].Element != root.FindElement("Header/To") || refs[1].Element != root.FindElement("Body") {
				t.Fatalf("references resolved to the wrong elements: %+v", refs)
			}
		})
	}
}

// TestDetachedHMACRefuses checks each refusal of an HMAC signature and its
// fault code.
func TestDetachedHMACRefuses(t *testing.T) {
	method := func(sig *etree.Element) *etree.Element { return sig.FindElement("SignedInfo/SignatureMethod") }
	truncate := func(sig *etree.Element) {
		v := sig.FindElement("SignatureValue")
		mac, _ := base64.StdEncoding.DecodeString(v.Text())
		v.SetText(base64.StdEncoding.EncodeToString(mac[:16]))
	}
	tests := []struct {
		name   string
		alg    SignatureAlgorithm
		edit   func(sig *etree.Element)
		key    []byte
		opts   DetachedOptions
		code   soap.FaultCode
		reason string
	}{
		{"another key", HMACSHA256, nil, bytes.Repeat([]byte{0xa5}, 32), DetachedOptions{HMAC: true}, soap.FailedCheck, "not valid"},
		{"key shorter than 16 bytes", HMACSHA256, nil, hmacTestKey[:15], DetachedOptions{HMAC: true}, soap.UnsupportedAlgorithm, "too small"},
		{"hmac-sha1 by default", HMACSHA1, nil, hmacTestKey, DetachedOptions{HMAC: true}, soap.UnsupportedAlgorithm, "not allowed"},
		{"hmac-sha1 listed without AllowSHA1", HMACSHA1, nil, hmacTestKey,
			DetachedOptions{HMAC: true, Algorithms: AlgorithmPolicy{Signatures: []SignatureAlgorithm{HMACSHA1}}}, soap.UnsupportedAlgorithm, "not allowed"},
		{"outside the allow-list", HMACSHA512, nil, hmacTestKey,
			DetachedOptions{HMAC: true, Algorithms: AlgorithmPolicy{Signatures: []SignatureAlgorithm{HMACSHA256}}}, soap.UnsupportedAlgorithm, "not allowed"},
		{"HMACOutputLength", HMACSHA256, func(sig *etree.Element) {
			method(sig).CreateElement("ds:HMACOutputLength").SetText("128")
		}, hmacTestKey, DetachedOptions{HMAC: true}, soap.InvalidSecurity, "malformed"},
		{"truncated value", HMACSHA256, truncate, hmacTestKey, DetachedOptions{HMAC: true}, soap.FailedCheck, "not valid"},
		{"HMAC method where a public key is expected", HMACSHA256, nil, hmacTestKey, DetachedOptions{}, soap.UnsupportedAlgorithm, "not allowed"},
		{"body changed", HMACSHA256, func(sig *etree.Element) {
			sig.Parent().Parent().Parent().FindElement("Body/Request/Value").SetText("w")
		}, hmacTestKey, DetachedOptions{HMAC: true}, soap.FailedCheck, "changed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := hmacDoc(t, tt.alg, hmacTestKey, tt.edit)
			_, err := verifyHMACDoc(t, root, tt.key, tt.opts)
			code, ok := faultCode(err)
			if !ok || code != tt.code {
				t.Fatalf("error = %v, want a %s fault", err, tt.code.Local)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("error = %v, want it to mention %q", err, tt.reason)
			}
		})
	}
}

// TestDetachedNoAlgorithmConfusion: a public key never verifies an HMAC
// SignatureMethod and a shared secret never verifies a public-key one,
// even when the parse step let the method through.
func TestDetachedNoAlgorithmConfusion(t *testing.T) {
	rsaKey := newTestKey(t, "detached-rsa2048", "rsa2048")
	ec := newTestKey(t, "detached-p256", "p256")

	hmacSig := &DetachedSignature{Algorithm: HMACSHA256, value: make([]byte, 32)}
	for name, k := range map[string]any{"RSA": rsaKey.Cert.PublicKey, "ECDSA": ec.Cert.PublicKey} {
		err := hmacSig.VerifySignatureValue(k)
		if code, _ := faultCode(err); code != soap.FailedCheck || !strings.Contains(err.Error(), "does not fit") {
			t.Errorf("%s key on an HMAC method: error = %v, want FailedCheck", name, err)
		}
	}

	for _, alg := range []SignatureAlgorithm{RSASHA256, ECDSASHA256} {
		root := signDetachedDoc(t, mustSigner(t, rsaKey, RSASHA256, SHA256, AlgorithmPolicy{}), nil, nil)
		sig, err := ParseDetachedSignature(root.FindElement("Header/Security/Signature"), DetachedOptions{})
		if err != nil {
			t.Fatal(err)
		}
		sig.Algorithm = alg
		// The public key's bytes are no secret: used as an HMAC key they
		// would let anyone sign.
		err = sig.VerifySignatureValueHMAC(rsaKey.Cert.RawSubjectPublicKeyInfo)
		if code, _ := faultCode(err); code != soap.FailedCheck || !strings.Contains(err.Error(), "does not fit") {
			t.Errorf("shared secret on %s: error = %v, want FailedCheck", alg, err)
		}
	}
}

// TestHMACNotForSigningOrTokens: an HMAC name is no signing algorithm, a
// Signer refuses it, and an enveloped token signature with an HMAC method
// is refused as before HMAC was known.
func TestHMACNotForSigningOrTokens(t *testing.T) {
	for _, name := range []string{"hmac-sha256", "hmac-sha512", "hmac-sha1"} {
		if a, err := ParseSignatureAlgorithm(name); err == nil {
			t.Errorf("ParseSignatureAlgorithm(%q) = %q, want an error", name, a)
		}
	}
	k := newTestKey(t, "signer-rsa2048", "rsa2048")
	if _, err := NewSigner(k.Key, []*x509.Certificate{k.Cert}, HMACSHA256, SHA256, AlgorithmPolicy{}); err == nil || !strings.Contains(err.Error(), "cannot sign") {
		t.Errorf("NewSigner with hmac-sha256: %v, want a refusal", err)
	}
	signed := signSample(t, mustSigner(t, k, RSASHA256, SHA256, AlgorithmPolicy{}))
	signed.FindElement("./Signature/SignedInfo/SignatureMethod").CreateAttr("Algorithm", URIHMACSHA256)
	if _, err := Verify(signed, "ID", []*x509.Certificate{k.Cert}, AlgorithmPolicy{}); err == nil {
		t.Fatal("enveloped signature with an HMAC method verified")
	} else if code, _ := faultCode(err); code != soap.UnsupportedAlgorithm {
		t.Errorf("error = %v, want UnsupportedAlgorithm", err)
	}
	zero := AlgorithmPolicy{}
	if zero.AllowsSignature(HMACSHA1) || !zero.AllowsSignature(HMACSHA256) || !(AlgorithmPolicy{AllowSHA1: true}).AllowsSignature(HMACSHA1) {
		t.Error("policy does not treat hmac-sha1 like rsa-sha1")
	}
}
