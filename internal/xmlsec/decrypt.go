package xmlsec

import (
	"cmp"
	"crypto"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/soap"
)

// decryptionFailed is the reason of every failure that depends on the key
// or the plaintext: a wrong key, a bad GCM tag, bad CBC padding, a key of
// the wrong size and plaintext that does not parse all look the same to
// the sender, so that none of them can serve as an oracle.
const decryptionFailed = "the encrypted data cannot be decrypted"

// maxEncryptedKeys bounds the EncryptedKey elements tried for one
// EncryptedData: each costs an RSA private-key operation.
const maxEncryptedKeys = 8

// maxWrappedKeyBytes is the largest transported key accepted: the
// ciphertext of an RSA-8192 key.
const maxWrappedKeyBytes = 1024

// Decrypter decrypts XML Encryption with one RSA private key under an
// algorithm allow-list. It is safe for concurrent use.
type Decrypter struct {
	// Key is the RSA private key; it may live in an HSM.
	Key crypto.Decrypter
	// Allowed is the algorithm allow-list; the zero value refuses only
	// rsa-1_5.
	Allowed EncryptionPolicy
	// Limits bounds the ciphertext (MaxBytes) and the decrypted element
	// (depth, elements, attributes); zero fields take the request
	// defaults of package soap.
	Limits soap.Limits
}

// encryptedData is what was read from an EncryptedData before decryption.
type encryptedData struct {
	algorithm DataAlgorithm
	octets    []byte
}

// encryptedKey is what was read from an EncryptedKey before decryption.
type encryptedKey struct {
	method transportMethod
	octets []byte
}

// DecryptElement decrypts an xenc:EncryptedData of Type Element (or no
// Type) and returns the decrypted element, standalone: it declares the
// namespaces it inherits at encData's place, where it was parsed. encData is
// not changed; the caller replaces it.
//
// The data key comes from an xenc:EncryptedKey inside encData's ds:KeyInfo,
// from one its ds:RetrievalMethod points at among encData's siblings, or,
// when KeyInfo names neither, from the EncryptedKey siblings of encData
// (saml2:EncryptedAssertion). Each usable one is tried in turn, so data
// encrypted for several recipients decrypts.
//
// Errors are *soap.Fault: UnsupportedAlgorithm for an algorithm that is
// unknown or not allowed; InvalidSecurity for a malformed or too large
// structure; FailedCheck, always with the same reason, when decryption or
// parsing the plaintext fails.
func (d *Decrypter) DecryptElement(encData *etree.Element) (*etree.Element, error) {
	priv, err := d.privateKey()
	if err != nil {
		return nil, err
	}
	ed, err := d.readEncryptedData(encData)
	if err != nil {
		return nil, err
	}
	keyEls, err := encryptedKeysFor(encData)
	if err != nil {
		return nil, err
	}
	// Keys for other recipients may use algorithms this policy refuses;
	// only when no key is usable is that the answer.
	var keys []*encryptedKey
	var firstFault error
	for _, k := range keyEls {
		ek, err := d.readEncryptedKey(k)
		if err != nil {
			firstFault = cmp.Or(firstFault, err)
			continue
		}
		keys = append(keys, ek)
	}
	if len(keys) == 0 {
		return nil, firstFault
	}
	var causes []error
	for _, k := range keys {
		key, err := unwrapKey(priv, k.method, k.octets, ed.algorithm.KeySize())
		if err != nil {
			causes = append(causes, err)
			continue
		}
		el, err := d.decryptData(encData, ed, key)
		if err == nil {
			return el, nil
		}
		causes = append(causes, err)
	}
	return nil, soap.NewFault(soap.FailedCheck, decryptionFailed, errors.Join(causes...))
}

// DecryptElementWithKey decrypts an xenc:EncryptedData with a data key the
// caller already holds, such as one from an EncryptedKey in a WS-Security
// header that lists encData in its ReferenceList. Errors are as for
// DecryptElement.
func (d *Decrypter) DecryptElementWithKey(encData *etree.Element, key []byte) (*etree.Element, error) {
	ed, err := d.readEncryptedData(encData)
	if err != nil {
		return nil, err
	}
	el, err := d.decryptData(encData, ed, key)
	if err != nil {
		return nil, soap.NewFault(soap.FailedCheck, decryptionFailed, err)
	}
	return el, nil
}

