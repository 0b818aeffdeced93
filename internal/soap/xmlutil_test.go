package soap

import (
	"testing"

	"github.com/beevik/etree"
)

func TestXMLHelpers(t *testing.T) {
	doc := etree.NewDocument()
	if err := doc.ReadFromString(`<r xmlns="urn:d" xmlns:p="urn:p" a="plain" p:a="qualified" xml:lang="en">` +
		`<p:c>  one<!-- split -->two  </p:c><c/><p:c>second</p:c></r>`); err != nil {
		t.Fatal(err)
	}
	r := doc.Root()
	tests := []struct {
		name, got, want string
	}{
		{"unqualified attribute", attr(r, "", "a"), "plain"},
		{"qualified attribute", attr(r, "urn:p", "a"), "qualified"},
		{"xml:lang", attr(r, "http://www.w3.org/XML/1998/namespace", "lang"), "en"},
		{"absent attribute", attr(r, "urn:other", "a"), "<absent>"},
		{"text joined across a comment and collapsed", CollapsedText(ChildElement(r, "urn:p", "c")), "onetwo"},
		{"default namespace child", ChildElement(r, "urn:d", "c").Tag, "c"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, tt.got, tt.want)
		}
	}
	if n := len(ChildElements(r, "urn:p", "c")); n != 2 {
		t.Errorf("ChildElements found %d, want 2", n)
	}
	if IsElement(r, "", "r") || !IsElement(r, "urn:d", "r") || IsElement(nil, "urn:d", "r") {
		t.Error("IsElement does not match on namespace URI")
	}
}

func attr(e *etree.Element, space, local string) string {
	if v, ok := AttrNS(e, space, local); ok {
		return v
	}
	return "<absent>"
}
