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
	b, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
