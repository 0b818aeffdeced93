package soap

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/testtools"
)

// dumpTree writes every token of a tree with what etree records of it: names
// split as etree splits them, attributes in order with the element their
// namespace is resolved from, character data with its flags.
func dumpTree(b *strings.Builder, tok etree.Token, depth int) {
	pad := strings.Repeat(" ", depth)
	switch t := tok.(type) {
	case *etree.Element:
		fmt.Fprintf(b, "%sE %q %q parent=%v index=%d\n", pad, t.Space, t.Tag, t.Parent() != nil, t.Index())
		for _, a := range t.Attr {
			fmt.Fprintf(b, "%s A %q %q %q own=%v\n", pad, a.Space, a.Key, a.Value, a.Element() == t)
		}
		for _, c := range t.Child {
			dumpTree(b, c, depth+1)
		}
	case *etree.CharData:
		fmt.Fprintf(b, "%sT %q ws=%v cdata=%v index=%d\n", pad, t.Data, t.IsWhitespace(), t.IsCData(), t.Index())
	case *etree.Comment:
		fmt.Fprintf(b, "%sC %q\n", pad, t.Data)
	case *etree.ProcInst:
		fmt.Fprintf(b, "%sP %q %q\n", pad, t.Target, t.Inst)
	case *etree.Directive:
		fmt.Fprintf(b, "%sD %q\n", pad, t.Data)
	}
}

func dump(doc *etree.Document) string {
	var b strings.Builder
	for _, c := range doc.Child {
		dumpTree(&b, c, 0)
	}
	return b.String()
}

// TestReadTreeAgreesWithEtree reads every XML document under the
// repository's testdata folders (and the shared corpus when present) with
// ReadTree and with etree's reader: where ReadTree accepts one, both trees
// are the same, token for token.
func TestReadTreeAgreesWithEtree(t *testing.T) {
	n := 0
	for _, p := range testtools.XMLFiles(t) {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		data = bytes.TrimPrefix(data, utf8BOM)
		got, err := ReadTree(data, Limits{MaxBytes: 16 << 20})
		if err != nil {
			continue // a DTD, a processing instruction, ...: not a message
		}
		want := etree.NewDocument()
		if err := want.ReadFromBytes(data); err != nil {
			t.Errorf("%s: ReadTree accepted what etree refuses: %v", p, err)
			continue
		}
		if g, w := dump(got), dump(want); g != w {
			t.Errorf("%s: trees differ:\n got %s\nwant %s", p, g, w)
		}
		n++
	}
	if n < 20 {
		t.Fatalf("only %d documents", n)
	}
}

// TestReadTreeRefusesWhatIsNotOneElement: the checks that etree's reader
// made after the pre-scan are now ReadTree's and Scan's own.
func TestReadTreeRefusesWhatIsNotOneElement(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want error
	}{
		{"an end tag that closes another element", `<a><b></a></b>`, nil},
		{"an end tag in another namespace prefix", `<p:a xmlns:p="urn:p" xmlns:q="urn:p"></q:a>`, nil},
		{"an end tag with no element open", `<a></a></b>`, nil},
		{"an element left open", `<a><b></b>`, nil},
		{"the root left open", `<a>`, nil},
		{"an element name starting with a colon", `<a><:b/></a>`, ErrNotQName},
		{"an element name ending with a colon", `<a><b:/></a>`, ErrNotQName},
		{"an attribute name starting with a colon", `<a :k="v"/>`, ErrNotQName},
		{"an attribute name ending with a colon", `<a k:="v"/>`, ErrNotQName},
		{"two roots", `<a/><b/>`, ErrNotOneRoot},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for name, malformed := range refusedByBoth(t, tt.doc, tt.want) {
				if !strings.Contains(malformed.Error(), "on line 1") {
					t.Errorf("%s: %q does not say where", name, malformed.Error())
				}
			}
		})
	}
}

// refusedByBoth checks that Scan and ReadTree both refuse doc: with want
// when it is set, else as malformed, and then returns each reader's
// *MalformedError.
func refusedByBoth(t *testing.T, doc string, want error) map[string]*MalformedError {
	t.Helper()
	out := map[string]*MalformedError{}
	for name, read := range map[string]func() error{
		"Scan":     func() error { return Scan([]byte(doc), Limits{}) },
		"ReadTree": func() error { _, err := ReadTree([]byte(doc), Limits{}); return err },
	} {
		err := read()
		if err == nil {
			t.Fatalf("%s accepted it", name)
		}
		if want != nil {
			if !errors.Is(err, want) {
				t.Errorf("%s: %v, want %v", name, err, want)
			}
			continue
		}
		var malformed *MalformedError
		if !errors.As(err, &malformed) {
			t.Errorf("%s: %T %v, want a *MalformedError", name, err, err)
			continue
		}
		out[name] = malformed
	}
	return out
}

// TestParseRefusesNamesThatAreNotQualified: such a name parses, but XML
// Namespaces forbids it, and etree would split it differently from the
// decoder: the caller is told which rule it broke, and nothing is quoted.
func TestParseRefusesNamesThatAreNotQualified(t *testing.T) {
	doc := rstDoc{v: V12, header: `<x:H xmlns:x="urn:x" ` + marker + `:="1"/>`}.String()
	_, err := Parse([]byte(doc), "", Limits{})
	f := mustFault(t, err, InvalidRequest)
	if !errors.Is(f, ErrNotQName) || !strings.Contains(f.Reason, "begins or ends with a colon") {
		t.Errorf("fault %v, cause %v", f, f.Cause)
	}
	if strings.Contains(f.Reason, marker) {
		t.Errorf("reason quotes the request: %q", f.Reason)
	}
}

// FuzzReadTree: whatever ReadTree accepts, etree's reader accepts too and
// builds the same tree; what etree refuses, ReadTree refuses.
func FuzzReadTree(f *testing.F) {
	for _, b := range testtools.ReadFiles(f, filepath.Join("testdata", "requests", "*.xml")) {
		f.Add(b)
	}
	for _, s := range []string{`<a><b></a></b>`, `<a :k="v"/>`, `<?xml version="1.0"?><a>x<!--c--><![CDATA[y]]> </a>`, "<a>\r\n</a>\n",
		"<a k=\"1\r\n&#13;\r2\" j='&lt;&#x1F600;'>]]&gt;&#93;]>x</a>", `<été xmlns:ü="urn:u" ü:k="v"><ü:b·c/></été>`,
		`<?xml version='1.0' encoding='UTF-8' standalone='no'?><a/>`, "<a><!----><![CDATA[]]]]><![CDATA[>]]></a >"} {
		f.Add([]byte(s))
	}
	small := Limits{MaxBytes: 64 << 10, MaxDepth: 32, MaxElements: 2000}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ReadTree(data, small)
		want := etree.NewDocument()
		etreeErr := want.ReadFromBytes(data)
		if err != nil {
			return
		}
		if etreeErr != nil {
			t.Fatalf("ReadTree accepted what etree refuses: %v", etreeErr)
		}
		if g, w := dump(got), dump(want); g != w {
			t.Fatalf("trees differ:\n got %s\nwant %s", g, w)
		}
	})
}
