package soap

import (
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/beevik/etree"
)

// TestReadTreeReadsWhatEtreeReads: documents at the edges of the grammar
// (line ends, references, CDATA, declarations, names beyond ASCII) give the
// tree etree's reader gives.
func TestReadTreeReadsWhatEtreeReads(t *testing.T) {
	tests := []struct{ name, doc string }{
		{"CR LF and lone CR in text, values and CDATA", "<a k=\"1\r\n2\r3\">x\r\ny\rz<![CDATA[c\r\nd]]></a>"},
		{"CR LF kept in a comment", "<a><!-- x\r\ny --></a>"},
		{"character references, decimal and hexadecimal", `<a k="&#65;&#x42;&#x0043;">&#x1F600;&#13;&#10;&#9;</a>`},
		{"a referenced CR is not a line end", "<a>&#13;\n&#xD;\r\n</a>"},
		{"the five predefined entities", `<a k="&lt;&gt;&amp;&apos;&quot;">&lt;&gt;&amp;&apos;&quot;</a>`},
		{"markup characters where they are only text", `<a k="x>y ]]> z" j='"'>x > y</a>`},
		{"whitespace in values kept as written", "<a k=\"\tx\n y \"/>"},
		{"whitespace around = and inside tags", "<a  k = 'v'\n\tj\t=\"w\" ></a >"},
		{"an empty CDATA section and comment", `<a><![CDATA[]]><!----></a>`},
		{"CDATA and text side by side", `<a>x<![CDATA[<y>&amp;]]>z</a>`},
		{"XML declarations as clients write them", `<?xml version='1.0' encoding='utf-8'?><a/>`},
		{"declaration with standalone and spaces", `<?xml version = "1.0"  encoding="UTF-8" standalone="yes" ?>` + "\n<a/>"},
		{"whitespace and comments around the root", "\n<!-- c --> <a/>\r\n<!-- d -->\t"},
		{"names beyond ASCII", `<été xmlns:ü="urn:u" ü:clé="v"><ü:b·c/></été>`},
		{"text beyond ASCII and outside the BMP", "<a k=\"\u00e9\U0001F600\">\u4e2d\U00010348\uFFFD</a>"},
		{"a prefix on the end tag", `<p:a xmlns:p="urn:p"><p:b/></p:a>`},
		{"many attributes", "<a" + manyAttrs(100) + "/>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadTree([]byte(tt.doc), Limits{})
			if err != nil {
				t.Fatalf("ReadTree: %v", err)
			}
			want := etree.NewDocument()
			if err := want.ReadFromString(tt.doc); err != nil {
				t.Fatalf("etree: %v", err)
			}
			if g, w := dump(got), dump(want); g != w {
				t.Errorf("trees differ:\n got %s\nwant %s", g, w)
			}
		})
	}
}

