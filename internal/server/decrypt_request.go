package server

import (
	"crypto"
	"errors"
	"strings"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/wssec"
	"github.com/trustbroker/trustbroker/internal/xmlsec"
)

// decryptBody replaces an encrypted SOAP Body's content by its plaintext,
// decrypted with the STS's key (clients encrypt for the STS certificate they
// find in its metadata). The data key is in the EncryptedData's KeyInfo, or
// in an EncryptedKey of the Security header whose ReferenceList names the
// EncryptedData (the WS-Security layout). A body that is not encrypted is
// left alone.
func decryptBody(snap *policy.Snapshot, env *soap.Envelope, security *etree.Element) error {
	if !soap.IsElement(env.Body, xmlsec.NamespaceXEnc, "EncryptedData") {
		return nil
	}
	key, ok := snap.STS.Signing.Signer.(crypto.Decrypter)
	if !ok {
		return soap.NewFault(soap.UnsupportedAlgorithm, "This STS cannot decrypt requests.", errors.New("the signing key cannot decrypt"))
	}
	d := &xmlsec.Decrypter{Key: key}
	encData := env.Body
	var plain *etree.Element
	var err error
	if encKey := referringKey(security, encData); encKey != nil {
		var dataKey []byte
		if dataKey, err = d.DecryptKey(encKey); err == nil {
			plain, err = d.DecryptElementWithKey(encData, dataKey)
		}
	} else {
		plain, err = d.DecryptElement(encData)
	}
	if err != nil {
		return err
	}
	body := encData.Parent()
	body.InsertChildAt(encData.Index(), plain)
	body.RemoveChild(encData)
	env.Body = plain
	return nil
}

// referringKey is the Security header's EncryptedKey whose ReferenceList
// names encData by its Id, or nil.
func referringKey(security *etree.Element, encData *etree.Element) *etree.Element {
	id := encData.SelectAttrValue("Id", "")
	if security == nil || id == "" {
		return nil
	}
	for _, ek := range soap.ChildElements(security, xmlsec.NamespaceXEnc, "EncryptedKey") {
		refs := soap.ChildElement(ek, xmlsec.NamespaceXEnc, "ReferenceList")
		if refs == nil {
			continue
		}
		for _, ref := range soap.ChildElements(refs, xmlsec.NamespaceXEnc, "DataReference") {
			if strings.TrimPrefix(ref.SelectAttrValue("URI", ""), "#") == id {
				return ek
			}
		}
	}
	return nil
}

// securityBlock is the request's one Security header addressed to the STS,
// or nil; more than one is the caller's error, reported by securityHeader.
func securityBlock(env *soap.Envelope) *etree.Element {
	if blocks := env.Blocks(wssec.NSSecExt, "Security"); len(blocks) == 1 {
		return blocks[0]
	}
	return nil
}
