package soap

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"unicode/utf8"
)

// tokenizer splits a document held in memory into the raw tokens of XML 1.0:
// tags with their names unresolved, character data, comments and processing
// instructions. It reads what encoding/xml's strict decoder reads and makes
// the same tokens of it (FuzzReadTree holds the two together), working on
// the bytes in place rather than one io.ByteReader call per byte: it is the
// reader of every request, and the decoder was a fifth of the cost of a
// token beside its signature.
//
// Where the decoder lets through what XML 1.0 forbids, the tokenizer refuses:
// attributes not separated by whitespace, a processing instruction's target
// run into its content, characters XML does not allow in comments and
// processing instructions, character references to surrogates, and XML
// declarations other than version, then encoding and standalone if given.
// (The checks in read.go refuse more: a declaration that is not at the very
// start, text and references outside the root.) Any "<!" other than a
// comment or a CDATA section is ErrDTD as soon as it is seen, and an element
// with more than maxAttrs attributes is ErrTooManyAttrs before the rest of
// its tag is read.
type tokenizer struct {
	in       []byte
	pos      int
	maxAttrs int
	// values asks for every attribute's value as a string; without it only
	// namespace declarations carry theirs (the checks need no others).
	values bool

	tok        token
	attrs      []rawAttr // the backing array of tok.attrs, reused tag after tag
	scratch    []byte    // decoded text and values of the current token
	pendingEnd []byte    // the name of a self-closing tag whose end is yet to come
}

type tokenKind uint8

const (
	tokenEOF tokenKind = iota
	tokenStart
	tokenEnd
	tokenText
	tokenComment
	tokenProcInst
)

// token is the tokenizer's current token. Its byte slices point into the
// input or the tokenizer's scratch space and are valid until the next one.
type token struct {
	kind tokenKind
	// qname is a start tag's name as written, and name the same split at its
	// colon as the decoder splits it (a leading or trailing colon stays in
	// Local). A processing instruction's target is in qname.
	qname string
	name  xml.Name
	attrs []rawAttr
	// end is an end tag's name as written.
	end []byte
	// data is character data with references replaced and line ends
	// normalised, or the content of a comment or processing instruction.
	data  []byte
	cdata bool
	// referenced says text had a character or entity reference, which
	// XML allows only inside the root element.
	referenced bool
}

// rawAttr is an attribute with its name as written; Value is empty unless the
// tokenizer was asked for values or the attribute declares a namespace.
type rawAttr struct {
	qname string
	xml.Attr
}

var (
	cdataOpen    = []byte("<![CDATA[")
	cdataClose   = []byte("]]>")
	commentClose = []byte("--")
	piClose      = []byte("?>")
)

func newTokenizer(in []byte, maxAttrs int, values bool) *tokenizer {
	return &tokenizer{in: in, maxAttrs: maxAttrs, values: values}
}

// next reads the next token into z.tok; at the end of the input its kind is
// tokenEOF. Errors of form are *xml.SyntaxError with the line they are on.
func (z *tokenizer) next() error {
	z.scratch = z.scratch[:0]
	z.tok = token{attrs: z.attrs[:0]}
	if z.pendingEnd != nil {
		z.tok.kind, z.tok.end, z.pendingEnd = tokenEnd, z.pendingEnd, nil
		return nil
	}
	if z.pos >= len(z.in) {
		z.tok.kind = tokenEOF
		return nil
	}
	if z.in[z.pos] != '<' {
		return z.text()
	}
	if z.pos+1 >= len(z.in) {
		return z.unexpectedEOF()
	}
	switch z.in[z.pos+1] {
	case '/':
		return z.endTag()
	case '?':
		return z.procInst()
	case '!':
		return z.markupDeclaration()
	}
	return z.startTag()
}

func (z *tokenizer) syntaxError(msg string) error {
	return &xml.SyntaxError{Msg: msg, Line: z.line()}
}

// line is the line the tokenizer has reached, counted when an error needs it.
func (z *tokenizer) line() int {
	return 1 + bytes.Count(z.in[:z.pos], []byte{'\n'})
}

func (z *tokenizer) unexpectedEOF() error {
	z.pos = len(z.in)
	return z.syntaxError("unexpected EOF")
}

