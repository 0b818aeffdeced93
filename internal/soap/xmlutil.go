package soap

import (
	"strings"

	"github.com/beevik/etree"
)

// namespaceXML is the namespace the xml prefix is bound to.
const namespaceXML = "http://www.w3.org/XML/1998/namespace"

// IsElement reports whether e has the namespace URI space and the local name
// local. Prefixes are never compared: the same namespace arrives as wst:,
// trust:, t: or as a default namespace.
func IsElement(e *etree.Element, space, local string) bool {
	return e != nil && e.Tag == local && e.NamespaceURI() == space
}

// ChildElements returns the children of e with the namespace URI space and
// local name local, in document order.
func ChildElements(e *etree.Element, space, local string) []*etree.Element {
	var out []*etree.Element
	for _, c := range e.ChildElements() {
		if IsElement(c, space, local) {
			out = append(out, c)
		}
	}
	return out
}

// ChildElement returns the first child of e with the namespace URI space and
// local name local, or nil.
func ChildElement(e *etree.Element, space, local string) *etree.Element {
	for _, c := range e.ChildElements() {
		if IsElement(c, space, local) {
			return c
		}
	}
	return nil
}

// AttrNS returns the value of e's attribute with namespace URI space (empty
// for an unqualified attribute) and local name local.
func AttrNS(e *etree.Element, space, local string) (string, bool) {
	for i := range e.Attr {
		a := &e.Attr[i]
		if a.Key != local || a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns") {
			continue
		}
		if space == "" {
			if a.Space == "" {
				return a.Value, true
			}
			continue
		}
		if a.Space == "xml" {
			// The xml prefix is bound by definition, never declared.
			if space == namespaceXML {
				return a.Value, true
			}
			continue
		}
		if a.Space != "" && a.NamespaceURI() == space {
			return a.Value, true
		}
	}
	return "", false
}

// Text returns all character data directly inside e, joined, skipping
// comments and child elements: a value split by a comment ("a<!---->b") must
// read as the "ab" that a signature over its canonical form covers, never as
// a truncated "a". The property is pinned here rather than left to the
// behaviour of one etree version.
func Text(e *etree.Element) string {
	var b strings.Builder
	for _, t := range e.Child {
		if cd, ok := t.(*etree.CharData); ok {
			b.WriteString(cd.Data)
		}
	}
	return b.String()
}

// CollapsedText returns Text(e) with surrounding whitespace removed: URI,
// QName, boolean and number values are whitespace-collapsed in XML Schema,
// and real clients wrap them in newlines and tabs.
func CollapsedText(e *etree.Element) string {
	return strings.TrimSpace(Text(e))
}

// hasNonSpaceText reports whether e has character data other than
// whitespace directly inside it.
func hasNonSpaceText(e *etree.Element) bool {
	for _, t := range e.Child {
		if cd, ok := t.(*etree.CharData); ok && !onlyXMLSpace(cd.Data) {
			return true
		}
	}
	return false
}

// onlyXMLSpace reports whether s holds nothing but XML whitespace (space,
// tab, CR, LF). Unicode spaces such as U+00A0 are character content to XML,
// so strings.TrimSpace would let text through where XML allows none.
func onlyXMLSpace[T ~string | ~[]byte](s T) bool {
	for i := range len(s) {
		switch s[i] {
		case ' ', '\t', '\r', '\n':
		default:
			return false
		}
	}
	return true
}

// IsIDAttr reports whether a is an ID attribute, by which a same-document
// "#id" reference names an element: wsu:Id, the unqualified Id (XML
// Signature and Encryption), ID (SAML 2.0), AssertionID (SAML 1.x) and
// xml:id. Every package resolves references by this one definition, so a
// reference can never name one element to the signature check and another
// to the code that acts on it.
func IsIDAttr(a etree.Attr) bool {
	switch a.Space {
	case "":
		return a.Key == "Id" || a.Key == "ID" || a.Key == "AssertionID"
	case "xmlns":
		return false
	case "xml":
		// The xml prefix is bound by definition, never declared.
		return a.Key == "id"
	}
	return a.Key == "Id" && a.NamespaceURI() == NamespaceUtility
}

// ElementID returns el's ID (see IsIDAttr), whitespace-collapsed: its
// wsu:Id when it has one, else its first other ID attribute; "" when it
// has none.
func ElementID(el *etree.Element) string {
	if v, ok := AttrNS(el, NamespaceUtility, "Id"); ok {
		return strings.TrimSpace(v)
	}
	for _, a := range el.Attr {
		if IsIDAttr(a) {
			return strings.TrimSpace(a.Value)
		}
	}
	return ""
}

// ExactWriteSettings serialise a document so that it reads back exactly as
// it is held: carriage returns in text, and tabs, newlines and carriage
// returns in attribute values, become character references, which a parser
// would otherwise normalise, changing content a signature covers.
func ExactWriteSettings() etree.WriteSettings {
	return etree.WriteSettings{CanonicalText: true, CanonicalAttrVal: true}
}