// DecryptKey decrypts a standalone xenc:EncryptedKey (a proof key, or the
// key of a WS-Security ReferenceList) and returns the key. The caller
// checks its length for the use it has in mind. With rsa-1_5 (when
// allowed) a padding failure is reported as such, since no expected key
// length is known here: that is the padding oracle that makes rsa-1_5 an
// opt-in. Errors are as for DecryptElement.
func (d *Decrypter) DecryptKey(encKey *etree.Element) ([]byte, error) {
	priv, err := d.privateKey()
	if err != nil {
		return nil, err
	}
	ek, err := d.readEncryptedKey(encKey)
	if err != nil {
		return nil, err
	}
	key, err := unwrapKey(priv, ek.method, ek.octets, 0)
	if err != nil {
		return nil, soap.NewFault(soap.FailedCheck, decryptionFailed, err)
	}
	if len(key) == 0 {
		return nil, soap.NewFault(soap.FailedCheck, decryptionFailed, errors.New("the transported key is empty"))
	}
	return key, nil
}

func (d *Decrypter) privateKey() (crypto.Decrypter, error) {
	if d.Key == nil {
		return nil, soap.NewFault(soap.Receiver, "decryption is not configured", errors.New("xmlsec: no decryption key"))
	}
	if _, ok := d.Key.Public().(*rsa.PublicKey); !ok {
		return nil, soap.NewFault(soap.Receiver, "decryption is not configured", fmt.Errorf("xmlsec: decryption key is %T, not RSA", d.Key.Public()))
	}
	return d.Key, nil
}

// decryptData decrypts the octets and parses the plaintext. Every error is
// one the caller reports as decryptionFailed.
func (d *Decrypter) decryptData(encData *etree.Element, ed *encryptedData, key []byte) (*etree.Element, error) {
	plain, err := decryptData(ed.algorithm, key, ed.octets)
	if err != nil {
		return nil, err
	}
	el, err := parseDecryptedElement(plain, encData.Parent(), d.Limits.WithDefaults())
	if err != nil {
		// Plaintext that does not parse is a failed decryption like any
		// other (a wrong key can yield valid padding).
		return nil, fmt.Errorf("decrypted %s: %w: %w", ed.algorithm, errDataDecryption, err)
	}
	return el, nil
}

// readEncryptedData checks an EncryptedData's shape and algorithm and
// decodes its CipherValue.
func (d *Decrypter) readEncryptedData(el *etree.Element) (*encryptedData, error) {
	if !soap.IsElement(el, NamespaceXEnc, "EncryptedData") {
		return nil, soap.NewFault(soap.InvalidSecurity, "expected an EncryptedData element", elementName(el))
	}
	if t, ok := soap.AttrNS(el, "", "Type"); ok && strings.TrimSpace(t) != "" && strings.TrimSpace(t) != TypeElement && strings.TrimSpace(t) != TypeContent {
		return nil, soap.NewFault(soap.InvalidSecurity, "only encrypted elements and single-element content are supported", fmt.Errorf("EncryptedData Type %q", t))
	}
	method, err := onlyXEncChild(el, "EncryptionMethod")
	if err != nil {
		return nil, soap.NewFault(soap.InvalidSecurity, "the EncryptedData is malformed", err)
	}
	uri, _ := soap.AttrNS(method, "", "Algorithm")
	alg, ok := dataAlgorithmByURI(uri)
	if !ok || !d.Allowed.AllowsData(alg) {
		return nil, soap.NewFault(soap.UnsupportedAlgorithm, "data encryption algorithm not allowed", fmt.Errorf("EncryptionMethod %q", uri))
	}
	if err := checkKeySize(method, alg); err != nil {
		return nil, soap.NewFault(soap.InvalidSecurity, "the EncryptedData is malformed", err)
	}
	lim := d.Limits.WithDefaults()
	octets, err := cipherValue(el, int(lim.MaxBytes))
	if err != nil {
		return nil, err
	}
	return &encryptedData{algorithm: alg, octets: octets}, nil
}

