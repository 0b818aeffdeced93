package wstrust

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/soap"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/golden")

// findCorpus returns the shared/corpus folder of the nearest parent of the
// working directory that has one, or "".
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

// readCorpus reads one corpus file, skipping the test when there is no corpus.
func readCorpus(t testing.TB, name string) []byte {
	t.Helper()
	dir := findCorpus()
	if dir == "" {
		t.Skip("shared/corpus not found above the working directory")
	}
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// parseElement parses an XML fragment and returns its root element.
func parseElement(t testing.TB, data []byte) *etree.Element {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))); err != nil {
		t.Fatalf("parse: %v", err)
	}
	return doc.Root()
}

// checkGolden compares got with testdata/golden/name, rewriting it under -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden\n got: %s\nwant: %s", name, got, want)
	}
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
