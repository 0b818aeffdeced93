package wssec

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/beevik/etree"
)

// xmlSpace is the whitespace of XML (S production): what xs:anyURI and
// xs:dateTime collapse and what base64Binary may contain between groups.
const xmlSpace = " \t\r\n"

// is reports whether el is the element {ns}local. Prefixes are arbitrary, so
// only the namespace URI the prefix is bound to counts.
func is(el *etree.Element, ns, local string) bool {
	return el.Tag == local && el.NamespaceURI() == ns
}

// attrNS returns the value of the namespace-qualified attribute {ns}local.
func attrNS(el *etree.Element, ns, local string) (string, bool) {
	for i := range el.Attr {
		a := &el.Attr[i]
		if a.Key != local || a.Space == "" || a.Space == "xmlns" {
			continue
		}
		if a.NamespaceURI() == ns {
			return a.Value, true
		}
	}
	return "", false
}

// attrPlain returns the value of the unqualified attribute local.
func attrPlain(el *etree.Element, local string) (string, bool) {
	for _, a := range el.Attr {
		if a.Space == "" && a.Key == local {
			return a.Value, true
		}
	}
	return "", false
}

// collapse trims the XML whitespace around a URI or date value: clients
// pretty-print them (xs:anyURI and xs:dateTime whitespace collapse).
func collapse(s string) string {
	return strings.Trim(s, xmlSpace)
}

var (
	errChildElement = errors.New("element content expected, found a child element")
	errTooLarge     = errors.New("value too large")
)

// textContent returns the character data of a simple-content element. Unlike
// etree's Text it does not stop at a comment, so a comment cannot make the
// value checked here differ from the value another reader sees; child
// elements are refused.
func textContent(el *etree.Element) (string, error) {
	var b strings.Builder
	for _, tok := range el.Child {
		switch t := tok.(type) {
		case *etree.CharData:
			b.WriteString(t.Data)
		case *etree.Element:
			return "", errChildElement
		}
		if b.Len() > MaxTextSize {
			return "", fmt.Errorf("%w: more than %d bytes", errTooLarge, MaxTextSize)
		}
	}
	return b.String(), nil
}

// decodeBase64 decodes base64Binary content, which may be broken into lines,
// refusing values that would decode to more than max bytes.
func decodeBase64(s string, max int) ([]byte, error) {
	if len(s) > (max/3+2)*4*2 {
		// Cheap bound before stripping: even with one whitespace byte per
		// base64 byte the value would be too large.
		return nil, fmt.Errorf("%w: more than %d bytes", errTooLarge, max)
	}
	compact := strings.Map(func(r rune) rune {
		if strings.ContainsRune(xmlSpace, r) {
			return -1
		}
		return r
	}, s)
	if base64.StdEncoding.DecodedLen(len(compact)) > max+2 {
		return nil, fmt.Errorf("%w: more than %d bytes", errTooLarge, max)
	}
	b, err := base64.StdEncoding.DecodeString(compact)
	if err != nil {
		return nil, fmt.Errorf("not base64: %w", err)
	}
	if len(b) > max {
		return nil, fmt.Errorf("%w: more than %d bytes", errTooLarge, max)
	}
	return b, nil
}

// elementID returns the identifier an "#id" reference resolves to: wsu:Id
// for WS-Security elements, ID for SAML 2.0 and AssertionID for SAML 1.x
// assertions, and the unqualified Id of XML Signature and Encryption.
func elementID(el *etree.Element) string {
	if v, ok := attrNS(el, NSUtility, "Id"); ok {
		return collapse(v)
	}
	switch el.NamespaceURI() {
	case NSSAML20:
		if v, ok := attrPlain(el, "ID"); ok {
			return collapse(v)
		}
	case NSSAML11:
		if v, ok := attrPlain(el, "AssertionID"); ok {
			return collapse(v)
		}
	}
	if v, ok := attrPlain(el, "Id"); ok {
		return collapse(v)
	}
	return ""
}

// firstChild returns el's first child element {ns}local, or nil.
func firstChild(el *etree.Element, ns, local string) *etree.Element {
	for _, c := range el.ChildElements() {
		if is(c, ns, local) {
			return c
		}
	}
	return nil
}
