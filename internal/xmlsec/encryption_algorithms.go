package xmlsec

import (
	"crypto"
	"fmt"
	"slices"
	"strings"

	"github.com/trustbroker/trustbroker/internal/soap"
)

// XML Encryption namespaces.
const (
	NamespaceXEnc   = soap.NamespaceXEnc
	NamespaceXEnc11 = "http://www.w3.org/2009/xmlenc11#"
)

// TypeElement is the EncryptedData Type of an encrypted element.
const TypeElement = NamespaceXEnc + "Element"

// TypeContent is the EncryptedData Type of encrypted content, what
// WS-Security clients send for a SOAP Body; it is decrypted when the content
// is one element (a Body holds one).
const TypeContent = NamespaceXEnc + "Content"

// typeEncryptedKey is the ds:RetrievalMethod Type that points at an
// EncryptedKey.
const typeEncryptedKey = NamespaceXEnc + "EncryptedKey"

// Algorithm identifiers of XML Encryption 1.0 and 1.1.
const (
	URIAES128GCM   = NamespaceXEnc11 + "aes128-gcm"
	URIAES256GCM   = NamespaceXEnc11 + "aes256-gcm"
	URIAES128CBC   = NamespaceXEnc + "aes128-cbc"
	URIAES192CBC   = NamespaceXEnc + "aes192-cbc"
	URIAES256CBC   = NamespaceXEnc + "aes256-cbc"
	URITripleDES   = NamespaceXEnc + "tripledes-cbc"
	URIRSAOAEPMGF1 = NamespaceXEnc + "rsa-oaep-mgf1p"
	URIRSAOAEP     = NamespaceXEnc11 + "rsa-oaep"
	URIRSA15       = NamespaceXEnc + "rsa-1_5"

	URIMGF1SHA1   = NamespaceXEnc11 + "mgf1sha1"
	URIMGF1SHA224 = NamespaceXEnc11 + "mgf1sha224"
	URIMGF1SHA256 = NamespaceXEnc11 + "mgf1sha256"
	URIMGF1SHA384 = NamespaceXEnc11 + "mgf1sha384"
	URIMGF1SHA512 = NamespaceXEnc11 + "mgf1sha512"

	URISHA384 = "http://www.w3.org/2001/04/xmldsig-more#sha384"
)

// DataAlgorithm is a block encryption algorithm by the name configuration
// uses.
type DataAlgorithm string

// Supported data encryption algorithms.
const (
	AES256GCM    DataAlgorithm = "aes256-gcm"
	AES128GCM    DataAlgorithm = "aes128-gcm"
	AES128CBC    DataAlgorithm = "aes128-cbc"
	AES192CBC    DataAlgorithm = "aes192-cbc"
	AES256CBC    DataAlgorithm = "aes256-cbc"
	TripleDESCBC DataAlgorithm = "tripledes-cbc"

	// DefaultDataAlgorithm is used when configuration names none.
	DefaultDataAlgorithm = AES256GCM
)

// KeyTransport is an RSA key transport algorithm by the name configuration
// uses.
type KeyTransport string

// Supported key transport algorithms.
const (
	// RSAOAEP is rsa-oaep-mgf1p with SHA-1 digest and MGF1-SHA1: the form
	// most peers (WIF, CXF/WSS4J, Shibboleth) decrypt. SHA-1 in OAEP is not
	// the collision-sensitive use that rules it out for signatures.
	RSAOAEP KeyTransport = "rsa-oaep"
	// RSAOAEPSHA256 is XML Encryption 1.1 rsa-oaep with SHA-256 digest and
	// MGF1-SHA256.
	RSAOAEPSHA256 KeyTransport = "rsa-oaep-sha256"
	// RSA15 is PKCS#1 v1.5 key transport, open to padding-oracle attacks;
	// it is used only with an explicit opt-in.
	RSA15 KeyTransport = "rsa-1_5"

	// DefaultKeyTransport is used when configuration names none.
	DefaultKeyTransport = RSAOAEP
)

type dataInfo struct {
	uri     string
	keySize int  // bytes
	gcm     bool // else CBC
	des     bool // 3DES rather than AES
}

var dataAlgorithms = map[DataAlgorithm]dataInfo{
	AES256GCM:    {uri: URIAES256GCM, keySize: 32, gcm: true},
	AES128GCM:    {uri: URIAES128GCM, keySize: 16, gcm: true},
	AES128CBC:    {uri: URIAES128CBC, keySize: 16},
	AES192CBC:    {uri: URIAES192CBC, keySize: 24},
	AES256CBC:    {uri: URIAES256CBC, keySize: 32},
	TripleDESCBC: {uri: URITripleDES, keySize: 24, des: true},
}

