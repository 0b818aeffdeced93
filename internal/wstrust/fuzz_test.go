package wstrust

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/testtools"
)

// FuzzParseRST feeds arbitrary RequestSecurityToken documents to ParseRST.
// Seeds: testdata/rst and, when present, the corpus requests. ParseRST must
// not panic, must fail only with a *soap.Fault, and what it accepts must be
// usable: a known version, a RequestType, bounded sizes, and an RSTR that can
// be built for it.
func FuzzParseRST(f *testing.F) {
	patterns := []string{filepath.Join("testdata", "rst", "*.xml")}
	if dir := testtools.FindCorpus(f); dir != "" {
		patterns = append(patterns, filepath.Join(dir, "*-rst*.xml"), filepath.Join(dir, "cxfsts-unittest-rst13-*.xml"))
	}
	for _, b := range testtools.ReadFiles(f, patterns...) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// Through soap.Parse when it is an envelope, so the limits apply as
		// in the server; else as a bare element under the same limits.
		body := rstElement(data)
		if body == nil {
			return
		}
		r, err := ParseRST(body)
		if err != nil {
			var fault *soap.Fault
			if !errors.As(err, &fault) || fault.Reason == "" {
				t.Fatalf("error is not a fault with a reason: %v", err)
			}
			return
		}
		if r.Version != V13 && r.Version != V2005 {
			t.Fatalf("accepted version %v", r.Version)
		}
		if r.RequestTypeURI == "" || r.RequestType == RequestNone {
			t.Fatal("accepted without a RequestType")
		}
		if r.KeySize < 0 || r.KeySize > maxKeySizeBits {
			t.Fatalf("accepted key size %d", r.KeySize)
		}
		if r.Entropy != nil && len(r.Entropy.BinarySecret) > maxEntropyBytes {
			t.Fatalf("accepted %d bytes of entropy", len(r.Entropy.BinarySecret))
		}
		answer := &RSTR{Version: r.Version, Context: r.Context, TokenType: r.TokenType, AppliesTo: r.AppliesTo,
			RequestType: r.RequestType, KeyType: r.KeyType, KeySize: r.KeySize, Lifetime: r.Lifetime}
		if _, err := answer.Build(); err != nil {
			t.Fatalf("cannot answer an accepted request: %v", err)
		}
	})
}

// rstElement returns the RST candidate in data: the Body child of a SOAP
// envelope, or the root of a bare fragment; nil when data is unusable.
func rstElement(data []byte) *etree.Element {
	if env, err := soap.Parse(data, "", soap.Limits{MaxBytes: 64 << 10}); err == nil {
		return env.Body
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if len(data) > 64<<10 {
		return nil
	}
	doc := etree.NewDocument()
	doc.ReadSettings.MaxDepth = 64
	if err := doc.ReadFromBytes(data); err != nil {
		return nil
	}
	return doc.Root()
}