// readEncryptedKey checks an EncryptedKey's shape and transport method and
// decodes its CipherValue.
func (d *Decrypter) readEncryptedKey(el *etree.Element) (*encryptedKey, error) {
	if !soap.IsElement(el, NamespaceXEnc, "EncryptedKey") {
		return nil, soap.NewFault(soap.InvalidSecurity, "expected an EncryptedKey element", elementName(el))
	}
	methodEl, err := onlyXEncChild(el, "EncryptionMethod")
	if err != nil {
		return nil, soap.NewFault(soap.InvalidSecurity, "the EncryptedKey is malformed", err)
	}
	method, err := d.readTransportMethod(methodEl)
	if err != nil {
		return nil, err
	}
	octets, err := cipherValue(el, maxWrappedKeyBytes)
	if err != nil {
		return nil, err
	}
	return &encryptedKey{method: method, octets: octets}, nil
}

// readTransportMethod reads the key transport algorithm and, for OAEP, its
// digest, mask generation function and parameters.
func (d *Decrypter) readTransportMethod(el *etree.Element) (transportMethod, error) {
	uri, _ := soap.AttrNS(el, "", "Algorithm")
	transport, ok := keyTransportByURI(uri)
	switch {
	case !ok:
		return transportMethod{}, soap.NewFault(soap.UnsupportedAlgorithm, "key transport algorithm not supported", fmt.Errorf("EncryptionMethod %q", uri))
	case transport == RSA15 && !d.Allowed.AllowRSA15:
		return transportMethod{}, soap.NewFault(soap.UnsupportedAlgorithm, "rsa-1_5 key transport is not allowed", nil)
	case !d.Allowed.AllowsKeyTransport(transport):
		return transportMethod{}, soap.NewFault(soap.UnsupportedAlgorithm, "key transport algorithm not allowed", fmt.Errorf("EncryptionMethod %q", uri))
	}
	m := transportMethod{transport: transport}
	if transport == RSA15 {
		return m, nil
	}
	m.digest, m.mgf = crypto.SHA1, crypto.SHA1
	for _, c := range el.ChildElements() {
		var err error
		switch {
		case isDSig(c, "DigestMethod"):
			m.digest, err = hashOf(c, oaepDigests, "DigestMethod")
		case soap.IsElement(c, NamespaceXEnc11, "MGF") && transport == RSAOAEPSHA256:
			// rsa-oaep-mgf1p fixes MGF1-SHA1 in its name.
			m.mgf, err = hashOf(c, mgfHashes, "MGF")
		case soap.IsElement(c, NamespaceXEnc, "OAEPparams"):
			m.label, err = base64.StdEncoding.DecodeString(stripSpace(c.Text()))
			if err != nil {
				return transportMethod{}, soap.NewFault(soap.InvalidSecurity, "the EncryptedKey is malformed", fmt.Errorf("OAEPparams: %w", err))
			}
		}
		if err != nil {
			return transportMethod{}, err
		}
	}
	return m, nil
}

func hashOf(el *etree.Element, known map[string]crypto.Hash, what string) (crypto.Hash, error) {
	uri, _ := soap.AttrNS(el, "", "Algorithm")
	h, ok := known[strings.TrimSpace(uri)]
	if !ok {
		return 0, soap.NewFault(soap.UnsupportedAlgorithm, "key transport "+what+" not supported", fmt.Errorf("%s %q", what, uri))
	}
	return h, nil
}

// checkKeySize accepts an absent KeySize or one that matches alg.
func checkKeySize(method *etree.Element, alg DataAlgorithm) error {
	ks := soap.ChildElement(method, NamespaceXEnc, "KeySize")
	if ks == nil {
		return nil
	}
	if got, want := soap.CollapsedText(ks), fmt.Sprint(alg.KeySize()*8); got != want {
		return fmt.Errorf("KeySize %q does not match %s", got, alg)
	}
	return nil
}