var keyTransportURIs = map[KeyTransport]string{
	RSAOAEP:       URIRSAOAEPMGF1,
	RSAOAEPSHA256: URIRSAOAEP,
	RSA15:         URIRSA15,
}

// oaepDigests are the DigestMethod values accepted inside an OAEP
// EncryptionMethod, and mgfHashes the MGF values of rsa-oaep (1.1).
var (
	oaepDigests = map[string]crypto.Hash{
		URISHA1:   crypto.SHA1,
		URISHA256: crypto.SHA256,
		URISHA384: crypto.SHA384,
		URISHA512: crypto.SHA512,
	}
	mgfHashes = map[string]crypto.Hash{
		URIMGF1SHA1:   crypto.SHA1,
		URIMGF1SHA224: crypto.SHA224,
		URIMGF1SHA256: crypto.SHA256,
		URIMGF1SHA384: crypto.SHA384,
		URIMGF1SHA512: crypto.SHA512,
	}
)

// ParseDataAlgorithm reads a configured name; "" means the default.
func ParseDataAlgorithm(name string) (DataAlgorithm, error) {
	a := DataAlgorithm(strings.ToLower(strings.TrimSpace(name)))
	if a == "" {
		return DefaultDataAlgorithm, nil
	}
	if _, ok := dataAlgorithms[a]; !ok {
		return "", fmt.Errorf("unknown data encryption algorithm %q (want aes256-gcm, aes128-gcm, aes128-cbc, aes192-cbc, aes256-cbc or tripledes-cbc)", name)
	}
	return a, nil
}

// ParseKeyTransport reads a configured name; "" means the default.
func ParseKeyTransport(name string) (KeyTransport, error) {
	k := KeyTransport(strings.ToLower(strings.TrimSpace(name)))
	if k == "" {
		return DefaultKeyTransport, nil
	}
	if _, ok := keyTransportURIs[k]; !ok {
		return "", fmt.Errorf("unknown key transport %q (want rsa-oaep, rsa-oaep-sha256 or rsa-1_5)", name)
	}
	return k, nil
}

// URI is the algorithm's EncryptionMethod identifier ("" if unknown).
func (a DataAlgorithm) URI() string { return dataAlgorithms[a].uri }

// KeySize is the length of the algorithm's key in bytes (0 if unknown).
func (a DataAlgorithm) KeySize() int { return dataAlgorithms[a].keySize }

// URI is the transport's EncryptionMethod identifier ("" if unknown).
func (k KeyTransport) URI() string { return keyTransportURIs[k] }

func dataAlgorithmByURI(uri string) (DataAlgorithm, bool) {
	uri = strings.TrimSpace(uri)
	for a, info := range dataAlgorithms {
		if info.uri == uri {
			return a, true
		}
	}
	return "", false
}

// keyTransportByURI maps an EncryptionMethod URI to its transport; the
// digest and MGF inside the element decide between OAEP variants only
// when decrypting, so rsa-oaep (1.1) is reported as RSAOAEPSHA256 whatever
// its digest.
func keyTransportByURI(uri string) (KeyTransport, bool) {
	uri = strings.TrimSpace(uri)
	for k, u := range keyTransportURIs {
		if u == uri {
			return k, true
		}
	}
	return "", false
}

// EncryptionPolicy is the allow-list for decryption. The zero value allows
// every supported data algorithm and both OAEP transports, and refuses
// rsa-1_5.
type EncryptionPolicy struct {
	// Data lists the allowed data algorithms; empty means all supported.
	Data []DataAlgorithm
	// KeyTransports lists the allowed transports; empty means rsa-oaep
	// and rsa-oaep-sha256.
	KeyTransports []KeyTransport
	// AllowRSA15 admits rsa-1_5. It is refused without it even when listed
	// above, so that legacy partners are enabled on purpose.
	AllowRSA15 bool
}

// AllowsData reports whether a may be used under the policy.
func (p EncryptionPolicy) AllowsData(a DataAlgorithm) bool {
	if _, ok := dataAlgorithms[a]; !ok {
		return false
	}
	return len(p.Data) == 0 || slices.Contains(p.Data, a)
}

// AllowsKeyTransport reports whether k may be used under the policy.
func (p EncryptionPolicy) AllowsKeyTransport(k KeyTransport) bool {
	if _, ok := keyTransportURIs[k]; !ok || (k == RSA15 && !p.AllowRSA15) {
		return false
	}
	return len(p.KeyTransports) == 0 || slices.Contains(p.KeyTransports, k)
}
