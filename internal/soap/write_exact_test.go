package soap

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/testtools"
)

// etreeExact is what SerializeExact replaced.
func etreeExact(t testing.TB, tokens ...etree.Token) []byte {
	var b bytes.Buffer
	s := ExactWriteSettings()
	for _, tok := range tokens {
		tok.WriteTo(&b, &s)
	}
	return b.Bytes()
}

// TestSerializeExactAgreesWithEtree writes every XML document under the
// repository's testdata folders (and the shared corpus when present) both
// ways.
func TestSerializeExactAgreesWithEtree(t *testing.T) {
	n := 0
	for _, p := range testtools.XMLFiles(t) {
		doc := etree.NewDocument()
		if doc.ReadFromFile(p) != nil {
			continue
		}
		if got, want := SerializeExact(doc.Child...), etreeExact(t, doc.Child...); !bytes.Equal(got, want) {
			t.Errorf("%s:\n got %s\nwant %s", p, got, want)
		}
		n++
	}
	if n < 20 {
		t.Fatalf("only %d documents", n)
	}
}

// FuzzSerializeExact: any text and attribute value, valid UTF-8 or not,
// is written as etree writes it.
func FuzzSerializeExact(f *testing.F) {
	for _, s := range []string{"plain", "a&b<c>d\"e'f", "\t\n\r", "\x00\x01\x1f\x7f", "\xff\xfe", "\uFFFD\uFFFE\U0001F600", "]]>", "é\xc3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		el := etree.NewElement("a:b")
		el.CreateAttr("x", s)
		el.CreateAttr("p:y", s)
		el.SetText(s)
		el.CreateElement("c")
		el.CreateText(s)
		if got, want := SerializeExact(el), etreeExact(t, el); !bytes.Equal(got, want) {
			t.Errorf("%q:\n got %q\nwant %q", s, got, want)
		}
	})
}

// BenchmarkSerializeExact writes a signed response; compare with etree.
func BenchmarkSerializeExact(b *testing.B) {
	doc := etree.NewDocument()
	if err := doc.ReadFromFile(filepath.Join(testtools.RepoRoot(b), "internal", "wssec", "testdata", "signed-header.xml")); err != nil {
		b.Skip(err)
	}
	b.Run("SerializeExact", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			SerializeExact(doc.Child...)
		}
	})
	b.Run("etree", func(b *testing.B) {
		b.ReportAllocs()
		doc.WriteSettings = ExactWriteSettings()
		for b.Loop() {
			if _, err := doc.WriteToBytes(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
