package xmlsec

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/soap"
)

// This file moves elements across the encryption boundary: out as a
// standalone serialisation, back in through the same refusals as a
// request (no DTD, entities or processing instructions; bounded size,
// depth and breadth).

// inheritedNamespaces returns the namespace declarations el inherits from
// its ancestors and does not redeclare itself, sorted by prefix ("" is the
// default namespace). Every in-scope prefix is kept, not only those used in
// names, because QName values such as xsi:type="xs:string" use prefixes
// that no element or attribute name shows.
func inheritedNamespaces(el *etree.Element) []etree.Attr {
	seen := map[string]bool{}
	for _, a := range el.Attr {
		if p, ok := declaredPrefix(a); ok {
			seen[p] = true
		}
	}
	return namespacesFrom(el.Parent(), seen)
}

// namespacesInScope returns every namespace declaration in scope at el,
// its own included, sorted by prefix.
func namespacesInScope(el *etree.Element) []etree.Attr {
	return namespacesFrom(el, map[string]bool{})
}

// namespacesFrom collects the declarations of el and its ancestors, the
// nearest one winning, skipping prefixes already in seen.
func namespacesFrom(el *etree.Element, seen map[string]bool) []etree.Attr {
	var out []etree.Attr
	for p := el; p != nil; p = p.Parent() {
		for _, a := range p.Attr {
			prefix, ok := declaredPrefix(a)
			if !ok || seen[prefix] {
				continue
			}
			seen[prefix] = true
			// xmlns="" in scope means no default namespace: nothing to
			// declare.
			if a.Value != "" {
				out = append(out, a)
			}
		}
	}
	slices.SortFunc(out, func(a, b etree.Attr) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// declaredPrefix reports whether a declares a namespace, and which prefix.
func declaredPrefix(a etree.Attr) (string, bool) {
	switch {
	case a.Space == "xmlns":
		return a.Key, true
	case a.Space == "" && a.Key == "xmlns":
		return "", true
	}
	return "", false
}

// standaloneCopy returns a detached copy of el that declares every
// namespace it inherits, so that it means the same wherever it is parsed.
func standaloneCopy(el *etree.Element) *etree.Element {
	c := el.Copy()
	for _, a := range inheritedNamespaces(el) {
		c.CreateAttr(a.FullKey(), a.Value)
	}
	return c
}

// serializeStandalone is the octet form of standaloneCopy(el).
func serializeStandalone(el *etree.Element) ([]byte, error) {
	return soap.SerializeExact(standaloneCopy(el)), nil
}

// parseDecryptedElement reads decrypted octets that replace an
// EncryptedData whose parent is context (nil for none). Other
// implementations serialise the element without the namespace declarations
// it inherits, relying on the decryptor to parse it in place, so the
// octets are parsed inside a wrapper that declares what context has in
// scope. The result is a standalone element.
func parseDecryptedElement(plain []byte, context *etree.Element, lim soap.Limits) (*etree.Element, error) {
	var wrapped bytes.Buffer
	wrapped.WriteString("<plaintext")
	if context != nil {
		// The wrapper takes the place of the EncryptedData, inside context.
		for _, a := range namespacesInScope(context) {
			wrapped.WriteString(" " + a.FullKey() + `="`)
			if err := xml.EscapeText(&wrapped, []byte(a.Value)); err != nil {
				return nil, err
			}
			wrapped.WriteString(`"`)
		}
	}
	wrapped.WriteString(">")
	wrapped.Write(plain)
	wrapped.WriteString("</plaintext>")

	// The wrapper adds one level, one element and its own bytes.
	lim.MaxDepth++
	lim.MaxElements++
	lim.MaxBytes += int64(wrapped.Len() - len(plain))
	doc, err := readFragment(wrapped.Bytes(), lim)
	if err != nil {
		return nil, err
	}
	wrapper := doc.Root()
	var el *etree.Element
	for _, tok := range wrapper.Child {
		switch t := tok.(type) {
		case *etree.Element:
			if el != nil {
				return nil, errors.New("plaintext holds more than one element")
			}
			el = t
		case *etree.CharData:
			if strings.TrimSpace(t.Data) != "" {
				return nil, errors.New("plaintext holds text outside its element")
			}
		}
	}
	if el == nil {
		return nil, errors.New("plaintext holds no element")
	}
	if err := checkPrefixesBound(el); err != nil {
		return nil, err
	}
	return standaloneCopy(el), nil
}

// readFragment reads the wrapped plaintext with the checks of a request
// (soap.ReadTree): it refuses DTDs and entity declarations, processing
// instructions (the XML declaration included: in the wrapper it does not
// come first), undefined entities, more than one root element (plaintext
// that closes its wrapper), and input over lim.
func readFragment(data []byte, lim soap.Limits) (*etree.Document, error) {
	doc, err := soap.ReadTree(data, lim)
	var malformed *soap.MalformedError
	switch {
	case errors.As(err, &malformed):
		// The malformed error's own text, never the decoder's: that can
		// quote the plaintext.
		return nil, fmt.Errorf("malformed plaintext: %w", malformed)
	case errors.Is(err, soap.ErrNotOneRoot):
		return nil, errors.New("malformed plaintext: it closes the element it replaces")
	case errors.Is(err, soap.ErrTextOutsideDoc):
		return nil, errors.New("malformed plaintext: text outside the element")
	}
	return doc, err
}

// checkPrefixesBound refuses element and attribute names whose prefix no
// declaration binds: such a name has no namespace to match on.
func checkPrefixesBound(el *etree.Element) error {
	if el.Space != "" && el.NamespaceURI() == "" {
		return errors.New("an element uses an undeclared prefix")
	}
	for _, a := range el.Attr {
		if a.Space == "" || a.Space == "xmlns" || a.Space == "xml" {
			continue
		}
		if a.NamespaceURI() == "" {
			return errors.New("an attribute uses an undeclared prefix")
		}
	}
	for _, c := range el.ChildElements() {
		if err := checkPrefixesBound(c); err != nil {
			return err
		}
	}
	return nil
}
