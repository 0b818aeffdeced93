// Package browser signs in with a real browser: headless Chromium, driven
// over WebDriver by chromedriver, goes from a relying party's page through
// the STS's WS-Federation passive sign-in and back with a token, which
// xmlsec1 verifies.
package browser

import (
	"crypto/x509"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/saml"
	"github.com/trustbroker/trustbroker/internal/testfixture"
	"github.com/trustbroker/trustbroker/internal/testtools"
	"github.com/trustbroker/trustbroker/internal/xmlsec"
)

const (
	nsTrust2005 = "http://schemas.xmlsoap.org/ws/2005/02/trust"
	nsSAML11    = "urn:oasis:names:tc:SAML:1.0:assertion"
	nsSAML20    = "urn:oasis:names:tc:SAML:2.0:assertion"
)

// signedIn is what the relying party received at its reply URL.
type signedIn struct {
	wa, wresult, wctx string
}

// relyingParty is a small application that sends the browser to the STS
// and takes the token back at /signin.
type relyingParty struct {
	url      string
	received chan signedIn
}

func startRelyingParty(t *testing.T, stsBase string) *relyingParty {
	t.Helper()
	rp := &relyingParty{received: make(chan signedIn, 8)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /app", func(w http.ResponseWriter, r *http.Request) {
		realm := r.URL.Query().Get("realm")
		q := url.Values{"wa": {"wsignin1.0"}, "wtrealm": {realm}, "wreply": {rp.url + "/signin"}, "wctx": {"rm=0&id=" + realm}}
		http.Redirect(w, r, stsBase+"/adfs/ls/?"+q.Encode(), http.StatusFound)
	})
	mux.HandleFunc("POST /signin", func(w http.ResponseWriter, r *http.Request) {
		rp.received <- signedIn{wa: r.PostFormValue("wa"), wresult: r.PostFormValue("wresult"), wctx: r.PostFormValue("wctx")}
		fmt.Fprint(w, "<!doctype html><title>Application</title><h1 id=welcome>Signed in to the application</h1>")
	})
	hs := httptest.NewTLSServer(mux)
	t.Cleanup(hs.Close)
	rp.url = hs.URL
	return rp
}

// manifests register two applications for passive sign-in at the relying
// party's reply URL: one given SAML 1.1 tokens (the default), one SAML 2.0,
// and brand the page with a shared session key.
func manifests(replyURL string) map[string]string {
	return map[string]string{"wsfed.yaml": `apiVersion: sts.trustbroker.io/v1alpha1
kind: RelyingParty
metadata:
  name: wsfed-app
spec:
  stsRef: {name: dev-sts}
  endpoint: urn:example:wsfed-app
  nameID: {format: "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress", attribute: mail}
  attributes:
  - {name: emailaddress, from: mail}
  wsFederation:
    replyURLs: ["` + replyURL + `"]
---
apiVersion: sts.trustbroker.io/v1alpha1
kind: RelyingParty
metadata:
  name: wsfed-app2
spec:
  stsRef: {name: dev-sts}
  endpoint: urn:example:wsfed-app2
  wsFederation:
    replyURLs: ["` + replyURL + `"]
    tokenType: SAML20
---
apiVersion: v1
kind: Secret
metadata:
  name: signin-session
stringData:
  session.key: 0123456789abcdef0123456789abcdef-test-only
`}
}

const brand = `  signInPage:
    title: Example Corp sign-in
    color: "#0a6e4f"
    sessionKeySecretRef: {name: signin-session}
`

