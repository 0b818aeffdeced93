// Package pki reads the certificates and keys that resources name, in the
// PEM forms Kubernetes Secrets hold them: certificate bundles, and PKCS#1,
// PKCS#8 or SEC1 private keys.
package pki

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// MaxCertificates bounds how many certificates one bundle may hold; a real
// rollover needs two or three.
const MaxCertificates = 32

// ParseCertificates reads every CERTIFICATE block of PEM data, skipping
// other block types (a bundle may carry comments or keys alongside).
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
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
		if len(certs) == MaxCertificates {
			return nil, fmt.Errorf("more than %d certificates", MaxCertificates)
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

// ParsePrivateKey reads a PKCS#1, PKCS#8 or SEC1 private key from PEM data.
func ParsePrivateKey(data []byte) (crypto.Signer, error) {
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

// ParseKeyPair reads a certificate chain (tls.crt) and its private key
// (tls.key) and checks that they belong together.
func ParseKeyPair(certPEM, keyPEM []byte) (crypto.Signer, []*x509.Certificate, error) {
	chain, err := ParseCertificates(certPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("tls.crt: %w", err)
	}
	key, err := ParsePrivateKey(keyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("tls.key: %w", err)
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if pub, ok := key.Public().(equaler); !ok || !pub.Equal(chain[0].PublicKey) {
		return nil, nil, errors.New("the private key does not match the first certificate in tls.crt")
	}
	return key, chain, nil
}
