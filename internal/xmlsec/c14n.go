package xmlsec

import (
	"bytes"
	"crypto"
	"fmt"
	"slices"
	"strings"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/buffers"
)

// namespaceXML is the namespace the xml prefix is bound to by definition.
const namespaceXML = "http://www.w3.org/XML/1998/namespace"

// excC14N returns the Exclusive XML Canonicalization 1.0 (without comments)
// of el as it sits in its document: the namespace declarations of its
// ancestors are in scope, none is rendered yet. prefixList is the
// InclusiveNamespaces PrefixList, without "#default" (see
// resolvePrefixList). without, a descendant of el, is left out (the
// enveloped-signature transform). The tree is only read, never copied or
// changed: the copies and the namespace maps per element that a general
// canonicaliser makes were a large part of the cost of a token.
func excC14N(el *etree.Element, prefixList string, without *etree.Element) ([]byte, error) {
	var out bytes.Buffer
	out.Grow(4096)
	if err := writeExcC14N(&out, el, prefixList, without); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// digestExcC14N is the digest with hash of excC14N's output, which is
// written to a pooled buffer: most canonical forms are only hashed, and a
// token's assertion is several kilobytes.
func digestExcC14N(hash crypto.Hash, el *etree.Element, prefixList string, without *etree.Element) ([]byte, error) {
	out := buffers.Get()
	defer buffers.Put(out)
	if err := writeExcC14N(out, el, prefixList, without); err != nil {
		return nil, err
	}
	h := hash.New()
	h.Write(out.Bytes())
	return h.Sum(nil), nil
}

func writeExcC14N(out *bytes.Buffer, el *etree.Element, prefixList string, without *etree.Element) error {
	c := &c14n{out: out, inclusive: strings.Fields(prefixList), without: without}
	for p := el.Parent(); p != nil; p = p.Parent() {
		// Nearest declarations last, so that lookups from the end find them.
		c.scope = append(declarations(p), c.scope...)
	}
	return c.element(el)
}

// A binding is a namespace prefix ("" for the default namespace) and its URI.
type binding struct{ prefix, uri string }

type c14n struct {
	out       *bytes.Buffer
	inclusive []string
	without   *etree.Element
	scope     []binding // declarations in scope, innermost last
	rendered  []binding // declarations written on output ancestors, innermost last
}

func declarations(el *etree.Element) []binding {
	var b []binding
	for _, a := range el.Attr {
		switch {
		case a.Space == "xmlns":
			b = append(b, binding{a.Key, a.Value})
		case a.Space == "" && a.Key == "xmlns":
			b = append(b, binding{"", a.Value})
		}
	}
	return b
}

func lookup(bindings []binding, prefix string) (string, bool) {
	for i := len(bindings) - 1; i >= 0; i-- {
		if bindings[i].prefix == prefix {
			return bindings[i].uri, true
		}
	}
	return "", false
}

// c14nAttr is an attribute as it is sorted: by namespace URI, then local name.
type c14nAttr struct {
	uri string
	a   *etree.Attr
}

func (c *c14n) element(el *etree.Element) error {
	scopeLen, renderedLen := len(c.scope), len(c.rendered)
	defer func() { c.scope, c.rendered = c.scope[:scopeLen], c.rendered[:renderedLen] }()
	c.scope = append(c.scope, declarations(el)...)

	// Namespaces visibly utilised: the element's own prefix (the default
	// namespace when it has none) and its attributes' prefixes; then those
	// of the PrefixList that are in scope.
	var ns []binding
	use := func(prefix string, required bool) error {
		if prefix == "xml" || slices.ContainsFunc(ns, func(b binding) bool { return b.prefix == prefix }) {
			return nil
		}
		uri, ok := lookup(c.scope, prefix)
		if !ok && prefix != "" {
			if required {
				return malformed(fmt.Errorf("undeclared namespace prefix %q", truncateText(prefix, 40)))
			}
			return nil
		}
		if done, _ := lookup(c.rendered, prefix); done != uri {
			ns = append(ns, binding{prefix, uri})
		}
		return nil
	}
	if err := use(el.Space, true); err != nil {
		return err
	}
	attrs := make([]c14nAttr, 0, len(el.Attr))
	for i := range el.Attr {
		a := &el.Attr[i]
		if a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns") {
			continue
		}
		uri := ""
		switch a.Space {
		case "":
		case "xml":
			uri = namespaceXML
		default:
			if err := use(a.Space, true); err != nil {
				return err
			}
			uri, _ = lookup(c.scope, a.Space)
		}
		attrs = append(attrs, c14nAttr{uri, a})
	}
	for _, p := range c.inclusive {
		if err := use(p, false); err != nil {
			return err
		}
	}
	slices.SortFunc(ns, func(a, b binding) int { return strings.Compare(a.prefix, b.prefix) })
	slices.SortFunc(attrs, func(a, b c14nAttr) int {
		if n := strings.Compare(a.uri, b.uri); n != 0 {
			return n
		}
		return strings.Compare(a.a.Key, b.a.Key)
	})
	c.rendered = append(c.rendered, ns...)

	c.out.WriteByte('<')
	c.qname(el.Space, el.Tag)
	for _, b := range ns {
		c.out.WriteString(" xmlns")
		if b.prefix != "" {
			c.out.WriteByte(':')
			c.out.WriteString(b.prefix)
		}
		c.out.WriteString(`="`)
		attrEscaper.WriteString(c.out, b.uri)
		c.out.WriteByte('"')
	}
	for _, a := range attrs {
		c.out.WriteByte(' ')
		c.qname(a.a.Space, a.a.Key)
		c.out.WriteString(`="`)
		attrEscaper.WriteString(c.out, a.a.Value)
		c.out.WriteByte('"')
	}
	c.out.WriteByte('>')
	for _, tok := range el.Child {
		switch t := tok.(type) {
		case *etree.Element:
			if t == c.without {
				continue
			}
			if err := c.element(t); err != nil {
				return err
			}
		case *etree.CharData:
			textEscaper.WriteString(c.out, t.Data)
		case *etree.ProcInst:
			c.out.WriteString("<?")
			c.out.WriteString(t.Target)
			if t.Inst != "" {
				c.out.WriteByte(' ')
				c.out.WriteString(t.Inst)
			}
			c.out.WriteString("?>")
		}
		// Comments are left out; a Directive cannot sit inside an element.
	}
	c.out.WriteString("</")
	c.qname(el.Space, el.Tag)
	c.out.WriteByte('>')
	return nil
}

func (c *c14n) qname(prefix, local string) {
	if prefix != "" {
		c.out.WriteString(prefix)
		c.out.WriteByte(':')
	}
	c.out.WriteString(local)
}

// The escapes of canonical XML: character content and attribute values.
var (
	textEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\r", "&#xD;")
	attrEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", "\"", "&quot;", "\t", "&#x9;", "\n", "&#xA;", "\r", "&#xD;")
)
