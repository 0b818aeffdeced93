package xmlsec

import (
	"crypto/x509"
	"encoding/base64"
	"testing"

	"github.com/trustbroker/trustbroker/internal/soap"
)

// TestVerifyRefusesSmallRSAKeys: an enveloped signature made with a 1024-bit
// RSA key is refused even though its certificate is pinned, with KeyInfo
// and without, as the detached verifier refuses it. Before, the pinned
// certificate was enough.
func TestVerifyRefusesSmallRSAKeys(t *testing.T) {
	k := newTestKey(t, "signer-rsa1024", "rsa1024")
	// NewSigner refuses such a key: build the Signer by hand, as a partner
	// with an old key would sign.
	weak := &Signer{key: k.Key, chain: []*x509.Certificate{k.Cert}, certsB64: []string{base64.StdEncoding.EncodeToString(k.Cert.Raw)},
		signature: RSASHA256, digest: SHA256}
	trusted := []*x509.Certificate{k.Cert}

	el := signSample(t, weak)
	if _, err := Verify(el, "ID", trusted, AlgorithmPolicy{}); !isFault(err, soap.UnsupportedAlgorithm) {
		t.Errorf("Verify = %v, want UnsupportedAlgorithm", err)
	}
	if _, err := VerifyAt(el, "ID", trusted, AlgorithmPolicy{}, testNow); !isFault(err, soap.UnsupportedAlgorithm) {
		t.Errorf("VerifyAt = %v, want UnsupportedAlgorithm", err)
	}
	sig := el.FindElement("./Signature")
	sig.RemoveChild(sig.FindElement("./KeyInfo"))
	if _, err := Verify(el, "ID", trusted, AlgorithmPolicy{}); !isFault(err, soap.UnsupportedAlgorithm) {
		t.Errorf("Verify without KeyInfo = %v, want UnsupportedAlgorithm", err)
	}

	// The same document signed with a 2048-bit key verifies: the refusal is
	// about the key, not the setup.
	strong := newTestKey(t, "signer-rsa2048", "rsa2048")
	if _, err := Verify(signSample(t, mustSigner(t, strong, "", "", AlgorithmPolicy{})), "ID", []*x509.Certificate{strong.Cert}, AlgorithmPolicy{}); err != nil {
		t.Errorf("Verify with a 2048-bit key = %v", err)
	}
}
