package saml

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/soap"
)

// FuzzParse reads arbitrary XML as an assertion. Parse must never panic,
// must fail only with a *soap.Fault, and what it accepts must carry the
// fields every consumer relies on.
func FuzzParse(f *testing.F) {
	golden, _ := filepath.Glob(filepath.Join("testdata", "*.golden.xml"))
	for _, path := range golden {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(fill(min20, `<A:Conditions NotBefore="2026-03-01T12:00:00Z"><A:AudienceRestriction><A:Audience>urn:a</A:Audience></A:AudienceRestriction></A:Conditions>`))
	f.Add(fill(min11, `<Conditions><DoNotCacheCondition/></Conditions>`, `<AttributeStatement><Subject><NameIdentifier>bob</NameIdentifier><SubjectConfirmation><ConfirmationMethod>urn:oasis:names:tc:SAML:1.0:cm:bearer</ConfirmationMethod></SubjectConfirmation></Subject><Attribute AttributeName="a" AttributeNamespace="n"><AttributeValue>v</AttributeValue></Attribute></AttributeStatement>`))

	f.Fuzz(func(t *testing.T, data []byte) {
		doc := etree.NewDocument()
		doc.ReadSettings.MaxDepth = 64
		if err := doc.ReadFromBytes(data); err != nil || doc.Root() == nil {
			return
		}
		a, err := Parse(doc.Root())
		if err != nil {
			var fault *soap.Fault
			if !errors.As(err, &fault) {
				t.Fatalf("Parse returned a non-fault error: %v", err)
			}
			return
		}
		if a.ID == "" || a.Issuer == "" || a.Subject.NameID == "" || a.IssueInstant.IsZero() {
			t.Fatalf("accepted an assertion without ID, Issuer, NameID or IssueInstant: %+v", a)
		}
		if a.Confirmation.Method == HolderOfKey && a.Confirmation.KeyInfo == nil {
			t.Fatal("accepted holder-of-key without a key")
		}
		if len(a.Attributes) > maxAttributes {
			t.Fatalf("accepted %d attributes", len(a.Attributes))
		}
	})
}
