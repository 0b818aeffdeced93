package soap

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary bytes and content types to Parse. Seeds are the
// envelopes under testdata/requests and, when present, every corpus file.
// Parse must never panic, must fail only with a *Fault, and must return a
// well-formed Envelope when it succeeds.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "requests", "*.xml"))
	goldens, _ := filepath.Glob(filepath.Join("testdata", "golden", "*.xml"))
	seeds = append(seeds, goldens...)
	if dir := findCorpus(); dir != "" {
		corpus, _ := filepath.Glob(filepath.Join(dir, "*.xml"))
		seeds = append(seeds, corpus...)
	}
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
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

// findCorpus is corpusDir without a testing.TB: "" when there is none.
func findCorpus() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		c := filepath.Join(dir, "shared", "corpus")
		if st, err := os.Stat(c); err == nil && st.IsDir() {
			return c
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}
