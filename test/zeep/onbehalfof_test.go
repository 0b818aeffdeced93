package zeep

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trustbroker/trustbroker/internal/testtools"
)

// TestZeepOnBehalfOf: zeep, authenticated as alice, a listed delegating
// requestor, asks for a token on behalf of dave by sending dave's
// UsernameToken in wst:OnBehalfOf; the token it receives verifies with
// xmlsec1 and names dave.
func TestZeepOnBehalfOf(t *testing.T) {
	requireZeep(t)
	xmlsec1 := testtools.Tool(t, "xmlsec1")
	sts := startSTS(t)
	manifest, err := os.ReadFile(filepath.Join(sts.Dir, "sts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// alice is the delegating requestor here: list her in place of the
	// sample's service account.
	const listed = "      users: [portal]\n"
	if !bytes.Contains(manifest, []byte(listed)) {
		t.Fatal("the sample sts.yaml lists no allowedRequestors to replace")
	}
	sts.WriteManifest(t, "sts.yaml", strings.Replace(string(manifest), listed, "      users: [alice]\n", 1))
	if err := sts.Source.Load(); err != nil {
		t.Fatal(err)
	}

	token := filepath.Join(t.TempDir(), "dave.xml")
	ut := `<o:UsernameToken xmlns:o="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">` +
		`<o:Username>dave</o:Username><o:Password>dave-password</o:Password></o:UsernameToken>`
	if err := os.WriteFile(token, []byte(ut), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, filepath.Join("testdata", "onbehalfof.py"),
		"--wsdl", sts.URL+"?wsdl", "--port", "Trust13Soap12", "--trust", "13",
		"--username", "alice", "--password", "alice-password", "--applies-to", echoService, "--on-behalf-of", token)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("zeep client failed: %v\n%s%s", err, stderr.String(), stdout.String())
	}
	var got answer
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("zeep client printed no JSON: %v\n%s", err, stdout.String())
	}
	if got.Fault != nil {
		t.Fatalf("the STS answered with a fault: %+v", *got.Fault)
	}
	verifySignature(t, xmlsec1, sts.CertFile, got.Assertion)
	checkAssertion(t, got.Assertion, "dave@example.com")
}
