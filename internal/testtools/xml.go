package testtools

import (
	"testing"

	"github.com/beevik/etree"
)

// Serialize returns a copy of el written as a document.
func Serialize(t testing.TB, el *etree.Element) []byte {
	t.Helper()
	doc := etree.NewDocument()
	doc.SetRoot(el.Copy())
	// As soap.ExactWriteSettings (soap's own tests use this package).
	doc.WriteSettings = etree.WriteSettings{CanonicalText: true, CanonicalAttrVal: true}
	b, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
