package source

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// parseCertificates reads every CERTIFICATE block of PEM data.
func parseCertificates(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM CERTIFICATE block found")
	}
	return certs, nil
}

// parsePrivateKey reads a PKCS#1, PKCS#8 or SEC1 private key from PEM data.
func parsePrivateKey(data []byte) (crypto.Signer, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New("no PEM private key block found")
		}
		switch block.Type {
		case "RSA PRIVATE KEY":
			return x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			return x509.ParseECPrivateKey(block.Bytes)
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return nil, err
			}
			s, ok := k.(crypto.Signer)
			if !ok {
				return nil, fmt.Errorf("PKCS#8 key of type %T cannot sign", k)
			}
			return s, nil
		}
	}
}

// parseKeyPair reads a certificate chain and its private key and checks that
// they belong together.
func parseKeyPair(certPEM, keyPEM []byte) (crypto.Signer, []*x509.Certificate, error) {
	chain, err := parseCertificates(certPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("tls.crt: %w", err)
	}
	key, err := parsePrivateKey(keyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("tls.key: %w", err)
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if pub, ok := key.Public().(equaler); !ok || !pub.Equal(chain[0].PublicKey) {
		return nil, nil, errors.New("the private key does not match the first certificate in tls.crt")
	}
	return key, chain, nil
}

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
