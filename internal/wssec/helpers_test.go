package wssec

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/soap"
)

// Namespace declarations for building test headers.
const (
	declWSSE = `xmlns:wsse="` + NSSecExt + `"`
	declWSU  = `xmlns:wsu="` + NSUtility + `"`
)

// security wraps children in a wsse:Security element.
func security(children string) string {
	return `<wsse:Security ` + declWSSE + ` ` + declWSU + `>` + children + `</wsse:Security>`
}

// parseRoot parses a document and returns its root element.
func parseRoot(t testing.TB, doc string) *etree.Element {
	t.Helper()
	d := etree.NewDocument()
	if err := d.ReadFromString(doc); err != nil {
		t.Fatalf("test document does not parse: %v", err)
	}
	if d.Root() == nil {
		t.Fatal("test document has no root")
	}
	return d.Root()
}

// findSecurity returns the wsse:Security element of an envelope (or the
// root, for a header fragment).
func findSecurity(t *testing.T, root *etree.Element) *etree.Element {
	t.Helper()
	if soap.IsElement(root, NSSecExt, "Security") {
		return root
	}
	for _, hdr := range root.ChildElements() {
		if hdr.Tag != "Header" {
			continue
		}
		for _, c := range hdr.ChildElements() {
			if soap.IsElement(c, NSSecExt, "Security") {
				return c
			}
		}
	}
	t.Fatal("no wsse:Security in the test message")
	return nil
}

// wantFault checks that err is a *soap.Fault with the given code and a
// reason containing reasonPart.
func wantFault(t *testing.T, err error, code soap.FaultCode, reasonPart string) {
	t.Helper()
	var f *soap.Fault
	if !errors.As(err, &f) {
		t.Fatalf("error = %v, want a *soap.Fault %s", err, code.Local)
	}
	if f.Code != code {
		t.Errorf("fault code = %s, want %s (reason %q)", f.Code.Local, code.Local, f.Reason)
	}
	if !strings.Contains(f.Reason, reasonPart) {
		t.Errorf("fault reason = %q, want it to contain %q", f.Reason, reasonPart)
	}
}

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// fakeClock is a settable clock for the replay store.
type fakeClock struct {
	now time.Time
}

func (c *fakeClock) Now() time.Time          { return c.now }
func (c *fakeClock) Advance(d time.Duration) { c.now = c.now.Add(d) }
