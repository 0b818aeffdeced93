//go:build pkcs11

package hsm

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThalesGroup/crypto11"
	"github.com/miekg/pkcs11"
)

// Key is a private key in a token. It is safe for concurrent use: each
// signature takes a session from a pool. When the token loses the sessions
// (a restarted HSM, a network HSM's dropped connection, sessions closed by
// another application), the module is opened and logged in again and the
// signature retried once. While the token cannot be opened, signatures
// fail at once with the reason, and the next try waits a backoff.
type Key struct {
	cfg Config
	pub crypto.PublicKey
	now func() time.Time

	mu     sync.RWMutex
	ctx    *crypto11.Context // the context signer belongs to; closed once, when replaced or at Close
	signer crypto.Signer
	opened uint64 // how many times the token was opened; tells a stale signer
	broken error  // why the last reopen failed; nil while signer works
	retry  time.Time
	wait   time.Duration // backoff before the next reopen after a failure
	closed bool

	retiring sync.WaitGroup // contexts replaced by a reopen, closing once their signatures are done
}

// Backoff between attempts to open a token that failed, doubling up to the
// maximum: a signature per request must not become a login per request.
const (
	firstRetry = time.Second
	maxRetry   = 30 * time.Second
)

var errKeyClosed = errors.New("the PKCS#11 key is closed")

// tokens serialises what loads, initialises and finalises a module: the
// token probe (see probe) and crypto11's contexts share the module's
// initialisation, which must not change under either.
var tokens sync.Mutex

// loginAttempts counts the logins tried with a PIN the token checks (not
// those the process's existing login made moot).
var loginAttempts atomic.Int64

// logins holds, by module and token, a hash of the PIN the process is
// logged in with and the PIN the token refused. A login belongs to the
// process: once logged in, the module accepts any PIN, so a changed PIN is
// checked apart (see checkPINApart). A refused PIN is not tried again
// until the PIN Secret changes: every wrong try brings the token closer to
// locking the PIN. Both are guarded by tokens.
var logins = struct {
	current map[string][sha256.Size]byte
	refused map[string]refusal
}{current: map[string][sha256.Size]byte{}, refused: map[string]refusal{}}

// refusal is a PIN the token refused, kept as a hash, and the error.
type refusal struct {
	pin [sha256.Size]byte
	err error
}

func (c Config) token() string { return c.Module + "\x00" + c.TokenLabel }

// pinHash identifies the PIN and the version of the Secret it came from,
// so that a Secret written again, even unchanged, earns one more try.
func (c Config) pinHash() [sha256.Size]byte { return hashPIN(c.PINVersion + "\x00" + c.PIN) }

// pinKey keys the PIN hashes with a secret of the process: a PIN has too
// few digits for a bare hash to hide it.
var pinKey = func() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read does not fail
	return b
}()

func hashPIN(s string) (h [sha256.Size]byte) {
	m := hmac.New(sha256.New, pinKey)
	m.Write([]byte(s))
	copy(h[:], m.Sum(nil))
	return h
}

// Open logs in to the token and finds the key, which must match the
// certificate.
func Open(cfg Config) (crypto.Signer, error) {
	k := &Key{cfg: cfg, now: time.Now}
	ctx, signer, err := k.connect()
	if err != nil {
		return nil, err
	}
	k.ctx, k.signer, k.opened = ctx, signer, 1
	k.pub = signer.Public()
	return k, nil
}

// connect opens a context of its own on the token, logs in and finds the
// key.
func (k *Key) connect() (*crypto11.Context, crypto.Signer, error) {
	tokens.Lock()
	defer tokens.Unlock()
	ctx, err := k.login()
	if err != nil {
		return nil, nil, err
	}
	signer, err := k.findKey(ctx)
	if err != nil {
		ctx.Close()
		return nil, nil, err
	}
	return ctx, signer, nil
}

// login opens a context logged in to the token. A PIN the token refused
// is not tried again (see logins), nor any PIN when the token has one try
// left before it locks; callers hold tokens.
func (k *Key) login() (*crypto11.Context, error) {
	c := k.cfg
	if r, ok := logins.refused[c.token()]; ok && r.pin == c.pinHash() {
		return nil, r.err
	}
	loggedIn, flags, err := k.probe()
	if err != nil {
		return nil, err
	}
	pin := hashPIN(c.PIN)
	changed := loggedIn && logins.current[c.token()] != pin
	var low bool
	if !loggedIn || changed {
		if low, err = k.pinTries(flags); err != nil {
			return nil, err
		}
		loginAttempts.Add(1)
	}
	if changed {
		err = checkPINApart(c)
	}
	var ctx *crypto11.Context
	if err == nil {
		ctx, err = crypto11.Configure(&crypto11.Config{Path: c.Module, TokenLabel: c.TokenLabel, Pin: c.PIN})
	}
	if err != nil {
		if pinRefused(err) && (!loggedIn || changed) {
			err = k.explain(err)
			if low {
				err = fmt.Errorf("%w; the token reports few PIN tries left before it locks the PIN", err)
			}
			logins.refused[c.token()] = refusal{pin: c.pinHash(), err: err}
			return nil, err
		}
		return nil, k.explain(err)
	}
	delete(logins.refused, c.token())
	logins.current[c.token()] = pin
	return ctx, nil
}

