package xmlsec

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
)

// transportMethod is a key transport with its parameters, as one
// EncryptedKey's EncryptionMethod states them.
type transportMethod struct {
	transport KeyTransport
	digest    crypto.Hash // OAEP only
	mgf       crypto.Hash // OAEP only
	label     []byte      // OAEPparams, usually empty
}

// defaultTransportMethod is what the encrypter writes for k.
func defaultTransportMethod(k KeyTransport) transportMethod {
	switch k {
	case RSAOAEP:
		return transportMethod{transport: k, digest: crypto.SHA1, mgf: crypto.SHA1}
	case RSAOAEPSHA256:
		return transportMethod{transport: k, digest: crypto.SHA256, mgf: crypto.SHA256}
	}
	return transportMethod{transport: k}
}

// wrapKey encrypts key for pub.
func wrapKey(pub *rsa.PublicKey, m transportMethod, key []byte) ([]byte, error) {
	if m.transport == RSA15 {
		return rsa.EncryptPKCS1v15(rand.Reader, pub, key)
	}
	return rsa.EncryptOAEPWithOptions(rand.Reader, pub, key, &rsa.OAEPOptions{Hash: m.digest, MGFHash: m.mgf, Label: m.label})
}

// errKeyDecryption hides why key transport failed, as errDataDecryption
// does for data.
var errKeyDecryption = errors.New("key decryption failed")

// unwrapKey decrypts a transported key with priv. For rsa-1_5 with a known
// sessionKeyLen, a padding failure yields a random key of that length
// instead of an error (RFC 3218 §2.3.2), so that the failure surfaces, in
// constant time, only as failed data decryption.
func unwrapKey(priv crypto.Decrypter, m transportMethod, wrapped []byte, sessionKeyLen int) ([]byte, error) {
	var opts crypto.DecrypterOpts
	switch m.transport {
	case RSA15:
		opts = &rsa.PKCS1v15DecryptOptions{SessionKeyLen: sessionKeyLen}
	case RSAOAEP, RSAOAEPSHA256:
		opts = &rsa.OAEPOptions{Hash: m.digest, MGFHash: m.mgf, Label: m.label}
	default:
		return nil, fmt.Errorf("%w: unknown transport %q", errKeyDecryption, m.transport)
	}
	key, err := priv.Decrypt(rand.Reader, wrapped, opts)
	if err != nil {
		return nil, errKeyDecryption
	}
	return key, nil
}
