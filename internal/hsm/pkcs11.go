//go:build pkcs11

package hsm

import (
	"crypto"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/ThalesGroup/crypto11"
	"github.com/miekg/pkcs11"
)

// Key is a private key in a token. It is safe for concurrent use: each
// signature takes a session from a pool. When the token loses the sessions
// (a restarted HSM, a network HSM's dropped connection, sessions closed by
// another application), the module is opened and logged in again and the
// signature retried once.
type Key struct {
	cfg Config
	pub crypto.PublicKey

	mu     sync.RWMutex
	ctx    *crypto11.Context
	signer crypto.Signer
	opened uint64 // how many times the token was opened; tells a stale signer
}

// logins are the PINs the process logged in to tokens with, by module and
// token label. A login belongs to the process, not to one session: once
// logged in, the module accepts any PIN for another login, so a changed PIN
// is checked on a session of its own (see checkPIN).
var logins = struct {
	sync.Mutex
	pins map[string]string
}{pins: map[string]string{}}

// Open logs in to the token and finds the key, which must match the
// certificate.
func Open(cfg Config) (crypto.Signer, error) {
	logins.Lock()
	defer logins.Unlock()
	token := cfg.Module + "\x00" + cfg.TokenLabel
	if pin, ok := logins.pins[token]; ok && pin != cfg.PIN {
		if err := checkPIN(cfg, pin); err != nil {
			return nil, err
		}
	}
	k := &Key{cfg: cfg}
	if err := k.open(); err != nil {
		return nil, err
	}
	logins.pins[token] = cfg.PIN
	k.pub = k.signer.Public()
	return k, nil
}

// checkPIN logs out and in again with cfg's PIN; if the token refuses it,
// it logs in again with the PIN that worked before, so that the keys open
// with it go on signing (a signature that fails meanwhile is retried
// after opening the token again).
func checkPIN(cfg Config, current string) error {
	k := &Key{cfg: cfg}
	p := pkcs11.New(cfg.Module)
	if p == nil {
		return fmt.Errorf("%s: cannot load the module", cfg.where())
	}
	defer p.Destroy() // unloads nothing the open keys use: the module stays initialised
	if err := p.Initialize(); err != nil && !errors.Is(err, pkcs11.Error(pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
		return k.explain(err)
	}
	slot, err := findSlot(p, cfg.TokenLabel)
	if err != nil {
		return k.explain(err)
	}
	session, err := p.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION)
	if err != nil {
		return k.explain(err)
	}
	defer p.CloseSession(session)
	_ = p.Logout(session)
	if err := p.Login(session, pkcs11.CKU_USER, cfg.PIN); err != nil {
		_ = p.Login(session, pkcs11.CKU_USER, current)
		return k.explain(err)
	}
	return nil
}

func findSlot(p *pkcs11.Ctx, label string) (uint, error) {
	slots, err := p.GetSlotList(true)
	if err != nil {
		return 0, err
	}
	for _, s := range slots {
		if info, err := p.GetTokenInfo(s); err == nil && info.Label == label {
			return s, nil
		}
	}
	return 0, errors.New("could not find PKCS#11 token")
}

// Public is the key's public half, read once from the token.
func (k *Key) Public() crypto.PublicKey { return k.pub }

// Sign signs digest in the token (PKCS#1 v1.5 for RSA keys, ASN.1 DER for
// EC keys, as crypto.Signer does).
func (k *Key) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	k.mu.RLock()
	signer, opened := k.signer, k.opened
	k.mu.RUnlock()
	sig, err := signer.Sign(rand, digest, opts)
	if err == nil || !sessionLost(err) {
		return sig, k.explain(err)
	}
	if err := k.reopen(opened); err != nil {
		return nil, err
	}
	k.mu.RLock()
	signer = k.signer
	k.mu.RUnlock()
	sig, err = signer.Sign(rand, digest, opts)
	return sig, k.explain(err)
}

