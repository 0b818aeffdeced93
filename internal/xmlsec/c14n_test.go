package xmlsec

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
	"github.com/russellhaering/goxmldsig/etreeutils"

	"github.com/trustbroker/trustbroker/internal/testtools"
)

// TestExcC14NAgreesWithLibxml2 canonicalises every element of every XML
// document under the repository's testdata folders (and the shared corpus
// of real messages when present), with and without an InclusiveNamespaces
// PrefixList, and compares with libxml2 (through Python's lxml, which the
// zeep client the tests use depends on). goxmldsig, used before, sorts
// attributes of different namespaces wrongly in some documents (the
// corpus's AD FS metadata).
func TestExcC14NAgreesWithLibxml2(t *testing.T) {
	python, err := exec.LookPath("/usr/bin/python3")
	if err != nil || exec.Command(python, "-c", "import lxml").Run() != nil {
		testtools.Missing(t, "python3-lxml (libxml2 canonicalisation) is not installed")
	}
	files := testtools.XMLFiles(t)
	out, err := exec.Command(python, append([]string{filepath.Join("testdata", "excc14n.py")}, files...)...).Output()
	if err != nil {
		t.Fatalf("libxml2's canonical forms: %v", err)
	}
	var want map[string][][][]byte
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatal(err)
	}
	prefixLists := []string{"", "xs xsi", "s wsse"}
	compared := 0
	for _, f := range files {
		doc := etree.NewDocument()
		if err := doc.ReadFromFile(f); err != nil || doc.Root() == nil || want[f] == nil {
			continue // not every file is well-formed on purpose
		}
		elements := inDocumentOrder(doc.Root())
		if len(elements) != len(want[f]) {
			t.Fatalf("%s: %d elements, libxml2 read %d", f, len(elements), len(want[f]))
		}
		for i, el := range elements {
			for j, prefixList := range prefixLists {
				if want[f][i] == nil {
					break
				}
				got, err := excC14N(el, prefixList, nil)
				if err != nil || !bytes.Equal(got, want[f][i][j]) {
					t.Fatalf("%s <%s> PrefixList %q: %v\n got %s\nwant %s", f, el.FullTag(), prefixList, err, got, want[f][i][j])
				}
				compared++
			}
			// Leaving a child out is canonicalising a copy without it.
			if kids := el.ChildElements(); len(kids) > 0 {
				got, err := excC14N(el, "", kids[0])
				copied := el.Copy()
				copied.RemoveChildAt(kids[0].Index())
				el.Parent().InsertChildAt(el.Index(), copied)
				want, werr := excC14N(copied, "", nil)
				el.Parent().RemoveChild(copied)
				if err != nil || werr != nil || !bytes.Equal(got, want) {
					t.Fatalf("%s <%s> without its first child: %v %v\n got %s\nwant %s", f, el.FullTag(), err, werr, got, want)
				}
			}
		}
	}
	t.Logf("%d canonical forms of elements of %d documents agree with libxml2", compared, len(files))
}

func inDocumentOrder(el *etree.Element) []*etree.Element {
	out := []*etree.Element{el}
	for _, c := range el.ChildElements() {
		out = append(out, inDocumentOrder(c)...)
	}
	return out
}

// TestExcC14NEscapesAndNamespaces covers what the documents above may not:
// text and attribute escapes, an undeclared default namespace below a
// declared one, xml: attributes, a namespace used only by an attribute, and
// a prefix used but never declared.
func TestExcC14NEscapesAndNamespaces(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"escapes", "<a b=\"&lt;&amp;&quot;&#9;&#10;&#13;>\">&lt;&amp;&gt;&#13;\"'</a>",
			"<a b=\"&lt;&amp;&quot;&#x9;&#xA;&#xD;>\">&lt;&amp;&gt;&#xD;\"'</a>"},
		{"undeclared default", `<a xmlns="urn:x"><b xmlns=""><c/></b></a>`, `<a xmlns="urn:x"><b xmlns=""><c></c></b></a>`},
		{"attribute order", `<a xmlns:p="urn:p" xmlns:q="urn:a" p:z="1" q:y="2" x="3" xml:lang="en"/>`,
			`<a xmlns:p="urn:p" xmlns:q="urn:a" x="3" xml:lang="en" q:y="2" p:z="1"></a>`},
		{"unused declarations dropped", `<a xmlns:p="urn:p" xmlns:q="urn:q"><p:b/></a>`, `<a><p:b xmlns:p="urn:p"></p:b></a>`},
		{"comments and PIs", `<a><!-- c --><?pi x?>t</a>`, `<a><?pi x?>t</a>`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc := etree.NewDocument()
			if err := doc.ReadFromString(tc.in); err != nil {
				t.Fatal(err)
			}
			got, err := excC14N(doc.Root(), "", nil)
			if err != nil || string(got) != tc.want {
				t.Errorf("got %s, %v\nwant %s", got, err, tc.want)
			}
		})
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromString(`<p:a/>`); err != nil {
		t.Fatal(err)
	}
	if _, err := excC14N(doc.Root(), "", nil); err == nil {
		t.Error("an undeclared prefix was canonicalised")
	}
}

// BenchmarkExcC14N canonicalises a signed request.
func BenchmarkExcC14N(b *testing.B) {
	doc := etree.NewDocument()
	if err := doc.ReadFromFile(filepath.Join(testtools.RepoRoot(b), "internal", "wssec", "testdata", "signed-header.xml")); err != nil {
		b.Skip(err)
	}
	el := doc.Root()
	b.Run("excC14N", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := excC14N(el, "", nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	// What it replaced: goxmldsig's canonicaliser on a copy of the element
	// that declares the namespaces it inherits.
	b.Run("goxmldsig", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ctx, err := etreeutils.NSBuildParentContext(el)
			if err != nil {
				b.Fatal(err)
			}
			work, err := etreeutils.NSDetatch(ctx, el)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("").Canonicalize(work); err != nil {
				b.Fatal(err)
			}
		}
	})
}
