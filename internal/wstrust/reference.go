package wstrust

import (
	"github.com/beevik/etree"
)

// SAMLTokenReference builds the wsse:SecurityTokenReference that points at a
// SAML assertion by its ID, as AD FS writes it in RequestedAttachedReference
// and RequestedUnattachedReference: a KeyIdentifier whose ValueType is
// SAMLAssertionID (SAML 1.1) or SAMLID (SAML 2.0), and a wsse11:TokenType of
// the token profile. It returns nil for kinds other than SAML.
func SAMLTokenReference(kind TokenKind, id string) *etree.Element {
	var valueType, tokenType string
	switch kind {
	case TokenSAML11:
		valueType, tokenType = ValueTypeSAMLAssertionID, TokenTypeSAML11Profile
	case TokenSAML20:
		valueType, tokenType = ValueTypeSAMLID, TokenTypeSAML20Profile
	default:
		return nil
	}
	str := etree.NewElement("wsse:SecurityTokenReference")
	str.CreateAttr("xmlns:wsse", NamespaceSecext)
	str.CreateAttr("xmlns:wsse11", NamespaceSecext11)
	str.CreateAttr("wsse11:TokenType", tokenType)
	ki := str.CreateElement("wsse:KeyIdentifier")
	ki.CreateAttr("ValueType", valueType)
	ki.SetText(id)
	return str
}
