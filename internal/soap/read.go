package soap

import (
	"encoding/xml"
	"errors"
	"fmt"
	"strings"

	"github.com/beevik/etree"
)

// Scan reads data token by token and refuses what must never reach a tree:
// DTDs and entity declarations (billion laughs, external entities),
// processing instructions other than an XML declaration before the root
// element (SOAP forbids them), an encoding other than UTF-8, documents deeper
// or larger than lim (zero fields take the defaults), anything that is not
// one well-formed root element (end tags that do not match included), names
// that are not qualified names, duplicate attributes and declarations of the
// reserved xml and xmlns prefixes and namespaces. References to entities
// other than the five predefined ones are malformed. It is the check for XML
// read from elsewhere, such as decrypted content; ReadTree makes the same
// checks while it builds the tree.
func Scan(data []byte, lim Limits) error {
	_, err := read(data, lim, false)
	return err
}

// ReadTree makes Scan's checks and builds the document in the same pass: a
// token is checked before it is added, so nothing over the limits is ever
// allocated, and the message is tokenised once. The tree is the one
// etree's own reader builds (character data keeps etree's whitespace flag).
func ReadTree(data []byte, lim Limits) (*etree.Document, error) {
	return read(data, lim, true)
}

// read is Scan, and ReadTree when build is set.
func read(data []byte, lim Limits, build bool) (*etree.Document, error) {
	lim = lim.WithDefaults()
	if int64(len(data)) > lim.MaxBytes {
		return nil, fmt.Errorf("%w of %d bytes", ErrTooLarge, lim.MaxBytes)
	}
	z := newTokenizer(data, lim.MaxAttributes, build)
	c := checker{lim: lim, ns: nsScope{bindings: make([]binding, 0, linearBindings)}}
	var b *builder
	if build {
		b = newBuilder()
	}
	for {
		if err := z.next(); err != nil {
			return nil, malformed(err)
		}
		if z.tok.kind == tokenEOF {
			break
		}
		if err := c.check(&z.tok); err != nil {
			return nil, atLine(err, z)
		}
		if b != nil {
			b.add(&z.tok)
		}
	}
	if err := c.finish(); err != nil {
		return nil, atLine(err, z)
	}
	if b == nil {
		return nil, nil
	}
	return b.doc, nil
}

// malformed wraps the tokenizer's syntax errors in a *MalformedError and
// passes the others (a DTD, too many attributes, ...) on.
func malformed(err error) error {
	var syntax *xml.SyntaxError
	if errors.As(err, &syntax) {
		return &MalformedError{Err: syntax}
	}
	return err
}

// atLine turns the checker's syntax errors into a *MalformedError at the
// tokenizer's line, and passes the others on.
func atLine(err error, z *tokenizer) error {
	var syntax *xml.SyntaxError
	if !errors.As(err, &syntax) {
		return err
	}
	syntax.Line = z.line()
	return &MalformedError{Err: syntax}
}

// checker holds what the checks of one document need between tokens.
type checker struct {
	lim          Limits
	open         []string // the names of the elements not yet closed, outermost first
	nodes, roots int
	started      bool // a token was read
	ns           nsScope
}

// check checks one token (the tokenizer has bounded its attributes). An end
// tag that does not close the open element is an *xml.SyntaxError without
// its line, which read fills in.
func (c *checker) check(t *token) error {
	defer func() { c.started = true }()
	switch t.kind {
	case tokenStart:
		c.open = append(c.open, t.qname)
		depth := len(c.open)
		if depth == 1 {
			c.roots++
			if c.roots > 1 {
				return ErrNotOneRoot
			}
		}
		if depth > c.lim.MaxDepth {
			return fmt.Errorf("%w of %d", ErrTooDeep, c.lim.MaxDepth)
		}
		if err := c.countNode(); err != nil {
			return err
		}
		if err := checkQName(t.name); err != nil {
			return err
		}
		for i := range t.attrs {
			if err := checkQName(t.attrs[i].Name); err != nil {
				return err
			}
		}
		return c.ns.checkAttrs(t.attrs, depth)
	case tokenEnd:
		depth := len(c.open)
		if depth == 0 || c.open[depth-1] != string(t.end) {
			return &xml.SyntaxError{Msg: "an end tag does not match the open element"}
		}
		c.ns.end(depth)
		c.open = c.open[:depth-1]
	case tokenProcInst:
		// Only the XML declaration, and only at the very start.
		if t.qname != "xml" || c.started {
			return fmt.Errorf("%w <?%s?>", ErrProcInst, boundedName(xml.Name{Local: t.qname}))
		}
	case tokenComment:
		return c.countNode()
	case tokenText:
		// XML allows only whitespace around the root, as written: no
		// reference, no CDATA section.
		if len(c.open) == 0 && (t.cdata || t.referenced || !onlyXMLSpace(t.data)) {
			return ErrTextOutsideDoc
		}
		if t.cdata {
			return c.countNode()
		}
	}
	return nil
}

// countNode counts an element, comment or CDATA section against
// MaxElements: each is a node of the tree, and the text between them is
// bounded by their number.
func (c *checker) countNode() error {
	c.nodes++
	if c.nodes > c.lim.MaxElements {
		return fmt.Errorf("%w of %d", ErrTooManyElems, c.lim.MaxElements)
	}
	return nil
}

// finish checks what only the end of the input shows; an unclosed element
// is an *xml.SyntaxError, as in check.
func (c *checker) finish() error {
	if len(c.open) > 0 {
		return &xml.SyntaxError{Msg: "unexpected end of input"}
	}
	if c.roots != 1 {
		return ErrNotOneRoot
	}
	return nil
}

// checkQName refuses a name with a colon at its start or end: the tokenizer,
// as encoding/xml, reads it as an unprefixed name with a colon in it, which
// XML Namespaces forbids and etree would split differently.
func checkQName(n xml.Name) error {
	if strings.IndexByte(n.Local, ':') >= 0 {
		return fmt.Errorf("%w: %s", ErrNotQName, boundedName(n))
	}
	return nil
}

// builder grows an etree document from checked tokens.
type builder struct {
	doc   *etree.Document
	stack []*etree.Element // the document, then the open elements
}

func newBuilder() *builder {
	doc := etree.NewDocument()
	return &builder{doc: doc, stack: append(make([]*etree.Element, 0, 16), &doc.Element)}
}

func (b *builder) add(t *token) {
	top := b.stack[len(b.stack)-1]
	switch t.kind {
	case tokenStart:
		// etree splits a name at its colon as the tokenizer did: names with
		// a colon at either end were refused.
		el := etree.NewElement(t.qname)
		el.Attr = make([]etree.Attr, 0, len(t.attrs))
		for i := range t.attrs {
			// The checks refused duplicates, so CreateAttr always appends.
			el.CreateAttr(t.attrs[i].qname, t.attrs[i].Value)
		}
		top.AddChild(el)
		b.stack = append(b.stack, el)
	case tokenEnd:
		b.stack = b.stack[:len(b.stack)-1]
	case tokenText:
		// SetData sets the whitespace flag as etree's reader does.
		top.CreateText("").SetData(string(t.data))
	case tokenComment:
		top.CreateComment(string(t.data))
	case tokenProcInst:
		top.CreateProcInst(t.qname, string(t.data))
	}
}
