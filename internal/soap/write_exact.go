package soap

import (
	"bytes"
	"unicode/utf8"

	"github.com/beevik/etree"
)

// SerializeExact writes tokens as etree does with ExactWriteSettings, byte
// for byte, but without etree's writer calls and rune decoding per
// character: that took a fifth of the CPU time of a token with an ECDSA
// key. CDATA sections, comments, processing instructions and directives,
// which responses do not have, are written by etree itself.
func SerializeExact(tokens ...etree.Token) []byte {
	var b bytes.Buffer
	b.Grow(8 << 10)
	AppendExact(&b, tokens...)
	return b.Bytes()
}

// AppendExact is SerializeExact into b, for a caller that reuses buffers.
func AppendExact(b *bytes.Buffer, tokens ...etree.Token) {
	s := ExactWriteSettings()
	for _, t := range tokens {
		writeExact(b, t, &s)
	}
}

func writeExact(b *bytes.Buffer, tok etree.Token, s *etree.WriteSettings) {
	switch t := tok.(type) {
	case *etree.Element:
		b.WriteByte('<')
		writeName(b, t.Space, t.Tag)
		for _, a := range t.Attr {
			b.WriteByte(' ')
			writeName(b, a.Space, a.Key)
			b.WriteString(`="`)
			escapeExact(b, a.Value, true)
			b.WriteByte('"')
		}
		if len(t.Child) == 0 {
			b.WriteString("/>")
			return
		}
		b.WriteByte('>')
		for _, c := range t.Child {
			writeExact(b, c, s)
		}
		b.WriteString("</")
		writeName(b, t.Space, t.Tag)
		b.WriteByte('>')
	case *etree.CharData:
		if t.IsCData() {
			t.WriteTo(b, s)
			return
		}
		escapeExact(b, t.Data, false)
	default:
		tok.WriteTo(b, s)
	}
}

func writeName(b *bytes.Buffer, prefix, local string) {
	if prefix != "" {
		b.WriteString(prefix)
		b.WriteByte(':')
	}
	b.WriteString(local)
}

// escapeExact escapes text (attr false) or an attribute value as etree's
// canonical text and attribute modes do: the characters XML would read
// differently become references, and what is not an XML character
// becomes U+FFFD.
func escapeExact(b *bytes.Buffer, s string, attr bool) {
	special := &textSpecial
	if attr {
		special = &attrSpecial
	}
	last := 0
	for i := 0; i < len(s); {
		// Most of a response is base64 and names: skip those bytes fast.
		for i < len(s) && !special[s[i]] {
			i++
		}
		if i == len(s) {
			break
		}
		c := s[i]
		width := 1
		var esc string
		switch {
		case c == '&':
			esc = "&amp;"
		case c == '<':
			esc = "&lt;"
		case c == '>':
			esc = "&gt;"
		case c == '"':
			esc = "&quot;"
		case c == '\t':
			esc = "&#x9;"
		case c == '\n':
			esc = "&#xA;"
		case c == '\r':
			esc = "&#xD;"
		case c < 0x20:
			esc = "\uFFFD"
		default:
			var r rune
			r, width = utf8.DecodeRuneInString(s[i:])
			if (r == utf8.RuneError && width == 1) || !isXMLChar(r) {
				esc = "\uFFFD"
			}
		}
		if esc == "" {
			i += width
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString(esc)
		i += width
		last = i
	}
	b.WriteString(s[last:])
}

// textSpecial and attrSpecial mark the bytes escapeExact must look at in
// text and in attribute values.
var textSpecial, attrSpecial = specialBytes("&<>\r"), specialBytes("&<\"\t\n\r")

func specialBytes(escaped string) (t [256]bool) {
	for c := range 256 {
		t[c] = c >= utf8.RuneSelf || (c < 0x20 && c != '\t' && c != '\n')
	}
	for _, c := range []byte(escaped) {
		t[c] = true
	}
	return t
}
