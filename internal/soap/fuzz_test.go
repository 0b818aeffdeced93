package soap

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/trustbroker/trustbroker/internal/testtools"
)

// FuzzParse feeds arbitrary bytes and content types to Parse. Seeds are the
// envelopes under testdata/requests and, when present, every corpus file.
// Parse must never panic, must fail only with a *Fault, and must return a
// well-formed Envelope when it succeeds.
func FuzzParse(f *testing.F) {
	patterns := []string{filepath.Join("testdata", "requests", "*.xml"), filepath.Join("testdata", "golden", "*.xml")}
	if dir := testtools.FindCorpus(f); dir != "" {
		patterns = append(patterns, filepath.Join(dir, "*.xml"))
	}
	for _, b := range testtools.ReadFiles(f, patterns...) {
		f.Add(b, "application/soap+xml; charset=utf-8")
		f.Add(b, "text/xml")
	}
	f.Add([]byte(env12("", pingBody)), "")
	f.Add([]byte(`<!DOCTYPE a [<!ENTITY b "c">]><a>&b;</a>`), "")

	small := Limits{MaxBytes: 64 << 10, MaxDepth: 32, MaxElements: 2000}
	f.Fuzz(func(t *testing.T, data []byte, contentType string) {
		env, err := Parse(data, contentType, small)
		if err != nil {
			f, ok := err.(*Fault)
			if !ok {
				t.Fatalf("error %T is not a *Fault: %v", err, err)
			}
			if f.Reason == "" {
				t.Fatal("fault without a reason")
			}
			return
		}
		if env.Version != V11 && env.Version != V12 {
			t.Fatalf("accepted with version %v", env.Version)
		}
		if env.Body == nil || env.Document == nil {
			t.Fatal("accepted without a Body")
		}
		if strings.Contains(string(data), "<!DOCTYPE") && !strings.Contains(string(data), "<!--") {
			t.Fatal("accepted a DOCTYPE")
		}
		// Everything accepted must be answerable.
		if _, err := NewFaultResponse(env.Version, env.Addressing, "", NewFault(InvalidRequest, "x", nil)).Bytes(); err != nil {
			t.Fatal(err)
		}
	})
}
