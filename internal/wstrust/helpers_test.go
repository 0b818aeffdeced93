package wstrust

import (
	"bytes"
	"errors"
	"flag"
	"testing"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/soap"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/golden")

// parseElement parses an XML fragment and returns its root element.
func parseElement(t testing.TB, data []byte) *etree.Element {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))); err != nil {
		t.Fatalf("parse: %v", err)
	}
	return doc.Root()
}

// mustFault asserts err is a *soap.Fault with the given code and returns it.
func mustFault(t *testing.T, err error, code soap.FaultCode) *soap.Fault {
	t.Helper()
	var f *soap.Fault
	if !errors.As(err, &f) {
		t.Fatalf("error %v (%T) is not a *soap.Fault", err, err)
	}
	if f.Code != code {
		t.Fatalf("fault code = %+v, want %+v (reason %q)", f.Code, code, f.Reason)
	}
	return f
}
