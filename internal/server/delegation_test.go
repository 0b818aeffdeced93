package server_test

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/trustbroker/trustbroker/internal/client"
	"github.com/trustbroker/trustbroker/internal/devkeys"
	"github.com/trustbroker/trustbroker/internal/testfixture"
)

// sampleOnBehalfOf is the sample STS's translation block, which tests that
// need other delegating requestors replace.
const sampleOnBehalfOf = "  onBehalfOf:\n    allowedTokenTypes: [UsernameToken, SAML20, SAML11]\n    allowedRequestors:\n      users: [portal]\n"

// sampleRequestors is the requestor list of sampleOnBehalfOf.
const sampleRequestors = "    allowedRequestors:\n      users: [portal]\n"

// aliceWithoutPassword is the attacker's OnBehalfOf or ActAs token: the name
// of an administrator, with no password.
var aliceWithoutPassword = usernameTokenXML("alice", "")

// delegate puts token in r's OnBehalfOf or ActAs.
func delegate(r client.Request, container, token string) client.Request {
	if container == "ActAs" {
		r.ActAs = token
	} else {
		r.OnBehalfOf = token
	}
	return r
}

// TestDelegationRefusedToUnlistedRequestors: dave, an administrator the
// sample STS does not list in onBehalfOf.allowedRequestors, asks for
// alice's token by naming her, without her password, in OnBehalfOf or
// ActAs: refused with wst:RequestFailed; the log names dave, the fault does
// not quote the request. An anonymous requestor is refused too, even with
// requireAuthenticatedRequestor off.
func TestDelegationRefusedToUnlistedRequestors(t *testing.T) {
	sts := testfixture.StartSTS(t, nil)
	for _, container := range []string{"OnBehalfOf", "ActAs"} {
		t.Run(container, func(t *testing.T) {
			r := delegate(client.Request{Endpoint: sts.URL, Username: "dave", Password: "dave-password", AppliesTo: echoService, Now: time.Now()}, container, aliceWithoutPassword)
			status, body, err := r.Do(http.DefaultClient)
			if err != nil {
				t.Fatal(err)
			}
			expectFault(t, status, body, "1.2", nsTrust13, "RequestFailed", "may not request tokens on behalf of others; list it in spec.onBehalfOf.allowedRequestors")
			if strings.Contains(string(body), "alice") {
				t.Errorf("the fault quotes the request:\n%s", body)
			}
		})
	}
	if logs := sts.Logs.String(); !strings.Contains(logs, `requestor \"dave\"`) && !strings.Contains(logs, `requestor "dave"`) {
		t.Errorf("no log line names the refused requestor:\n%s", logs)
	}

	for _, required := range []string{"true", "false"} {
		t.Run("anonymous, requireAuthenticatedRequestor "+required, func(t *testing.T) {
			anon := testfixture.StartSTS(t, stsManifest(t, sampleRequestors, "    requireAuthenticatedRequestor: "+required+"\n"+sampleRequestors))
			r := client.Request{Endpoint: anon.URL, AppliesTo: echoService, OnBehalfOf: aliceWithoutPassword, Now: time.Now()}
			status, body, err := r.Do(http.DefaultClient)
			if err != nil {
				t.Fatal(err)
			}
			if status == http.StatusOK || strings.Contains(string(body), "Assertion") {
				t.Fatalf("an anonymous requestor got a token:\n%s", body)
			}
		})
	}
}

// TestDelegationByListedRequestors: the sample's service account (listed
// by user name), an administrator when the role is listed, and certificate
// callers listed by subject and by fingerprint (colons, upper case) get
// alice's token through OnBehalfOf and ActAs; a trusted certificate that is
// not listed does not.
func TestDelegationByListedRequestors(t *testing.T) {
	for _, container := range []string{"OnBehalfOf", "ActAs"} {
		t.Run(container, func(t *testing.T) {
			t.Run("user", func(t *testing.T) {
				sts := testfixture.StartSTS(t, nil)
				token := issue(t, sts, delegate(client.Request{Username: "portal", Password: "portal-password", AppliesTo: echoService}, container, aliceWithoutPassword))
				if got := parseToken(t, token).Subject.NameID; got != "alice@example.com" {
					t.Errorf("subject %q, want alice's", got)
				}
			})
			t.Run("role", func(t *testing.T) {
				sts := testfixture.StartSTS(t, stsManifest(t, "      users: [portal]\n", "      roles: [admin]\n"))
				token := issue(t, sts, delegate(client.Request{Username: "dave", Password: "dave-password", AppliesTo: echoService}, container, aliceWithoutPassword))
				if got := parseToken(t, token).Subject.NameID; got != "alice@example.com" {
					t.Errorf("subject %q, want alice's", got)
				}
			})
		})
	}

	bySubject, byFingerprint, unlisted := newCaller(t, "frontend"), newCaller(t, "gateway"), newCaller(t, "stranger")
	sum := sha256.Sum256(byFingerprint.Cert.Raw)
	colons := strings.ToUpper(strings.TrimSuffix(strings.ReplaceAll(fmt.Sprintf("% x", sum[:]), " ", ":"), ":"))
	manifests := certificateSTS(t, "      certificates:\n"+
		"      - subject: 'cn=Frontend, o=trustbroker development'\n"+
		"      - sha256Fingerprint: '"+colons+"'\n", bySubject, byFingerprint, unlisted)
	sts := testfixture.StartSTS(t, manifests)
	for _, container := range []string{"OnBehalfOf", "ActAs"} {
		for name, caller := range map[string]*devkeys.Pair{"certificate subject": bySubject, "certificate fingerprint": byFingerprint} {
			t.Run(container+"/"+name, func(t *testing.T) {
				r := delegate(client.Request{AppliesTo: echoService, SigningKey: caller.Key, SigningCert: caller.Cert}, container, aliceWithoutPassword)
				if got := parseToken(t, issue(t, sts, r)).Subject.NameID; got != "alice@example.com" {
					t.Errorf("subject %q, want alice's", got)
				}
			})
		}
		t.Run(container+"/certificate not listed", func(t *testing.T) {
			r := delegate(client.Request{Endpoint: sts.URL, AppliesTo: echoService, SigningKey: unlisted.Key, SigningCert: unlisted.Cert, Now: time.Now()}, container, aliceWithoutPassword)
			status, body, err := r.Do(http.DefaultClient)
			if err != nil {
				t.Fatal(err)
			}
			expectFault(t, status, body, "1.2", nsTrust13, "RequestFailed", "may not request tokens on behalf of others")
		})
	}
}

func newCaller(t *testing.T, name string) *devkeys.Pair {
	t.Helper()
	pair, err := devkeys.NewRSA(name, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return pair
}

// certificateSTS is the sample STS trusting the callers' certificates, with
// requestors as its onBehalfOf.allowedRequestors entries and no role
// required (certificate callers have none).
func certificateSTS(t *testing.T, requestors string, callers ...*devkeys.Pair) map[string]string {
	t.Helper()
	var pem strings.Builder
	for _, c := range callers {
		pem.WriteString("          " + strings.ReplaceAll(strings.TrimSpace(string(c.CertPEM)), "\n", "\n          ") + "\n")
	}
	m := stsManifest(t, sampleRequestors, "    allowedRequestors:\n"+requestors)
	m["sts.yaml"] = strings.Replace(m["sts.yaml"], "  authentication:\n", "  authentication:\n"+
		"    x509:\n      enabled: true\n      clientCertificates:\n        pem: |\n"+pem.String(), 1)
	m["sts.yaml"] = manifestWithout(t, m["sts.yaml"], "    allowedRoles: [admin]\n")
	return m
}
