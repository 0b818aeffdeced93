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
