package testtools

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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

// XMLSec1Verify checks the enveloped signature of doc with xmlsec1 and the
// PEM certificate in certFile; idAttrs are xmlsec1's --id-attr values
// ("ID urn:...:Assertion"). The error holds what xmlsec1 said.
func XMLSec1Verify(t testing.TB, certFile string, doc []byte, idAttrs ...string) error {
	t.Helper()
	xmlsec1 := Tool(t, "xmlsec1")
	file := filepath.Join(t.TempDir(), "signed.xml")
	if err := os.WriteFile(file, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"--verify", "--pubkey-cert-pem", certFile}
	for _, a := range idAttrs {
		name, node, _ := strings.Cut(a, " ")
		args = append(args, "--id-attr:"+name, node)
	}
	out, err := exec.Command(xmlsec1, append(args, file)...).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("OK")) {
		return fmt.Errorf("xmlsec1 %v: %v\n%s", args, err, out)
	}
	return nil
}
