package xmlsec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/rand"
	"errors"
	"fmt"
)

// The octet layouts of XML Encryption 1.1 §5.2: GCM is a 96-bit IV, the
// ciphertext and a 128-bit tag; CBC is an IV of one block followed by the
// ciphertext of the padded plaintext.
const (
	gcmNonceSize = 12
	gcmTagSize   = 16
)

// newDataKey returns a fresh random key for a.
func newDataKey(a DataAlgorithm) ([]byte, error) {
	key := make([]byte, a.KeySize())
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("generating a %s key: %w", a, err)
	}
	return key, nil
}

func newBlock(a DataAlgorithm, key []byte) (cipher.Block, error) {
	info, ok := dataAlgorithms[a]
	if !ok {
		return nil, fmt.Errorf("unknown data algorithm %q", a)
	}
	if len(key) != info.keySize {
		return nil, fmt.Errorf("%s needs a %d-byte key, got %d bytes", a, info.keySize, len(key))
	}
	if info.des {
		return des.NewTripleDESCipher(key)
	}
	return aes.NewCipher(key)
}

// encryptData encrypts plaintext with a fresh random IV and returns the
// octets that go into CipherValue.
func encryptData(a DataAlgorithm, key, plaintext []byte) ([]byte, error) {
	block, err := newBlock(a, key)
	if err != nil {
		return nil, err
	}
	if dataAlgorithms[a].gcm {
		aead, err := cipher.NewGCMWithRandomNonce(block)
		if err != nil {
			return nil, err
		}
		// The random-nonce AEAD lays out nonce || ciphertext || tag,
		// exactly the XML Encryption GCM octets.
		return aead.Seal(nil, nil, plaintext, nil), nil
	}
	bs := block.BlockSize()
	pad := bs - len(plaintext)%bs // 1..bs: a full block when aligned
	out := make([]byte, bs+len(plaintext)+pad)
	iv := out[:bs]
	if _, err := rand.Read(iv); err != nil {
		return nil, fmt.Errorf("generating an IV: %w", err)
	}
	body := out[bs:]
	copy(body, plaintext)
	// XML Encryption requires only the last byte to hold the length; the
	// others repeat it, so PKCS#7-strict peers decrypt it too.
	for i := len(plaintext); i < len(body); i++ {
		body[i] = byte(pad)
	}
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(body, body)
	return out, nil
}

// errDataDecryption hides why block decryption failed: telling a wrong key,
// a bad tag and bad padding apart would be an oracle.
var errDataDecryption = errors.New("data decryption failed")

// decryptData reverses encryptData. Any failure past the key check is
// errDataDecryption, wrapped with a detail only for short input, which
// does not depend on the key.
func decryptData(a DataAlgorithm, key, data []byte) ([]byte, error) {
	block, err := newBlock(a, key)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errDataDecryption, err)
	}
	if dataAlgorithms[a].gcm {
		if len(data) < gcmNonceSize+gcmTagSize {
			return nil, fmt.Errorf("%w: %d octets are too short for %s", errDataDecryption, len(data), a)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		plain, err := aead.Open(nil, data[:gcmNonceSize], data[gcmNonceSize:], nil)
		if err != nil {
			return nil, errDataDecryption
		}
		return plain, nil
	}
	bs := block.BlockSize()
	if len(data) < 2*bs || len(data)%bs != 0 {
		return nil, fmt.Errorf("%w: %d octets are not whole %s blocks after the IV", errDataDecryption, len(data), a)
	}
	plain := make([]byte, len(data)-bs)
	cipher.NewCBCDecrypter(block, data[:bs]).CryptBlocks(plain, data[bs:])
	pad := int(plain[len(plain)-1])
	if pad == 0 || pad > bs {
		return nil, errDataDecryption
	}
	return plain[:len(plain)-pad], nil
}
