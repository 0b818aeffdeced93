package saml

import (
	"errors"
	"fmt"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/xmlsec"
)

// Sign adds an enveloped signature to an unsigned assertion of either
// version, where its schema puts it: right after Issuer in SAML 2.0, last in
// SAML 1.1. The assertion is canonicalised in place (see xmlsec.Signer.Sign).
func Sign(el *etree.Element, s *xmlsec.Signer) error {
	v, err := versionOf(el)
	if err != nil {
		return err
	}
	// xsi:type="xs:string" names xs only inside a value, so exclusive c14n
	// must be told to keep it; listing xsi too keeps its one declaration on
	// the root instead of a copy on every AttributeValue.
	var inclusive []string
	for _, p := range []string{"xs", "xsi"} {
		if el.SelectAttr("xmlns:"+p) != nil {
			inclusive = append(inclusive, p)
		}
	}
	sig, err := s.Sign(el, v.IDAttr(), inclusive...)
	if err != nil {
		return fmt.Errorf("saml: signing %s assertion: %w", v, err)
	}
	if v == SAML11 {
		el.AddChild(sig)
		return nil
	}
	for _, c := range el.ChildElements() {
		if c.Tag == "Issuer" && c.NamespaceURI() == NamespaceSAML20 {
			el.InsertChildAt(c.Index()+1, sig)
			return nil
		}
	}
	return errors.New("saml: SAML 2.0 assertion has no Issuer to place the signature after")
}

// BuildSigned builds a in version v and signs it.
func BuildSigned(v Version, a *Assertion, s *xmlsec.Signer) (*etree.Element, error) {
	el, err := Build(v, a)
	if err != nil {
		return nil, err
	}
	if err := Sign(el, s); err != nil {
		return nil, err
	}
	return el, nil
}

// versionOf recognises an assertion element by namespace and local name.
func versionOf(el *etree.Element) (Version, error) {
	if el == nil || el.Tag != "Assertion" {
		return 0, errors.New("saml: not an Assertion element")
	}
	switch el.NamespaceURI() {
	case NamespaceSAML20:
		return SAML20, nil
	case NamespaceSAML11:
		return SAML11, nil
	}
	return 0, fmt.Errorf("saml: Assertion in unknown namespace %q", el.NamespaceURI())
}
