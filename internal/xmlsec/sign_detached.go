package xmlsec

import (
	"errors"
	"fmt"
	"strings"

	"github.com/beevik/etree"
)

// DetachedTarget is one element a detached signature covers.
type DetachedTarget struct {
	// Element is the element, already in its final place in the document:
	// it is canonicalised with the namespaces it inherits there.
	Element *etree.Element
	// ID is the element's id value (its wsu:Id, Id or ID), referenced as
	// "#" + ID.
	ID string
	// InclusivePrefixes become the InclusiveNamespaces PrefixList of the
	// Reference's exclusive c14n transform.
	InclusivePrefixes []string
}

// SignDetached signs several elements of one document with one detached
// signature (the WS-Security form, in the Security header): one Reference
// per target, each with an exclusive c14n transform. keyInfo, when not
// nil, becomes the content of ds:KeyInfo (for WS-Security a
// wsse:SecurityTokenReference). The caller inserts the returned
// ds:Signature into the document; it must not be placed inside a target.
func (s *Signer) SignDetached(targets []DetachedTarget, keyInfo *etree.Element) (*etree.Element, error) {
	if len(targets) == 0 {
		return nil, errors.New("xmlsec: nothing to sign")
	}
	si := s.newSignedInfo()
	for _, t := range targets {
		if t.Element == nil || !isPlainID(t.ID) {
			return nil, fmt.Errorf("xmlsec: target %q has no element or an unusable id", t.ID)
		}
		prefixList := strings.Join(t.InclusivePrefixes, " ")
		digest, err := digestExclusive(s.digest.Hash(), t.Element, prefixList, nil)
		if err != nil {
			return nil, fmt.Errorf("xmlsec: canonicalising #%s: %w", t.ID, err)
		}
		s.addReference(si, t.ID, prefixList, digest)
	}
	sig, err := s.signatureElement(si)
	if err != nil {
		return nil, err
	}
	if keyInfo != nil {
		dsChild(sig, "KeyInfo").AddChild(keyInfo)
	}
	return sig, nil
}
