//go:build !pkcs11

package hsm

import "crypto"

// Open fails: this build has no PKCS#11 support.
func Open(Config) (crypto.Signer, error) { return nil, ErrUnsupported }