// TestReadTreeRefusesWhatTheDecoderLetThrough: encoding/xml reads these
// although XML 1.0 forbids them; the tokenizer refuses them, as other XML
// processors (xmlsec1's libxml2 among them) do.
func TestReadTreeRefusesWhatTheDecoderLetThrough(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want error // nil: a *MalformedError
	}{
		{"attributes without whitespace between them", `<a k="1"j="2"/>`, nil},
		{"a processing instruction's target run into its content", `<?xml"version"?><a/>`, nil},
		{"a CDATA section outside the root", `<a/><![CDATA[ ]]>`, ErrTextOutsideDoc},
		{"a reference to a surrogate", `<a>&#xD800;</a>`, nil},
		{"a reference to NUL", `<a>&#0;</a>`, nil},
		{"a reference to U+FFFE", `<a k="&#xFFFE;"/>`, nil},
		{"a control character in a comment", "<a><!-- \x01 --></a>", nil},
		{"invalid UTF-8 in a comment", "<a><!-- \xff --></a>", nil},
		{"a control character in a processing instruction", "<?xml \x02?><a/>", nil},
		{"an unknown pseudo-attribute in the declaration", `<?xml version="1.0" charset="utf-8"?><a/>`, nil},
		{"a declaration of XML 1.1", `<?xml version="1.1"?><a/>`, nil},
		{"pseudo-attributes without whitespace", `<?xml version="1.0"encoding="utf-8"?><a/>`, nil},
		{"a declaration with no version", `<?xml?><a/>`, nil},
		{"a declaration with its parts out of order", `<?xml encoding="utf-8" version="1.0"?><a/>`, nil},
		{"a declaration with a part twice", `<?xml version="1.0" version="1.0"?><a/>`, nil},
		{"a declaration after a comment", `<!-- c --><?xml version="1.0"?><a/>`, ErrProcInst},
		{"a declaration after whitespace", "\n<?xml version=\"1.0\"?><a/>", ErrProcInst},
		{"a second declaration", `<?xml version="1.0"?><?xml version="1.0"?><a/>`, ErrProcInst},
		{"a reference to a space outside the root", `&#32;<a/>`, ErrTextOutsideDoc},
		{"a reference to a newline after the root", `<a/>&#xA;`, ErrTextOutsideDoc},
		{"an end tag without a name", `<a></></a>`, nil},
		{"an end tag with a name that is no name", `<a></00></a>`, nil},
		{"more comments than the element limit", "<a>" + strings.Repeat("<!---->", DefaultMaxElements) + "</a>", ErrTooManyElems},
		{"more CDATA sections than the element limit", "<a>" + strings.Repeat("<![CDATA[]]>", DefaultMaxElements) + "</a>", ErrTooManyElems},
		{"a declaration of another encoding", `<?xml version="1.0" encoding="ISO-8859-1"?><a/>`, ErrNotUTF8},
		{"a declaration of UTF-16", `<?xml version="1.0" encoding="UTF-16"?><a/>`, ErrNotUTF8},
		{"a DOCTYPE, refused before it is read", `<!DOCTYPE a [<!ENTITY x "` + strings.Repeat("y", 1000) + `">]><a/>`, ErrDTD},
		{"an unterminated DOCTYPE", `<!DOCTYPE a`, ErrDTD},
		{"an element with too many attributes, refused before its end", "<a" + manyAttrs(DefaultMaxAttributes+1) + ` x="&bogus;`, ErrTooManyAttrs},
		{"a name starting with a digit", `<1a/>`, nil},
		{"a name with two colons", `<a:b:c xmlns:a="urn:a"/>`, nil},
		{"a name with a character names may not have", "<a\u00d7b/>", nil},
		{"an undeclared entity", `<a>&nbsp;</a>`, nil},
		{"a reference without its semicolon", `<a>&amp</a>`, nil},
		{"a character reference with no digits", `<a>&#x;</a>`, nil},
		{"a character reference beyond Unicode", `<a>&#x110000;</a>`, nil},
		{"]]> in text", `<a>x]]>y</a>`, nil},
		{"< in a value", `<a k="<"/>`, nil},
		{"two hyphens in a comment", `<a><!-- x -- y --></a>`, nil},
		{"an unterminated CDATA section", `<a><![CDATA[x</a>`, nil},
		{"an unquoted value", `<a k=v/>`, nil},
		{"a slash not closing the tag", `<a / >`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			refusedByBoth(t, tt.doc, tt.want)
		})
	}
}

// TestMalformedErrorSaysWhere: the line is the one the fault is on, and
// the error quotes nothing of the input.
func TestMalformedErrorSaysWhere(t *testing.T) {
	tests := []struct {
		name, doc string
		line      int
	}{
		{"an undeclared entity", "<a>\n<b k=\"1\">\r\n<c>" + marker + "&" + marker + ";</c></b></a>", 3},
		{"a control character in text", "<a>" + marker + "\n\n" + marker + "\x01</a>", 3},
		{"a control character in a comment", "<a><!--" + marker + "\n\x01--></a>", 2},
		{"a control character in CDATA", "<a>\n<![CDATA[\n\n\x01]]></a>", 4},
		{"a control character in a value", "<a\nk=\"\n\x01\"/>", 3},
		{"a control character in text with a reference", "<a>\n&amp;\n\x01</a>", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadTree([]byte(tt.doc), Limits{})
			var malformed *MalformedError
			if !errors.As(err, &malformed) {
				t.Fatalf("%T %v, want a *MalformedError", err, err)
			}
			if got, want := malformed.Error(), fmt.Sprintf("malformed XML on line %d", tt.line); got != want {
				t.Errorf("error %q, want %q", got, want)
			}
		})
	}
}

// TestNameCharactersAsTheDecoderJudgesThem: for every character of the
// Basic Multilingual Plane and one beyond it, the tokenizer accepts it at
// the start and inside an element name exactly where encoding/xml does.
func TestNameCharactersAsTheDecoderJudgesThem(t *testing.T) {
	decoderReads := func(doc string) bool {
		_, err := xml.NewDecoder(strings.NewReader(doc)).RawToken()
		return err == nil
	}
	for r := rune(0x80); r <= 0x10000; r++ {
		if r >= 0xD800 && r <= 0xDFFF {
			continue // not encodable in UTF-8
		}
		c := string(r)
		if got, want := validName([]byte(c)), decoderReads("<"+c+"/>"); got != want {
			t.Errorf("%U at the start of a name: tokenizer %v, encoding/xml %v", r, got, want)
		}
		if got, want := validName([]byte("a"+c)), decoderReads("<a"+c+"/>"); got != want {
			t.Errorf("%U inside a name: tokenizer %v, encoding/xml %v", r, got, want)
		}
	}
}