// text reads character data up to the next tag.
func (z *tokenizer) text() error {
	end := bytes.IndexByte(z.in[z.pos:], '<')
	if end < 0 {
		end = len(z.in)
	} else {
		end += z.pos
	}
	raw := z.in[z.pos:end]
	if i := bytes.Index(raw, cdataClose); i >= 0 {
		z.pos += i
		return z.syntaxError("unescaped ]]> not in CDATA section")
	}
	data, err := z.decode(raw, z.pos, true)
	if err != nil {
		return err
	}
	z.pos = end
	z.tok.kind, z.tok.data, z.tok.referenced = tokenText, data, bytes.IndexByte(raw, '&') >= 0
	return nil
}

// markupDeclaration reads a comment or a CDATA section; anything else that
// begins with "<!" declares a DTD, an entity or the like, and is refused
// unread.
func (z *tokenizer) markupDeclaration() error {
	rest := z.in[z.pos:]
	switch {
	case bytes.HasPrefix(rest, []byte("<!--")):
		return z.comment()
	case bytes.HasPrefix(rest, cdataOpen):
		return z.cdata()
	case len(rest) < len(cdataOpen) && bytes.HasPrefix(cdataOpen, rest), len(rest) < 4 && bytes.HasPrefix([]byte("<!--"), rest):
		return z.unexpectedEOF()
	case bytes.HasPrefix(rest, []byte("<![")):
		return z.syntaxError("invalid <![ sequence")
	case bytes.HasPrefix(rest, []byte("<!-")):
		return z.syntaxError("invalid sequence <!- not part of <!--")
	}
	return ErrDTD
}

// comment reads <!-- ... -->; "--" may only end it.
func (z *tokenizer) comment() error {
	start := z.pos + len("<!--")
	i := bytes.Index(z.in[start:], commentClose)
	if i < 0 || start+i+2 >= len(z.in) {
		return z.unexpectedEOF()
	}
	if z.in[start+i+2] != '>' {
		z.pos = start + i
		return z.syntaxError(`invalid sequence "--" not allowed in comments`)
	}
	data := z.in[start : start+i]
	if err := z.checkChars(data, start); err != nil {
		return err
	}
	z.pos = start + i + len("-->")
	z.tok.kind, z.tok.data = tokenComment, data
	return nil
}

// cdata reads <![CDATA[ ... ]]>: text with line ends normalised and
// nothing else replaced.
func (z *tokenizer) cdata() error {
	start := z.pos + len(cdataOpen)
	i := bytes.Index(z.in[start:], cdataClose)
	if i < 0 {
		z.pos = len(z.in)
		return z.syntaxError("unexpected EOF in CDATA section")
	}
	data, err := z.decode(z.in[start:start+i], start, false)
	if err != nil {
		return err
	}
	z.pos = start + i + len(cdataClose)
	z.tok.kind, z.tok.data, z.tok.cdata = tokenText, data, true
	return nil
}

// procInst reads <?target content?>. The XML declaration's pseudo-attributes
// are checked: only XML 1.0 in UTF-8 is read.
func (z *tokenizer) procInst() error {
	z.pos += len("<?")
	target, err := z.name("expected target name after <?")
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(z.in[z.pos:], piClose) && !z.skipSpace() {
		return z.syntaxError("expected whitespace after a processing instruction's target")
	}
	i := bytes.Index(z.in[z.pos:], piClose)
	if i < 0 {
		return z.unexpectedEOF()
	}
	data := z.in[z.pos : z.pos+i]
	if err := z.checkChars(data, z.pos); err != nil {
		return err
	}
	if string(target) == "xml" {
		if err := z.checkDeclaration(data); err != nil {
			return err
		}
	}
	z.pos += i + len(piClose)
	z.tok.kind, z.tok.qname, z.tok.data = tokenProcInst, string(target), data
	return nil
}

// endTag reads </name>. The checks compare the name with the open
// element's as written; it is judged here all the same, so that the
// tokenizer alone reads no more than the decoder.
func (z *tokenizer) endTag() error {
	z.pos += len("</")
	name, err := z.name("expected element name after </")
	if err != nil {
		return err
	}
	if bytes.Count(name, []byte{':'}) > 1 {
		return z.syntaxError("expected element name after </")
	}
	z.skipSpace()
	if z.pos >= len(z.in) {
		return z.unexpectedEOF()
	}
	if z.in[z.pos] != '>' {
		return z.syntaxError("invalid characters in an end tag")
	}
	z.pos++
	z.tok.kind, z.tok.end = tokenEnd, name
	return nil
}

