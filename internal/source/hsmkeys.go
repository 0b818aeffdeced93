package source

import (
	"bytes"
	"crypto"
	"encoding/hex"
	"fmt"
	"io"
	"sync"
	"time"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
	"github.com/trustbroker/trustbroker/internal/hsm"
	"github.com/trustbroker/trustbroker/internal/policy"
)

// hsmKeys keeps the PKCS#11 signing key open from one snapshot to the next:
// every change of any object builds a snapshot, and logging in to the
// token each time would be slow and leave sessions behind.
type hsmKeys struct {
	mu  sync.Mutex
	cfg hsm.Config
	key crypto.Signer
}

// retireAfter is how long a replaced key stays open for the requests still
// signing with the snapshot before (as long as a request may take).
const retireAfter = 30 * time.Second

func (h *hsmKeys) open(cfg hsm.Config) (crypto.Signer, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.key != nil && sameHSMConfig(h.cfg, cfg) {
		return h.key, nil
	}
	// A failed open is tried again at the next snapshot; hsm.Open answers
	// a PIN the token refused from memory, so that rebuilds do not use up
	// the token's PIN tries.
	key, err := hsm.Open(cfg)
	if err != nil {
		return nil, err
	}
	if old, ok := h.key.(io.Closer); ok {
		time.AfterFunc(retireAfter, func() { _ = old.Close() })
	}
	h.cfg, h.key = cfg, key
	return key, nil
}

func sameHSMConfig(a, b hsm.Config) bool {
	return a.Module == b.Module && a.TokenLabel == b.TokenLabel && a.KeyLabel == b.KeyLabel && bytes.Equal(a.KeyID, b.KeyID) &&
		a.PIN == b.PIN && a.Certificate.Equal(b.Certificate)
}

// readPKCS11Key opens the signing key in a PKCS#11 token, with its
// certificate chain from spec.certificate and its PIN from a Secret.
func (h *hsmKeys) readPKCS11Key(spec stsv1alpha1.SigningSpec, r resolver) (policy.SigningKey, error) {
	p := spec.PKCS11
	chain, err := r.certificates(spec.Certificate)
	if err != nil {
		return policy.SigningKey{}, fmt.Errorf("signing.certificate: %w", err)
	}
	pin, err := r.secretKey(p.PINSecretRef, "pin")
	if err != nil {
		return policy.SigningKey{}, fmt.Errorf("signing.pkcs11.pinSecretRef: %w", err)
	}
	pinSecret, err := r.secret(p.PINSecretRef.Name)
	if err != nil {
		return policy.SigningKey{}, fmt.Errorf("signing.pkcs11.pinSecretRef: %w", err)
	}
	id, err := hex.DecodeString(p.KeyID)
	if err != nil {
		return policy.SigningKey{}, fmt.Errorf("signing.pkcs11.keyID: %w", err)
	}
	signer, err := h.open(hsm.Config{Module: p.Module, TokenLabel: p.TokenLabel, KeyLabel: p.KeyLabel, KeyID: id,
		PIN: string(bytes.TrimRight(pin, "\r\n")), PINVersion: pinSecret.ResourceVersion, Certificate: chain[0]})
	if err != nil {
		return policy.SigningKey{}, fmt.Errorf("signing.pkcs11: %w", err)
	}
	return policy.SigningKey{Signer: signer, Chain: chain}, nil
}
