// Package hsm signs with private keys that stay in a PKCS#11 token (a
// hardware security module, or SoftHSM). It needs cgo: only builds with
// the pkcs11 tag have it, and Open in other builds says so.
package hsm

import (
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
)

// ErrUnsupported is returned by Open in a build without PKCS#11 support.
var ErrUnsupported = errors.New("this build of the STS has no PKCS#11 support: run the trustbroker-pkcs11 image (built with `make build-pkcs11`, build tag pkcs11)")

// Config finds a private key in a token.
type Config struct {
	// Module is the path of the token's PKCS#11 library.
	Module string
	// TokenLabel is the label of the token.
	TokenLabel string
	// KeyLabel (CKA_LABEL) or KeyID (CKA_ID) names the private key.
	KeyLabel string
	KeyID    []byte
	// PIN is the user PIN. It appears in no error and no log line.
	PIN string
	// PINVersion names the version of the Secret the PIN came from (its
	// resourceVersion): a PIN the token refused is tried again only from
	// another PIN or another version.
	PINVersion string
	// Certificate is the key's certificate; Open refuses a key that does
	// not match it.
	Certificate *x509.Certificate
}

// keyName names the key in errors.
func (c Config) keyName() string {
	if c.KeyLabel != "" {
		return fmt.Sprintf("label %q", c.KeyLabel)
	}
	return "id " + hex.EncodeToString(c.KeyID)
}

// where names the token and module in errors.
func (c Config) where() string {
	return fmt.Sprintf("token %q of PKCS#11 module %s", c.TokenLabel, c.Module)
}