// startTag reads <name attr="value" ...> or <name .../>; the end half of a
// self-closing tag is the next token.
func (z *tokenizer) startTag() error {
	z.pos++
	start := z.pos
	qname, name, err := z.qualifiedName("expected element name after <")
	if err != nil {
		return err
	}
	attrs := z.attrs[:0]
	for {
		spaced := z.skipSpace()
		if z.pos >= len(z.in) {
			return z.unexpectedEOF()
		}
		c := z.in[z.pos]
		if c == '>' {
			z.pos++
			break
		}
		if c == '/' {
			if z.pos+1 >= len(z.in) {
				return z.unexpectedEOF()
			}
			if z.in[z.pos+1] != '>' {
				return z.syntaxError("expected /> in element")
			}
			z.pos += 2
			z.pendingEnd = z.in[start : start+len(qname)]
			break
		}
		if !spaced {
			return z.syntaxError("expected whitespace before an attribute")
		}
		if len(attrs) == z.maxAttrs {
			return fmt.Errorf("%w of %d", ErrTooManyAttrs, z.maxAttrs)
		}
		a, err := z.attribute()
		if err != nil {
			return err
		}
		attrs = append(attrs, a)
	}
	z.attrs = attrs
	z.tok.kind, z.tok.qname, z.tok.name, z.tok.attrs = tokenStart, qname, name, attrs
	return nil
}

// attribute reads name="value" or name='value'.
func (z *tokenizer) attribute() (rawAttr, error) {
	qname, name, err := z.qualifiedName("expected attribute name in element")
	if err != nil {
		return rawAttr{}, err
	}
	z.skipSpace()
	if z.pos >= len(z.in) {
		return rawAttr{}, z.unexpectedEOF()
	}
	if z.in[z.pos] != '=' {
		return rawAttr{}, z.syntaxError("attribute name without = in element")
	}
	z.pos++
	z.skipSpace()
	if z.pos >= len(z.in) {
		return rawAttr{}, z.unexpectedEOF()
	}
	quote := z.in[z.pos]
	if quote != '"' && quote != '\'' {
		return rawAttr{}, z.syntaxError("unquoted or missing attribute value in element")
	}
	z.pos++
	end := bytes.IndexByte(z.in[z.pos:], quote)
	if end < 0 {
		return rawAttr{}, z.unexpectedEOF()
	}
	raw := z.in[z.pos : z.pos+end]
	if i := bytes.IndexByte(raw, '<'); i >= 0 {
		z.pos += i
		return rawAttr{}, z.syntaxError("unescaped < inside quoted string")
	}
	value, err := z.decode(raw, z.pos, true)
	if err != nil {
		return rawAttr{}, err
	}
	z.pos += end + 1
	a := rawAttr{qname: qname, Attr: xml.Attr{Name: name}}
	if z.values || name.Space == "xmlns" || (name.Space == "" && name.Local == "xmlns") {
		a.Value = string(value)
	}
	return a, nil
}

// qualifiedName reads a name with at most one colon, and splits it there
// when the colon has a part on each side. missing is the error for no name.
func (z *tokenizer) qualifiedName(missing string) (string, xml.Name, error) {
	raw, err := z.name(missing)
	if err != nil {
		return "", xml.Name{}, err
	}
	colon := bytes.IndexByte(raw, ':')
	if colon >= 0 && bytes.IndexByte(raw[colon+1:], ':') >= 0 {
		return "", xml.Name{}, z.syntaxError(missing)
	}
	s := string(raw)
	if colon <= 0 || colon == len(s)-1 {
		return s, xml.Name{Local: s}, nil
	}
	return s, xml.Name{Space: s[:colon], Local: s[colon+1:]}, nil
}

// name reads an XML name, unsplit; missing is the error for no name at all.
func (z *tokenizer) name(missing string) ([]byte, error) {
	raw, err := z.nameRun()
	if err != nil {
		return nil, err
	}
	if len(raw) == 0 {
		return nil, z.syntaxError(missing)
	}
	if !validName(raw) {
		return nil, z.syntaxError("invalid XML name")
	}
	return raw, nil
}

// nameRun reads the bytes that may make up a name: ASCII name characters
// and any non-ASCII byte, which validName judges. The input may not end in
// a name: something must follow it.
func (z *tokenizer) nameRun() ([]byte, error) {
	start := z.pos
	for z.pos < len(z.in) && (z.in[z.pos] >= utf8.RuneSelf || isNameByte(z.in[z.pos])) {
		z.pos++
	}
	if z.pos >= len(z.in) {
		return nil, z.unexpectedEOF()
	}
	return z.in[start:z.pos], nil
}

