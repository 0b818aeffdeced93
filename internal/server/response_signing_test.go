package server_test

import (
	"crypto/x509"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trustbroker/trustbroker/internal/client"
	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/testfixture"
	"github.com/trustbroker/trustbroker/internal/testtools"
	"github.com/trustbroker/trustbroker/internal/wssec"
)

// TestSignedResponses signs the RSTR's Body, Timestamp and addressing
// headers with the STS key, naming the certificate each way the resource
// offers; the signature is checked by the STS's own verifier (as a client
// would, pinning the STS certificate) and by xmlsec1.
func TestSignedResponses(t *testing.T) {
	xmlsec1 := testtools.Tool(t, "xmlsec1")
	for _, ref := range []string{"DirectReference", "KeyIdentifier", "IssuerSerial"} {
		t.Run(ref, func(t *testing.T) {
			sts := testfixture.StartSTS(t, stsManifest(t, "  replayDetection:\n",
				"  responseSecurity:\n    signResponse: true\n    signedParts: [Body, Timestamp, Action, RelatesTo]\n    referenceType: "+ref+"\n  replayDetection:\n"))
			body := issueOK(t, sts, client.Request{Username: "alice", Password: "alice-password", AppliesTo: echoService})

			env, err := soap.Parse(body, "application/soap+xml", soap.DefaultLimits())
			if err != nil {
				t.Fatal(err)
			}
			h, err := wssec.ParseHeader(env.Block(wssec.NSSecExt, "Security"))
			if err != nil {
				t.Fatal(err)
			}
			v := &wssec.SignatureVerifier{Trust: wssec.X509Trust{Pinned: []*x509.Certificate{sts.Signing.Cert}}}
			signed, err := v.Verify(env, h, time.Now())
			if err != nil {
				t.Fatalf("the response signature does not verify: %v\n%s", err, body)
			}
			if !signed.Covers(env.Body) || !signed.Covers(h.Timestamp.Element) {
				t.Error("the signature does not cover the Body and the Timestamp")
			}

			file := filepath.Join(t.TempDir(), "response.xml")
			if err := os.WriteFile(file, body, 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(xmlsec1, "--verify", "--pubkey-cert-pem", sts.CertFile,
				"--id-attr:Id", wssec.NSUtility+":Timestamp", "--id-attr:Id", soap.NamespaceSOAP12+":Body",
				"--id-attr:Id", soap.NamespaceWSA10+":Action", "--id-attr:Id", soap.NamespaceWSA10+":RelatesTo", file).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "OK") {
				t.Fatalf("xmlsec1 does not verify the response: %v\n%s", err, out)
			}
		})
	}
}

// TestResponseSignatureKeptOverPlainHTTP: skipSignatureOverTLS leaves out
// the signature only for requests that came over TLS, not plain HTTP.
func TestResponseSignatureKeptOverPlainHTTP(t *testing.T) {
	sts := testfixture.StartSTS(t, stsManifest(t, "  replayDetection:\n",
		"  responseSecurity:\n    signResponse: true\n    skipSignatureOverTLS: true\n  replayDetection:\n"))
	r := client.Request{Endpoint: sts.URL, Username: "alice", Password: "alice-password", AppliesTo: echoService, Now: time.Now()}
	status, body, err := r.Do(http.DefaultClient)
	if err != nil || status != http.StatusOK {
		t.Fatalf("status %d, %v", status, err)
	}
	if !strings.Contains(string(body), "SignatureValue") {
		t.Error("a plain-HTTP response was not signed")
	}
}
