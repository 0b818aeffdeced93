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

// IndexIDs collects the IDs (soap.IsIDAttr) of every element under root. Values are whitespace-collapsed. An ID value carried by two
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
		if !soap.IsIDAttr(a) {
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