// skipSpace moves past XML whitespace and reports whether there was any.
func (z *tokenizer) skipSpace() bool {
	start := z.pos
	for z.pos < len(z.in) && isXMLSpace(z.in[z.pos]) {
		z.pos++
	}
	return z.pos > start
}

// decode returns raw, the input from offset at, with line ends normalised
// (CR LF and a lone CR become LF) and, when refs is set, character and
// entity references replaced. It returns raw itself when there is nothing to
// replace, so that most text is never copied. raw must consist of
// characters XML allows, and so must every reference.
func (z *tokenizer) decode(raw []byte, at int, refs bool) ([]byte, error) {
	if err := z.checkChars(raw, at); err != nil {
		return nil, err
	}
	if bytes.IndexByte(raw, '\r') < 0 && (!refs || bytes.IndexByte(raw, '&') < 0) {
		return raw, nil
	}
	from := len(z.scratch)
	out := z.scratch
	for i := 0; i < len(raw); {
		switch c := raw[i]; {
		case c == '\r':
			out = append(out, '\n')
			i++
			if i < len(raw) && raw[i] == '\n' {
				i++
			}
		case c == '&' && refs:
			r, n, err := reference(raw[i:])
			if err != nil {
				z.pos = at + i
				return nil, z.syntaxError(err.Error())
			}
			out = utf8.AppendRune(out, r)
			i += n
		default:
			j := i + 1
			for j < len(raw) && raw[j] != '\r' && (raw[j] != '&' || !refs) {
				j++
			}
			out = append(out, raw[i:j]...)
			i = j
		}
	}
	z.scratch = out
	return out[from:], nil
}

// checkChars refuses bytes that are not UTF-8 or encode a character XML
// does not allow (control characters, U+FFFE, U+FFFF); data is the input
// from offset at, where the error says it is.
func (z *tokenizer) checkChars(data []byte, at int) error {
	for i := 0; i < len(data); {
		c := data[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
				z.pos = at + i
				return z.syntaxError(fmt.Sprintf("illegal character code %U", rune(c)))
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size == 1 {
			z.pos = at + i
			return z.syntaxError("invalid UTF-8")
		}
		if !isXMLChar(r) {
			z.pos = at + i
			return z.syntaxError(fmt.Sprintf("illegal character code %U", r))
		}
		i += size
	}
	return nil
}

// declarationParts are the pseudo-attributes of an XML declaration, in the
// only order XML allows them; version is required.
var declarationParts = [...]string{"version", "encoding", "standalone"}

// checkDeclaration reads the pseudo-attributes of an XML declaration: a
// version other than 1.0 and an encoding other than UTF-8 are refused, since
// the bytes are read as UTF-8 whatever they say.
func (z *tokenizer) checkDeclaration(content []byte) error {
	malformed := z.syntaxError("malformed XML declaration")
	rest := bytes.TrimLeft(content, " \t\r\n")
	next := 0 // the first of declarationParts that may come
	for len(rest) > 0 {
		eq := bytes.IndexByte(rest, '=')
		if eq < 0 {
			return malformed
		}
		part := slices.Index(declarationParts[next:], string(bytes.TrimRight(rest[:eq], " \t\r\n")))
		if part < 0 || next == 0 && part != 0 {
			return malformed
		}
		next += part + 1
		rest = bytes.TrimLeft(rest[eq+1:], " \t\r\n")
		if len(rest) == 0 || (rest[0] != '"' && rest[0] != '\'') {
			return malformed
		}
		end := bytes.IndexByte(rest[1:], rest[0])
		if end < 0 {
			return malformed
		}
		value := string(rest[1 : 1+end])
		rest = rest[2+end:]
		switch declarationParts[next-1] {
		case "version":
			if value != "1.0" {
				return z.syntaxError("unsupported XML version: only 1.0 is read")
			}
		case "encoding":
			if !strings.EqualFold(value, "utf-8") {
				return ErrNotUTF8
			}
		case "standalone":
			if value != "yes" && value != "no" {
				return malformed
			}
		}
		trimmed := bytes.TrimLeft(rest, " \t\r\n")
		if len(trimmed) == len(rest) && len(rest) > 0 {
			return malformed
		}
		rest = trimmed
	}
	if next == 0 {
		return malformed
	}
	return nil
}

// reference decodes the character or entity reference at the start of raw
// ("&#65;", "&#x41;", "&amp;", ...) and returns its length. Only the five
// predefined entities exist: a document cannot declare others.
func reference(raw []byte) (rune, int, error) {
	if len(raw) > 1 && raw[1] == '#' {
		return charReference(raw)
	}
	for _, e := range predefinedEntities {
		if bytes.HasPrefix(raw[1:], []byte(e.name)) {
			return e.r, 1 + len(e.name), nil
		}
	}
	return 0, 0, fmt.Errorf("invalid character entity")
}

var predefinedEntities = [...]struct {
	name string
	r    rune
}{{"lt;", '<'}, {"gt;", '>'}, {"amp;", '&'}, {"apos;", '\''}, {"quot;", '"'}}

// charReference decodes &#decimal; or &#xhex; to a character XML allows.
func charReference(raw []byte) (rune, int, error) {
	i, base := 2, rune(10)
	if len(raw) > 2 && raw[2] == 'x' {
		i, base = 3, 16
	}
	var r rune
	start := i
	for ; i < len(raw); i++ {
		d := digitValue(raw[i])
		if d >= base {
			break
		}
		r = r*base + d
		if r > utf8.MaxRune {
			return 0, 0, fmt.Errorf("invalid character reference")
		}
	}
	if i == start || i == len(raw) || raw[i] != ';' || !isXMLChar(r) {
		return 0, 0, fmt.Errorf("invalid character reference")
	}
	return r, i + 1, nil
}

// digitValue is the value of a hexadecimal digit, 16 for anything else.
func digitValue(c byte) rune {
	switch {
	case '0' <= c && c <= '9':
		return rune(c - '0')
	case 'a' <= c && c <= 'f':
		return rune(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return rune(c-'A') + 10
	}
	return 16
}

// isXMLChar reports whether r is a character XML 1.0 allows (its Char
// production).
func isXMLChar(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' ||
		0x20 <= r && r <= 0xD7FF ||
		0xE000 <= r && r <= 0xFFFD ||
		0x10000 <= r && r <= utf8.MaxRune
}

func isXMLSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r'
}

// isNameByte reports whether c is an ASCII character that may appear in a
// name.
func isNameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '_' || c == ':' || c == '.' || c == '-'
}

