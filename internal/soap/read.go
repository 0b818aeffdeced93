package soap

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/beevik/etree"
)

// Scan reads data token by token with encoding/xml and refuses what must
// never reach a tree: DTDs and entity declarations (billion laughs, external
// entities), processing instructions other than an XML declaration before
// the root element (SOAP forbids them), documents deeper or larger than lim
// (zero fields take the defaults), anything that is not one well-formed root
// element (end tags that do not match included), names that are not
// qualified names, duplicate attributes and declarations of the reserved
// xml and xmlns prefixes and namespaces. Undefined entity references fail in
// the strict decoder. A non-UTF-8 encoding declaration fails because no
// charset reader is set. It is the check for XML read from elsewhere, such
// as decrypted content; ReadTree makes the same checks while it builds the
// tree.
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
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	c := checker{lim: lim, ns: nsScope{bindings: make([]binding, 0, linearBindings)}}
	var b *builder
	if build {
		b = newBuilder()
	}
	for {
		tok, err := dec.RawToken()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, &MalformedError{Err: err}
		}
		if err := c.check(tok); err != nil {
			return nil, atLine(err, dec)
		}
		if b != nil {
			b.add(tok)
		}
	}
	if err := c.finish(); err != nil {
		return nil, atLine(err, dec)
	}
	if b == nil {
		return nil, nil
	}
	return b.doc, nil
}

// atLine turns the checker's syntax errors into a *MalformedError at the
// decoder's line, and passes the others on.
func atLine(err error, dec *xml.Decoder) error {
	var syntax *xml.SyntaxError
	if !errors.As(err, &syntax) {
		return err
	}
	syntax.Line, _ = dec.InputPos()
	return &MalformedError{Err: syntax}
}

// checker holds what the checks of one document need between tokens.
type checker struct {
	lim             Limits
	open            []xml.Name // the elements not yet closed, outermost first
	elements, roots int
	ns              nsScope
}

// check checks one raw token. An end tag that does not close the open
// element is an *xml.SyntaxError without its line, which read fills in.
func (c *checker) check(tok xml.Token) error {
	switch t := tok.(type) {
	case xml.StartElement:
		c.open = append(c.open, t.Name)
		depth := len(c.open)
		c.elements++
		if depth == 1 {
			c.roots++
			if c.roots > 1 {
				return ErrNotOneRoot
			}
		}
		if depth > c.lim.MaxDepth {
			return fmt.Errorf("%w of %d", ErrTooDeep, c.lim.MaxDepth)
		}
		if c.elements > c.lim.MaxElements {
			return fmt.Errorf("%w of %d", ErrTooManyElems, c.lim.MaxElements)
		}
		if len(t.Attr) > c.lim.MaxAttributes {
			return fmt.Errorf("%w of %d", ErrTooManyAttrs, c.lim.MaxAttributes)
		}
		if err := checkQName(t.Name); err != nil {
			return err
		}
		for _, a := range t.Attr {
			if err := checkQName(a.Name); err != nil {
				return err
			}
		}
		return c.ns.checkAttrs(t.Attr, depth)
	case xml.EndElement:
		depth := len(c.open)
		if depth == 0 || c.open[depth-1] != t.Name {
			return &xml.SyntaxError{Msg: "an end tag does not match the open element"}
		}
		c.ns.end(depth)
		c.open = c.open[:depth-1]
	case xml.Directive:
		return ErrDTD
	case xml.ProcInst:
		// Only the XML declaration, and only before the root element.
		if t.Target != "xml" || c.elements > 0 {
			return fmt.Errorf("%w <?%s?>", ErrProcInst, t.Target)
		}
	case xml.CharData:
		if len(c.open) == 0 && !onlyXMLSpace(t) {
			return ErrTextOutsideDoc
		}
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

// checkQName refuses a name with a colon at its start or end: encoding/xml
// reads it as an unprefixed name with a colon in it, which XML Namespaces
// forbids and etree would split differently from the decoder.
func checkQName(n xml.Name) error {
	if strings.IndexByte(n.Local, ':') >= 0 {
		return fmt.Errorf("%w: %s", ErrNotQName, boundedName(n))
	}
	return nil
}

// builder grows an etree document from checked raw tokens.
type builder struct {
	doc   *etree.Document
	stack []*etree.Element // the document, then the open elements
}

func newBuilder() *builder {
	doc := etree.NewDocument()
	return &builder{doc: doc, stack: append(make([]*etree.Element, 0, 16), &doc.Element)}
}

func (b *builder) add(tok xml.Token) {
	top := b.stack[len(b.stack)-1]
	switch t := tok.(type) {
	case xml.StartElement:
		el := etree.NewElement(t.Name.Local)
		el.Space = t.Name.Space
		el.Attr = make([]etree.Attr, 0, len(t.Attr))
		for _, a := range t.Attr {
			// The checks refused duplicates, so CreateAttr always appends.
			key := a.Name.Local
			if a.Name.Space != "" {
				key = a.Name.Space + ":" + a.Name.Local
			}
			el.CreateAttr(key, a.Value)
		}
		top.AddChild(el)
		b.stack = append(b.stack, el)
	case xml.EndElement:
		b.stack = b.stack[:len(b.stack)-1]
	case xml.CharData:
		// SetData sets the whitespace flag as etree's reader does.
		top.CreateText("").SetData(string(t))
	case xml.Comment:
		top.CreateComment(string(t))
	case xml.ProcInst:
		top.CreateProcInst(t.Target, string(t.Inst))
	}
}