// cipherValue decodes CipherData/CipherValue, refusing CipherReference
// (it would make the receiver fetch URIs) and octets beyond maxBytes.
func cipherValue(parent *etree.Element, maxBytes int) ([]byte, error) {
	cd, err := onlyXEncChild(parent, "CipherData")
	if err != nil {
		return nil, soap.NewFault(soap.InvalidSecurity, "the "+parent.Tag+" is malformed", err)
	}
	if soap.ChildElement(cd, NamespaceXEnc, "CipherReference") != nil {
		return nil, soap.NewFault(soap.InvalidSecurity, "cipher references are not supported", nil)
	}
	cv, err := onlyXEncChild(cd, "CipherValue")
	if err != nil {
		return nil, soap.NewFault(soap.InvalidSecurity, "the "+parent.Tag+" is malformed", err)
	}
	text := stripSpace(soap.Text(cv))
	if len(text) > base64.StdEncoding.EncodedLen(maxBytes) {
		return nil, soap.NewFault(soap.InvalidSecurity, "the encrypted "+strings.ToLower(strings.TrimPrefix(parent.Tag, "Encrypted"))+" is too large", fmt.Errorf("%d base64 characters, at most %d octets allowed", len(text), maxBytes))
	}
	octets, err := base64.StdEncoding.DecodeString(text)
	if err != nil {
		return nil, soap.NewFault(soap.InvalidSecurity, "the CipherValue is not valid base64", err)
	}
	if len(octets) == 0 {
		return nil, soap.NewFault(soap.InvalidSecurity, "the CipherValue is empty", nil)
	}
	return octets, nil
}

// encryptedKeysFor finds the EncryptedKey elements that may hold the key of
// encData (see DecryptElement).
func encryptedKeysFor(encData *etree.Element) ([]*etree.Element, error) {
	var keys []*etree.Element
	keyInfos := dsChildren(encData, "KeyInfo")
	if len(keyInfos) > 1 {
		return nil, soap.NewFault(soap.InvalidSecurity, "the EncryptedData is malformed", errors.New("more than one KeyInfo"))
	}
	referenced := false
	if len(keyInfos) == 1 {
		for _, c := range keyInfos[0].ChildElements() {
			switch {
			case soap.IsElement(c, NamespaceXEnc, "EncryptedKey"):
				keys = append(keys, c)
			case isDSig(c, "RetrievalMethod"):
				if t, _ := soap.AttrNS(c, "", "Type"); strings.TrimSpace(t) != typeEncryptedKey {
					continue
				}
				referenced = true
				uri, _ := soap.AttrNS(c, "", "URI")
				if k := siblingEncryptedKey(encData, strings.TrimSpace(uri)); k != nil {
					keys = append(keys, k)
				}
			}
		}
	}
	if len(keys) == 0 && !referenced && encData.Parent() != nil {
		keys = soap.ChildElements(encData.Parent(), NamespaceXEnc, "EncryptedKey")
	}
	switch {
	case len(keys) == 0:
		return nil, soap.NewFault(soap.InvalidSecurity, "no encrypted key found for the EncryptedData", nil)
	case len(keys) > maxEncryptedKeys:
		return nil, soap.NewFault(soap.InvalidSecurity, "too many encrypted keys", fmt.Errorf("%d EncryptedKey elements, at most %d", len(keys), maxEncryptedKeys))
	}
	return keys, nil
}

// siblingEncryptedKey resolves a same-document "#id" reference among the
// EncryptedKey siblings of encData, where SAML 2.0 puts them.
func siblingEncryptedKey(encData *etree.Element, uri string) *etree.Element {
	id, ok := strings.CutPrefix(uri, "#")
	if !ok || id == "" || encData.Parent() == nil {
		return nil
	}
	for _, k := range soap.ChildElements(encData.Parent(), NamespaceXEnc, "EncryptedKey") {
		if v, ok := soap.AttrNS(k, "", "Id"); ok && strings.TrimSpace(v) == id {
			return k
		}
	}
	return nil
}

func onlyXEncChild(parent *etree.Element, local string) (*etree.Element, error) {
	found := soap.ChildElements(parent, NamespaceXEnc, local)
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("missing %s", local)
	case 1:
		return found[0], nil
	}
	return nil, fmt.Errorf("more than one %s", local)
}

func dsChildren(parent *etree.Element, local string) []*etree.Element {
	return soap.ChildElements(parent, NamespaceDSig, local)
}

func elementName(el *etree.Element) error {
	if el == nil {
		return errors.New("no element")
	}
	return fmt.Errorf("got {%s}%s", el.NamespaceURI(), el.Tag)
}
