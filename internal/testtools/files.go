package testtools

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FindCorpus returns the shared corpus of real WS-Trust messages, the
// shared/corpus folder beside the repository, or "" when it is absent (for
// fuzz seeds, which use it when it is there).
func FindCorpus(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(RepoRoot(t), "..", "shared", "corpus")
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return ""
	}
	return dir
}

// CorpusDir returns the shared corpus like FindCorpus, skipping the test
// when it is absent.
func CorpusDir(t testing.TB) string {
	t.Helper()
	dir := FindCorpus(t)
	if dir == "" {
		t.Skip("shared/corpus not found beside the repository")
	}
	return dir
}

// ReadCorpus reads one file of the shared corpus, skipping the test when
// there is no corpus.
func ReadCorpus(t testing.TB, name string) []byte {
	t.Helper()
	return readFile(t, filepath.Join(CorpusDir(t), name))
}

// ReadTestdata reads a file under the package's testdata folder.
func ReadTestdata(t testing.TB, name string) []byte {
	t.Helper()
	return readFile(t, filepath.Join("testdata", name))
}

// ReadFiles reads the files matching each pattern (filepath.Glob), pattern
// by pattern, each pattern's files in name order: fuzz seeds.
func ReadFiles(t testing.TB, patterns ...string) [][]byte {
	t.Helper()
	var out [][]byte
	for _, pattern := range patterns {
		paths, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range paths {
			out = append(out, readFile(t, path))
		}
	}
	return out
}

// XMLFiles lists every .xml file under the repository's internal folder
// (the packages' testdata) and, when present, the shared corpus: the
// documents tests compare a reader, writer or canonicaliser on with
// another implementation's. It fails the test when there are fewer than 20.
func XMLFiles(t testing.TB) []string {
	t.Helper()
	var files []string
	for _, dir := range []string{filepath.Join(RepoRoot(t), "internal"), FindCorpus(t)} {
		if dir == "" {
			continue
		}
		_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(p, ".xml") {
				files = append(files, p)
			}
			return nil
		})
	}
	if len(files) < 20 {
		t.Fatalf("only %d XML documents found", len(files))
	}
	return files
}

// Golden compares got with the golden file at path. With update (the
// package's -update flag) it first writes got there, creating the folder.
func Golden(t testing.TB, path string, got []byte, update bool) {
	t.Helper()
	if update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file\n got:\n%s\nwant:\n%s", path, got, want)
	}
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
