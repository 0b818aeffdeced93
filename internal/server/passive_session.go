package server

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// Cookies of the passive sign-in. Both are sealed (AES-256-GCM) with a key
// derived from the sign-in page's session key, so the browser can neither
// read nor change them. The __Host- prefix makes browsers accept them only
// from this host, Secure, on path / and without Domain, so a sibling
// subdomain cannot plant its own (login CSRF, session fixation).
const (
	// sessionCookie names the signed-in user, for single sign-on across
	// relying parties. SameSite=Lax: relying parties send the browser to
	// the STS with a cross-site top-level GET, which must carry it.
	sessionCookie = "__Host-TBSession"
	// formCookie binds a sign-in form to the browser it was shown to
	// (against cross-site request forgery). SameSite=Strict: only the STS's
	// own page posts the form back.
	formCookie = "__Host-TBSignIn"
)

// formLifetime bounds how long a sign-in form can be posted back.
const formLifetime = 15 * time.Minute

// maxSealedBytes bounds a cookie or form state the server will open.
const maxSealedBytes = 8 << 10

// sessionInfo labels the key derived from the session key, so that the same
// secret used elsewhere yields another key.
const sessionInfo = "trustbroker passive sign-in v1"

// sealer seals and opens the passive sign-in's cookies and form state.
type sealer struct{ aead cipher.AEAD }

func newSealer(secret []byte) (sealer, error) {
	key, err := hkdf.Key(sha256.New, secret, nil, sessionInfo, 32)
	if err != nil {
		return sealer{}, fmt.Errorf("deriving the session key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return sealer{}, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return sealer{}, err
	}
	return sealer{aead: aead}, nil
}

// seal encrypts v as JSON, with purpose as associated data so that a value
// sealed for one purpose (a session) cannot be presented as another (a form).
func (s sealer) seal(purpose string, v any) (string, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(s.aead.Seal(nonce, nonce, plain, []byte(purpose))), nil
}

var errBadSeal = errors.New("not sealed by this STS's session key, or altered")

// open decrypts a value sealed for purpose into v.
func (s sealer) open(purpose, sealed string, v any) error {
	if len(sealed) > maxSealedBytes {
		return errBadSeal
	}
	data, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil || len(data) < s.aead.NonceSize() {
		return errBadSeal
	}
	plain, err := s.aead.Open(nil, data[:s.aead.NonceSize()], data[s.aead.NonceSize():], []byte(purpose))
	if err != nil {
		return errBadSeal
	}
	return json.Unmarshal(plain, v)
}

// passiveSession is what the session cookie holds.
type passiveSession struct {
	// ID is recorded at sign-out, so that a copy of the cookie kept
	// elsewhere is not honoured after it.
	ID   string `json:"id"`
	User string `json:"u"`
	// AuthInstant is when the user entered the password (Unix seconds).
	AuthInstant int64 `json:"a"`
	Expires     int64 `json:"e"`
}

// formState is what a sign-in form carries in its hidden field: the
// request to answer, and what binds it to its browser and to one use.
type formState struct {
	// ID is recorded when the form is posted, so it cannot be posted twice.
	ID string `json:"id"`
	// Binding must equal the form cookie's.
	Binding string `json:"b"`
	Realm   string `json:"r"`
	Reply   string `json:"w"`
	Context string `json:"c"`
	Expires int64  `json:"e"`
}

// formBinding is what the form cookie holds.
type formBinding struct {
	Binding string `json:"b"`
}

// sessionKeys hands out the sealer for the sign-in page's session key, or,
// without one, for a key this process generated: sessions then last only
// on this replica.
type sessionKeys struct {
	mu     sync.Mutex
	secret []byte
	s      sealer
	local  []byte
}

func (k *sessionKeys) sealer(secret []byte) (sealer, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if secret == nil {
		if k.local == nil {
			k.local = make([]byte, 32)
			if _, err := rand.Read(k.local); err != nil {
				return sealer{}, err
			}
		}
		secret = k.local
	}
	if k.s.aead != nil && string(k.secret) == string(secret) {
		return k.s, nil
	}
	s, err := newSealer(secret)
	if err != nil {
		return sealer{}, err
	}
	k.s, k.secret = s, secret
	return s, nil
}

// setCookie sets a Secure, HttpOnly host cookie (path /, no Domain, as
// the __Host- prefix requires).
func setCookie(w http.ResponseWriter, name, value string, maxAge int, sameSite http.SameSite) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: "/", MaxAge: maxAge,
		Secure: true, HttpOnly: true, SameSite: sameSite,
	})
}

// clearCookie removes a cookie set by setCookie.
func clearCookie(w http.ResponseWriter, name string, sameSite http.SameSite) {
	setCookie(w, name, "", -1, sameSite)
}

func randomToken() string { return randomHex(16) }
