package source

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"errors"
	"fmt"
)

// checkSigningKey checks that a key suits the signature algorithm.
func checkSigningKey(key crypto.Signer, algorithm string) error {
	switch k := key.Public().(type) {
	case *rsa.PublicKey:
		if algorithm == "ecdsa-sha256" {
			return errors.New("signatureAlgorithm ecdsa-sha256 needs an EC key, the Secret holds an RSA key")
		}
		if k.N.BitLen() < 2048 {
			return fmt.Errorf("the RSA key has %d bits; use at least 2048", k.N.BitLen())
		}
	case *ecdsa.PublicKey:
		if algorithm != "ecdsa-sha256" {
			return fmt.Errorf("signatureAlgorithm %s needs an RSA key, the Secret holds an EC key: set signatureAlgorithm: ecdsa-sha256", algorithm)
		}
	default:
		return fmt.Errorf("keys of type %T cannot sign tokens", k)
	}
	return nil
}