func TestPassiveSignInInABrowser(t *testing.T) {
	testtools.Tool(t, "xmlsec1")
	b := startBrowser(t)
	artifacts := artifactsDir(t)

	sts := testfixture.StartSTS(t, nil)
	base, _ := sts.ServeTLS(t)
	rp := startRelyingParty(t, base)
	for name, m := range manifests(rp.url + "/signin") {
		sts.WriteManifest(t, name, m)
	}
	stsYAML, err := os.ReadFile(filepath.Join(sts.Dir, "sts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sts.WriteManifest(t, "sts.yaml", string(stsYAML)+brand)
	if err := sts.Source.Load(); err != nil {
		t.Fatal(err)
	}

	// The application sends the browser to the sign-in page.
	b.open(rp.url + "/app?realm=urn:example:wsfed-app")
	if !strings.HasPrefix(b.url(), base+"/adfs/ls/") || b.text("h1") != "Example Corp sign-in" {
		t.Fatalf("the browser is at %s showing %q, want the branded sign-in page", b.url(), b.text("h1"))
	}
	for css, want := range map[string]string{"#username": "username", "#password": "current-password"} {
		if got := b.attr(css, "autocomplete"); got != want {
			t.Errorf("%s autocomplete=%q, want %q", css, got, want)
		}
	}
	if b.text(`label[for="username"]`) != "User name" || b.text(`label[for="password"]`) != "Password" {
		t.Error("the inputs have no labels")
	}
	b.screenshot(artifacts, "signin-page.png")

	// A wrong password: the form again, with an error that does not say
	// which part was wrong, and no token.
	b.typeInto("#username", "alice")
	b.typeInto("#password", "wrong-password")
	b.click("button[type=submit]")
	b.waitFor("the error", func() bool { return b.text(".error") != "" })
	if msg := b.text(".error"); !strings.Contains(msg, "user name or password is incorrect") {
		t.Errorf("error %q", msg)
	}
	if got := b.attr("#username", "value"); got != "alice" {
		t.Errorf("the user name is not kept: %q", got)
	}
	b.screenshot(artifacts, "signin-wrong-password.png")
	select {
	case got := <-rp.received:
		t.Fatalf("the application received a post after a wrong password: %+v", got)
	default:
	}

	// The right password: back at the application with a SAML 1.1 token.
	formState := b.attr(`input[name="state"]`, "value")
	b.typeInto("#password", "alice-password")
	b.click("button[type=submit]")
	b.waitFor("the application", func() bool { return b.text("#welcome") != "" })
	got := <-rp.received
	if got.wa != "wsignin1.0" || got.wctx != "rm=0&id=urn:example:wsfed-app" {
		t.Errorf("wa %q, wctx %q", got.wa, got.wctx)
	}
	checkToken(t, sts, got.wresult, nsSAML11, "alice@example.com")

	// Single sign-on: another application gets its SAML 2.0 token without
	// the form.
	b.open(rp.url + "/app?realm=urn:example:wsfed-app2")
	b.waitFor("the second application", func() bool { return b.text("#welcome") != "" })
	checkToken(t, sts, (<-rp.received).wresult, nsSAML20, "alice")

	// The successful form posted again from the STS's own origin, with the
	// browser's cookies: refused as used.
	b.open(base + "/adfs/ls/?wa=unknown")
	b.run(`const f = document.createElement('form'); f.method = 'post'; f.action = '/adfs/ls/';
for (const [k, v] of [['state', arguments[0]], ['username', 'alice'], ['password', 'alice-password']]) {
  const i = document.createElement('input'); i.type = 'hidden'; i.name = k; i.value = v; f.appendChild(i);
}
document.body.appendChild(f); f.submit();`, formState)
	b.waitFor("the refusal", func() bool { return strings.Contains(b.text("body"), "already used") })
	select {
	case got := <-rp.received:
		t.Fatalf("a replayed form post reached the application: %+v", got)
	default:
	}

	// An unregistered reply URL: refused with a page that says so, and the
	// browser stays at the STS.
	q := url.Values{"wa": {"wsignin1.0"}, "wtrealm": {"urn:example:wsfed-app"}, "wreply": {"https://evil.example.net/signin"}}
	b.open(base + "/adfs/ls/?" + q.Encode())
	if !strings.HasPrefix(b.url(), base+"/adfs/ls/") || !strings.Contains(b.text("body"), "has not registered") {
		t.Errorf("an unregistered wreply: the browser is at %s showing:\n%s", b.url(), b.text("body"))
	}
	b.screenshot(artifacts, "signin-unregistered-reply.png")

	// Signing out ends single sign-on: the form is shown again.
	b.open(base + "/adfs/ls/?wa=wsignout1.0")
	if !strings.Contains(b.text("body"), "signed out") {
		t.Errorf("sign-out page:\n%s", b.text("body"))
	}
	b.open(rp.url + "/app?realm=urn:example:wsfed-app2")
	if _, ok := b.lookup("#password"); !ok {
		t.Errorf("after signing out the browser is at %s, want the sign-in form", b.url())
	}
}

// checkToken checks that wresult is one WS-Trust 2005 RSTR whose
// RequestedSecurityToken holds, first, a signed assertion of the given
// SAML namespace naming nameID, and that xmlsec1 and the project's own
// verifier verify it with the signing certificate.
func checkToken(t *testing.T, sts *testfixture.STS, wresult, ns, nameID string) {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromString(wresult); err != nil {
		t.Fatalf("wresult is not XML: %v", err)
	}
	root := doc.Root()
	if root.Tag != "RequestSecurityTokenResponse" || root.NamespaceURI() != nsTrust2005 {
		t.Fatalf("wresult is {%s}%s, want a WS-Trust 2005 RSTR", root.NamespaceURI(), root.Tag)
	}
	var rst *etree.Element
	for _, c := range root.ChildElements() {
		if c.Tag == "RequestedSecurityToken" {
			rst = c
		}
	}
	if rst == nil || len(rst.ChildElements()) == 0 {
		t.Fatalf("no RequestedSecurityToken in:\n%s", wresult)
	}
	assertion := rst.ChildElements()[0]
	if assertion.Tag != "Assertion" || assertion.NamespaceURI() != ns {
		t.Fatalf("the token is {%s}%s, want a %s Assertion", assertion.NamespaceURI(), assertion.Tag, ns)
	}
	idName := "ID"
	if ns == nsSAML11 {
		idName = "AssertionID"
	}
	token := testtools.Serialize(t, assertion)
	if err := testtools.XMLSec1Verify(t, sts.CertFile, token, idName+" "+ns+":Assertion"); err != nil {
		t.Fatalf("xmlsec1 does not verify the token: %v\n%s", err, token)
	}
	own := etree.NewDocument()
	if err := own.ReadFromBytes(token); err != nil {
		t.Fatal(err)
	}
	verified, err := xmlsec.Verify(own.Root(), idName, []*x509.Certificate{sts.Signing.Cert}, xmlsec.AlgorithmPolicy{})
	if err != nil {
		t.Fatalf("the project's verifier does not verify the token: %v", err)
	}
	a, err := saml.Parse(verified)
	if err != nil {
		t.Fatal(err)
	}
	if a.Subject.NameID != nameID {
		t.Errorf("the token names %q, want %s", a.Subject.NameID, nameID)
	}
}

// artifactsDir is where screenshots go: $TEST_ARTIFACTS_DIR, else a folder
// under the system's temporary directory; never the source tree.
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("TEST_ARTIFACTS_DIR")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "trustbroker-test-artifacts")
	}
	dir = filepath.Join(dir, "passive-signin")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
