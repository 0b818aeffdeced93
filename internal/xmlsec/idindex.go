package xmlsec

import (
	"fmt"
	"strings"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/soap"
)

// IDIndex maps the ID values of one document to their elements, for
// same-document "#id" references.
type IDIndex map[string]*etree.Element

// IndexIDs collects the IDs of every element under root: wsu:Id, the
// unqualified Id, ID and AssertionID (XML Signature, SAML 2.0, SAML 1.x),
// and xml:id. Values are whitespace-collapsed. An ID value carried by two
// different elements is refused with an InvalidSecurity fault: a reference
// to it could be made to mean either, which is what signature-wrapping
// attacks rely on. One element may carry the same value under several ID
// attributes.
func IndexIDs(root *etree.Element) (IDIndex, error) {
	ix := IDIndex{}
	if root == nil {
		return ix, nil
	}
	if err := ix.add(root); err != nil {
		return nil, err
	}
	return ix, nil
}

func (ix IDIndex) add(el *etree.Element) error {
	for _, a := range el.Attr {
		if !isIDAttr(a) {
			continue
		}
		id := strings.TrimSpace(a.Value)
		if id == "" {
			continue
		}
		if prev, dup := ix[id]; dup && prev != el {
			return soap.NewFault(soap.InvalidSecurity, "the message has two elements with the same id",
				fmt.Errorf("duplicate id %q on %s and %s", truncateText(id, 120), prev.Tag, el.Tag))
		}
		ix[id] = el
	}
	for _, c := range el.ChildElements() {
		if err := ix.add(c); err != nil {
			return err
		}
	}
	return nil
}

// isIDAttr reports whether a is one of the attributes IndexIDs treats as
// an ID.
func isIDAttr(a etree.Attr) bool {
	switch a.Space {
	case "":
		return a.Key == "Id" || a.Key == "ID" || a.Key == "AssertionID"
	case "xmlns":
		return false
	case "xml":
		// The xml prefix is bound by definition, never declared.
		return a.Key == "id"
	}
	return a.Key == "Id" && a.NamespaceURI() == soap.NamespaceUtility
}

// Lookup returns the element with the ID id.
func (ix IDIndex) Lookup(id string) (*etree.Element, bool) {
	el, ok := ix[id]
	return el, ok
}

func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