// probe reports whether the process is logged in to the token already (a
// login then checks no PIN) and the token's flags.
func (k *Key) probe() (loggedIn bool, flags uint, err error) {
	c := k.cfg
	p := pkcs11.New(c.Module)
	if p == nil {
		return false, 0, fmt.Errorf("%s: cannot load the module", c.where())
	}
	defer p.Destroy() // the contexts hold the module loaded by their own handle
	switch err := p.Initialize(); {
	case err == nil:
		defer p.Finalize() // no context has the module initialised
	case !errors.Is(err, pkcs11.Error(pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED)):
		return false, 0, k.explain(err)
	}
	slot, err := findSlot(p, c.TokenLabel)
	if err != nil {
		return false, 0, k.explain(err)
	}
	session, err := p.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION)
	if err != nil {
		return false, 0, k.explain(err)
	}
	defer p.CloseSession(session)
	s, err := p.GetSessionInfo(session)
	if err != nil {
		return false, 0, k.explain(err)
	}
	info, err := p.GetTokenInfo(slot)
	if err != nil {
		return false, 0, k.explain(err)
	}
	return s.State == pkcs11.CKS_RO_USER_FUNCTIONS || s.State == pkcs11.CKS_RW_USER_FUNCTIONS, info.Flags, nil
}

// pinTries reads the token's PIN counter flags: few tries left, or a last
// one, which the STS leaves to a person.
func (k *Key) pinTries(flags uint) (low bool, err error) {
	switch {
	case flags&pkcs11.CKF_USER_PIN_LOCKED != 0:
		return true, fmt.Errorf("%s has locked its user PIN after too many wrong ones (CKF_USER_PIN_LOCKED): the token's security officer must unlock it", k.cfg.where())
	case flags&pkcs11.CKF_USER_PIN_FINAL_TRY != 0:
		return true, fmt.Errorf("%s has one user PIN try left before it locks the PIN (CKF_USER_PIN_FINAL_TRY), so the STS does not log in: "+
			"check the PIN Secret against the token, then log in once with that PIN by hand to reset the count, or have the security officer set the PIN again", k.cfg.where())
	}
	return flags&pkcs11.CKF_USER_PIN_COUNT_LOW != 0, nil
}

// pinRefused reports whether the token refused the PIN at login.
func pinRefused(err error) bool {
	var p11 pkcs11.Error
	if !errors.As(err, &p11) {
		return false
	}
	switch p11 {
	case pkcs11.CKR_PIN_INCORRECT, pkcs11.CKR_PIN_INVALID, pkcs11.CKR_PIN_LEN_RANGE, pkcs11.CKR_PIN_LOCKED:
		return true
	}
	return false
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

// findKey finds the private key in the token and checks it against the
// certificate.
func (k *Key) findKey(ctx *crypto11.Context) (crypto.Signer, error) {
	c := k.cfg
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
		return nil, k.explain(err)
	case err != nil || signer == nil:
		return nil, fmt.Errorf("no private key with %s in %s", c.keyName(), c.where())
	case c.Certificate != nil && !publicKeyEqual(signer.Public(), c.Certificate.PublicKey):
		return nil, fmt.Errorf("the private key with %s in %s does not match the certificate %s", c.keyName(), c.where(), c.Certificate.Subject)
	}
	return signer, nil
}

// Public is the key's public half, read once from the token.
func (k *Key) Public() crypto.PublicKey { return k.pub }

// Sign signs digest in the token (PKCS#1 v1.5 for RSA keys, ASN.1 DER for
// EC keys, as crypto.Signer does).
func (k *Key) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	signer, opened, err := k.current()
	if errors.Is(err, errKeyClosed) {
		return nil, err
	}
	if err == nil {
		sig, err := signer.Sign(rand, digest, opts)
		if err == nil || !sessionLost(err) {
			return sig, k.explain(err)
		}
	}
	if err := k.reopen(opened); err != nil {
		return nil, err
	}
	if signer, _, err = k.current(); err != nil {
		return nil, err
	}
	sig, err := signer.Sign(rand, digest, opts)
	return sig, k.explain(err)
}

// current is the signer to use and the opening it belongs to, or why
// there is none.
func (k *Key) current() (crypto.Signer, uint64, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	switch {
	case k.closed:
		return nil, 0, errKeyClosed
	case k.broken != nil:
		return nil, k.opened, k.broken
	}
	return k.signer, k.opened, nil
}

// reopen opens the token again, unless another signature did since the
// caller's opening, or a failed try is more recent than the backoff. The
// replaced context is closed once a new one works, never before: its
// signer must stay valid for a retry, and only the one that replaces it
// can reach it to close it.
func (k *Key) reopen(seen uint64) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	switch {
	case k.closed:
		return errKeyClosed
	case k.opened != seen:
		return nil
	case k.broken != nil && k.now().Before(k.retry):
		return k.broken
	}
	ctx, signer, err := k.connect()
	if err != nil {
		k.wait = min(max(2*k.wait, firstRetry), maxRetry)
		k.broken, k.retry = fmt.Errorf("signing stopped: %w", err), k.now().Add(k.wait)
		return k.broken
	}
	old := k.ctx
	k.ctx, k.signer, k.broken, k.wait = ctx, signer, nil, 0
	k.opened++
	k.retiring.Go(func() { _ = closeContext(old) }) // waits for the signatures still using it
	return nil
}

// closeContext closes a context, which finalises the module with the
// last one.
func closeContext(ctx *crypto11.Context) error {
	tokens.Lock()
	defer tokens.Unlock()
	return ctx.Close()
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

// Close releases the token's sessions once the signatures in progress are
// done, those of replaced contexts too. Later signatures fail; closing
// again does nothing.
func (k *Key) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil
	}
	k.closed = true
	ctx := k.ctx
	k.ctx, k.signer = nil, nil
	err := closeContext(ctx)
	k.retiring.Wait()
	return err
}
