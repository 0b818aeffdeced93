package wssec

import (
	"fmt"
	"strings"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/xmlsec"
)

// maxEncryptedParts bounds how many parts one EncryptedKey may decrypt.
const maxEncryptedParts = 16

// decryptListed replaces the parts encKey's ReferenceList names (the Body's
// content, a header block, also wrapped in a WS-Security 1.1
// EncryptedHeader, or a token of the Security header such as a
// UsernameToken) by their plaintext. An EncryptedKey without a
// ReferenceList keys something else (a signature or proof key) and is
// left alone.
func decryptListed(d *xmlsec.Decrypter, env *soap.Envelope, encKey *etree.Element) error {
	refs := soap.ChildElement(encKey, xmlsec.NamespaceXEnc, "ReferenceList")
	if refs == nil {
		return nil
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
			return soap.NewFault(soap.InvalidSecurity, "A DataReference names no EncryptedData of the message.", fmt.Errorf("DataReference URI %q", truncate(uri, 120)))
		}
		plain, err := d.DecryptElementWithKey(encData, key)
		if err != nil {
			return err
		}
		if parent := encData.Parent(); soap.IsElement(parent, NSSecExt11, "EncryptedHeader") {
			encData = parent // the wrapper goes too: the header block takes its place
		}
		replaceElement(encData, plain)
	}
	return nil
}

// decryptBody decrypts a Body whose one child is an EncryptedData carrying
// its own key, the layout without a header EncryptedKey.
func decryptBody(d *xmlsec.Decrypter, env *soap.Envelope) (bool, error) {
	body := env.Body.Parent()
	content := body.ChildElements()
	if len(content) != 1 || !soap.IsElement(content[0], xmlsec.NamespaceXEnc, "EncryptedData") {
		return false, nil
	}
	plain, err := d.DecryptElement(content[0])
	if err != nil {
		return true, err
	}
	replaceElement(content[0], plain)
	return true, nil
}

// isEncryptedKeyList reports whether a Security header child decrypts parts
// of the message.
func isEncryptedKeyList(el *etree.Element) bool {
	return soap.IsElement(el, xmlsec.NamespaceXEnc, "EncryptedKey") && soap.ChildElement(el, xmlsec.NamespaceXEnc, "ReferenceList") != nil
}

// replaceElement puts plain where old was.
func replaceElement(old, plain *etree.Element) {
	parent := old.Parent()
	parent.InsertChildAt(old.Index(), plain)
	parent.RemoveChild(old)
}