// validName reports whether raw, a run of name bytes, is an XML name as
// encoding/xml judges names: ASCII by the rules below, other characters by
// nameRuneClass.
func validName(raw []byte) bool {
	for i := 0; i < len(raw); {
		c := raw[i]
		first := i == 0
		if c < utf8.RuneSelf {
			if first && ('0' <= c && c <= '9' || c == '.' || c == '-') {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(raw[i:])
		if r == utf8.RuneError && size == 1 {
			return false
		}
		class := nameRuneClass(r)
		if first && class&runeStartsName == 0 || class&runeInName == 0 {
			return false
		}
		i += size
	}
	return true
}

// nameRunes caches what encoding/xml says of each character of the Basic
// Multilingual Plane in a name, four bits a character (runeKnown, ...), so
// that its tables (XML 1.0 Appendix B, which it keeps to itself) are asked
// once per character a process meets, not once per name a sender writes.
var nameRunes [0x10000 / 8]atomic.Uint32

const (
	runeKnown = 1 << iota
	runeStartsName
	runeInName
)

// nameRuneClass returns r's bits: whether it may start a name, and whether
// it may appear in one.
func nameRuneClass(r rune) uint32 {
	if r > 0xFFFF {
		return runeKnown // Appendix B names no character beyond the BMP
	}
	word, shift := &nameRunes[r/8], uint(r%8)*4
	if class := word.Load() >> shift & 0xF; class&runeKnown != 0 {
		return class
	}
	class := uint32(runeKnown)
	switch {
	case decoderAcceptsName(string(r)):
		class |= runeStartsName | runeInName
	case decoderAcceptsName("a" + string(r)):
		class |= runeInName
	}
	word.Or(class << shift)
	return class
}

// decoderAcceptsName asks encoding/xml whether name is a name, as the
// target of a processing instruction (which it checks and does not split).
func decoderAcceptsName(name string) bool {
	tok, err := xml.NewDecoder(strings.NewReader("<?" + name + "?>")).RawToken()
	pi, ok := tok.(xml.ProcInst)
	return err == nil && ok && pi.Target == name
}
