package xmlsec

import (
	"crypto/ecdsa"
	"encoding/asn1"
	"errors"
	"math/big"
)

// XML Signature carries an ECDSA SignatureValue as r||s, each padded to the
// curve's byte size (XMLDSig 1.1 §6.4.3), while Go's crypto.Signer and
// x509.CheckSignature speak ASN.1 DER. goxmldsig passes DER through
// unchanged, so both directions are converted here.

type ecdsaSignature struct {
	R, S *big.Int
}

func ecdsaByteSize(pub *ecdsa.PublicKey) int {
	return (pub.Curve.Params().BitSize + 7) / 8
}

// ecdsaDERToRaw turns a DER Ecdsa-Sig-Value into r||s.
func ecdsaDERToRaw(der []byte, pub *ecdsa.PublicKey) ([]byte, error) {
	var sig ecdsaSignature
	rest, err := asn1.Unmarshal(der, &sig)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 || sig.R == nil || sig.S == nil || sig.R.Sign() <= 0 || sig.S.Sign() <= 0 {
		return nil, errors.New("malformed ECDSA signature")
	}
	size := ecdsaByteSize(pub)
	if sig.R.BitLen() > size*8 || sig.S.BitLen() > size*8 {
		return nil, errors.New("ECDSA signature does not fit the curve")
	}
	raw := make([]byte, 2*size)
	sig.R.FillBytes(raw[:size])
	sig.S.FillBytes(raw[size:])
	return raw, nil
}

// ecdsaRawToDER turns r||s into a DER Ecdsa-Sig-Value.
func ecdsaRawToDER(raw []byte, pub *ecdsa.PublicKey) ([]byte, error) {
	size := ecdsaByteSize(pub)
	if len(raw) != 2*size {
		return nil, errors.New("ECDSA signature value has the wrong length for the curve")
	}
	return asn1.Marshal(ecdsaSignature{
		R: new(big.Int).SetBytes(raw[:size]),
		S: new(big.Int).SetBytes(raw[size:]),
	})
}