// reopen opens the token again, unless another signature already did
// since the caller's signer was current.
func (k *Key) reopen(seen uint64) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.opened != seen {
		return nil
	}
	old := k.ctx
	go old.Close() // waits for the signatures still using it
	return k.open()
}

// open configures the module, logs in and finds the key; callers hold mu
// or own k.
func (k *Key) open() error {
	c := k.cfg
	ctx, err := crypto11.Configure(&crypto11.Config{Path: c.Module, TokenLabel: c.TokenLabel, Pin: c.PIN})
	if err != nil {
		return k.explain(err)
	}
	var id, label []byte
	if c.KeyLabel != "" {
		label = []byte(c.KeyLabel)
	} else {
		id = c.KeyID
	}
	signer, err := ctx.FindKeyPair(id, label)
	var p11 pkcs11.Error
	switch {
	case err != nil && errors.As(err, &p11):
		err = k.explain(err)
	case err != nil || signer == nil:
		err = fmt.Errorf("no private key with %s in %s", c.keyName(), c.where())
	case c.Certificate != nil && !publicKeyEqual(signer.Public(), c.Certificate.PublicKey):
		err = fmt.Errorf("the private key with %s in %s does not match the certificate %s", c.keyName(), c.where(), c.Certificate.Subject)
	}
	if err != nil {
		ctx.Close()
		return err
	}
	k.ctx, k.signer = ctx, signer
	k.opened++
	return nil
}

func publicKeyEqual(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}

// sessionLost reports whether err means the sessions or the login are
// gone, so that opening the token again may help.
func sessionLost(err error) bool {
	var p11 pkcs11.Error
	if !errors.As(err, &p11) {
		return false
	}
	switch p11 {
	case pkcs11.CKR_SESSION_HANDLE_INVALID, pkcs11.CKR_SESSION_CLOSED, pkcs11.CKR_USER_NOT_LOGGED_IN,
		pkcs11.CKR_DEVICE_REMOVED, pkcs11.CKR_TOKEN_NOT_PRESENT, pkcs11.CKR_DEVICE_ERROR,
		pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED, pkcs11.CKR_OBJECT_HANDLE_INVALID, pkcs11.CKR_KEY_HANDLE_INVALID:
		return true
	}
	return false
}

// explain turns a module's error into one that says what to fix, naming
// the token and key but never the PIN.
func (k *Key) explain(err error) error {
	if err == nil {
		return nil
	}
	c := k.cfg
	var p11 pkcs11.Error
	if errors.As(err, &p11) {
		switch p11 {
		case pkcs11.CKR_PIN_INCORRECT, pkcs11.CKR_PIN_INVALID, pkcs11.CKR_PIN_LEN_RANGE:
			return fmt.Errorf("%s refused the PIN (%s): check the PIN Secret", c.where(), ckrName(p11))
		case pkcs11.CKR_PIN_LOCKED:
			return fmt.Errorf("%s has locked its user PIN after too many wrong ones (%s): the token's security officer must unlock it", c.where(), ckrName(p11))
		}
		return fmt.Errorf("%s, key with %s: %w", c.where(), c.keyName(), err)
	}
	if strings.Contains(err.Error(), "could not find PKCS#11 token") {
		return fmt.Errorf("no token labelled %q in PKCS#11 module %s", c.TokenLabel, c.Module)
	}
	return fmt.Errorf("%s: %w", c.where(), err)
}

// ckrName is the CKR_ name of a module's return value ("pkcs11: 0xA0:
// CKR_PIN_INCORRECT" reads CKR_PIN_INCORRECT).
func ckrName(e pkcs11.Error) string {
	s := e.Error()
	return s[strings.LastIndexByte(s, ' ')+1:]
}

// Close logs out of the token and releases its sessions once the
// signatures in progress are done.
func (k *Key) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.ctx.Close()
}
