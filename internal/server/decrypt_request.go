package server

import (
	"crypto"
	"errors"
	"fmt"
	"strings"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/wssec"
	"github.com/trustbroker/trustbroker/internal/xmlsec"
)

// maxEncryptedParts bounds how many parts one EncryptedKey may decrypt.
const maxEncryptedParts = 16

// decryptRequest replaces the encrypted parts of a request by their
// plaintext, decrypted with the STS's key (clients encrypt for the STS
// certificate they find in its metadata), before anything reads them:
//   - every part an EncryptedKey of the Security header lists in its
//     ReferenceList (the WS-Security layout): the Body's content, a header
//     block (also wrapped in a WS-Security 1.1 EncryptedHeader), or a token
//     of the Security header such as a UsernameToken;
//   - a Body encrypted with its data key inside the EncryptedData.
//
// A request with nothing encrypted is left alone.
func decryptRequest(snap *policy.Snapshot, env *soap.Envelope, security *etree.Element) error {
	if !encrypted(env, security) {
		return nil
	}
	key, ok := snap.STS.Signing.Signer.(crypto.Decrypter)
	if !ok {
		return soap.NewFault(soap.UnsupportedAlgorithm, "This STS cannot decrypt requests.", errors.New("the signing key cannot decrypt"))
	}
	d := &xmlsec.Decrypter{Key: key}
	body := env.Body.Parent() // stays; what it holds may be replaced
	if security != nil {
		for _, encKey := range soap.ChildElements(security, xmlsec.NamespaceXEnc, "EncryptedKey") {
			if err := decryptListed(d, env, encKey); err != nil {
				return err
			}
		}
	}
	if content := body.ChildElements(); len(content) == 1 && soap.IsElement(content[0], xmlsec.NamespaceXEnc, "EncryptedData") {
		plain, err := d.DecryptElement(content[0])
		if err != nil {
			return err
		}
		replace(content[0], plain)
	}
	return env.Reread()
}

// encrypted reports whether the request has anything to decrypt.
func encrypted(env *soap.Envelope, security *etree.Element) bool {
	return soap.IsElement(env.Body, xmlsec.NamespaceXEnc, "EncryptedData") ||
		(security != nil && len(soap.ChildElements(security, xmlsec.NamespaceXEnc, "EncryptedKey")) > 0)
}

// decryptListed decrypts the parts encKey's ReferenceList names.
func decryptListed(d *xmlsec.Decrypter, env *soap.Envelope, encKey *etree.Element) error {
	refs := soap.ChildElement(encKey, xmlsec.NamespaceXEnc, "ReferenceList")
	if refs == nil {
		return nil // an EncryptedKey for something else (a signature key, a proof key)
	}
	dataRefs := soap.ChildElements(refs, xmlsec.NamespaceXEnc, "DataReference")
	if len(dataRefs) > maxEncryptedParts {
		return soap.Faultf(soap.InvalidSecurity, "An EncryptedKey lists more than %d encrypted parts.", maxEncryptedParts)
	}
	ids, err := xmlsec.IndexIDs(env.Document.Root())
	if err != nil {
		return err
	}
	key, err := d.DecryptKey(encKey)
	if err != nil {
		return err
	}
	for _, ref := range dataRefs {
		uri := ref.SelectAttrValue("URI", "")
		encData, ok := ids.Lookup(strings.TrimPrefix(uri, "#"))
		if !strings.HasPrefix(uri, "#") || !ok || !soap.IsElement(encData, xmlsec.NamespaceXEnc, "EncryptedData") {
			return soap.NewFault(soap.InvalidSecurity, "A DataReference names no EncryptedData of the message.", fmt.Errorf("DataReference URI %q", uri))
		}
		plain, err := d.DecryptElementWithKey(encData, key)
		if err != nil {
			return err
		}
		if parent := encData.Parent(); soap.IsElement(parent, wssec.NSSecExt11, "EncryptedHeader") {
			encData = parent // the wrapper goes too: the header block takes its place
		}
		replace(encData, plain)
	}
	return nil
}

// replace puts plain where old was.
func replace(old, plain *etree.Element) {
	parent := old.Parent()
	parent.InsertChildAt(old.Index(), plain)
	parent.RemoveChild(old)
}

// securityBlock is the request's one Security header addressed to the STS,
// or nil; more than one is the caller's error, reported by securityHeader.
func securityBlock(env *soap.Envelope) *etree.Element {
	if blocks := env.Blocks(wssec.NSSecExt, "Security"); len(blocks) == 1 {
		return blocks[0]
	}
	return nil
}
