package msal

import (
	"crypto/tls"
	"crypto/x509"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/testfixture"
	"github.com/trustbroker/trustbroker/internal/testtools"
)

const (
	m365Realm = "urn:federation:MicrosoftOnline"
	m365Reply = "https://login.microsoftonline.com/login.srf"
	saml11    = "urn:oasis:names:tc:SAML:1.0:assertion"
	immutable = "b3Jtr4yJBEuZ3M/W9eQyPA=="
)

// TestMicrosoft365Profile: the sample relying party for a directory
// federated as AD FS federates Microsoft 365 gives the same SAML 1.1 token
// (persistent NameIdentifier from the immutable ID, UPN and ImmutableID
// claims, the domain's issuer URI) to MSAL's usernamemixed request and to a
// browser's passive sign-in, which posts it to the directory's reply URL.
func TestMicrosoft365Profile(t *testing.T) {
	sts, base, ca := start(t)
	sample, err := os.ReadFile(filepath.Join(testtools.RepoRoot(t), "config", "samples", "sts_v1alpha1_relyingparty_m365.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sts.WriteManifest(t, "m365.yaml", strings.Replace(string(sample), "name: example-sts", "name: dev-sts", 1))
	users, err := os.ReadFile(filepath.Join(sts.Dir, "users.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sts.WriteManifest(t, "users.yaml", strings.Replace(string(users), "        mail: alice@example.com\n",
		"        mail: alice@example.com\n        upn: alice@example.com\n        immutableID: \""+immutable+"\"\n", 1))
	if err := sts.Source.Load(); err != nil {
		t.Fatal(err)
	}

	t.Run("active: MSAL usernamemixed", func(t *testing.T) {
		endpoint := base + "/adfs/services/trust/2005/usernamemixed"
		got := runMSALFor(t, ca, "alice", "alice-password", m365Realm, "endpoint", endpoint).Tokens[endpoint]
		if got.Error != "" || got.Type != saml11 {
			t.Fatalf("MSAL got %+v, want a SAML 1.1 token", got)
		}
		checkM365Token(t, sts, []byte(got.Token))
	})
	t.Run("passive: browser sign-in", func(t *testing.T) {
		checkM365Token(t, sts, passiveSignIn(t, base, ca))
	})
}

// passiveSignIn signs alice in at the passive endpoint as a browser does and
// returns the assertion of the wresult posted to the directory.
func passiveSignIn(t *testing.T, base, caFile string) []byte {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	q := url.Values{"wa": {"wsignin1.0"}, "wtrealm": {m365Realm}, "wctx": {"LoginOptions=3"}}
	page := fetch(t, client, http.MethodGet, base+"/adfs/ls/?"+q.Encode(), nil)
	state := regexp.MustCompile(`name="state" value="([^"]+)"`).FindStringSubmatch(page)
	if state == nil {
		t.Fatalf("no sign-in form:\n%s", page)
	}
	post := fetch(t, client, http.MethodPost, base+"/adfs/ls/", url.Values{"state": {html.UnescapeString(state[1])}, "username": {"alice"}, "password": {"alice-password"}})
	if !strings.Contains(post, `action="`+m365Reply+`"`) || !strings.Contains(post, `name="wctx" value="LoginOptions=3"`) {
		t.Fatalf("the token is not posted to %s with wctx:\n%s", m365Reply, post)
	}
	wresult := regexp.MustCompile(`name="wresult" value="([^"]+)"`).FindStringSubmatch(post)
	if wresult == nil {
		t.Fatalf("no wresult:\n%s", post)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromString(html.UnescapeString(wresult[1])); err != nil {
		t.Fatal(err)
	}
	assertion := doc.FindElement("//RequestedSecurityToken/Assertion")
	if assertion == nil {
		t.Fatalf("no assertion in the wresult")
	}
	return testtools.Serialize(t, assertion)
}

func fetch(t *testing.T, c *http.Client, method, u string, form url.Values) string {
	t.Helper()
	var resp *http.Response
	var err error
	if method == http.MethodPost {
		resp, err = c.PostForm(u, form)
	} else {
		resp, err = c.Get(u)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %d\n%s", method, u, resp.StatusCode, data)
	}
	return string(data)
}

// checkM365Token checks what the directory reads in the token, and its
// signature.
func checkM365Token(t *testing.T, sts *testfixture.STS, token []byte) {
	t.Helper()
	if err := testtools.XMLSec1Verify(t, sts.CertFile, token, "AssertionID "+saml11+":Assertion"); err != nil {
		t.Fatalf("the token does not verify: %v", err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(token); err != nil {
		t.Fatal(err)
	}
	a := doc.Root()
	if a.SelectAttrValue("Issuer", "") != "http://example.com/adfs/services/trust/" {
		t.Errorf("Issuer %q, want the relying party's spec.issuer, the domain's IssuerUri", a.SelectAttrValue("Issuer", ""))
	}
	if got := a.FindElement("//Conditions/AudienceRestrictionCondition/Audience"); got == nil || got.Text() != m365Realm {
		t.Errorf("audience %v, want %s", got, m365Realm)
	}
	ids := a.FindElements("//Subject/NameIdentifier")
	if len(ids) == 0 {
		t.Error("the token has no NameIdentifier")
	}
	for _, id := range ids {
		if id.Text() != immutable || id.SelectAttrValue("Format", "") != "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent" {
			t.Errorf("NameIdentifier %q format %q, want the immutable ID, persistent", id.Text(), id.SelectAttrValue("Format", ""))
		}
	}
	want := map[string]string{
		"http://schemas.xmlsoap.org/claims UPN":                              "alice@example.com",
		"http://schemas.microsoft.com/LiveID/Federation/2008/05 ImmutableID": immutable,
	}
	for _, at := range a.FindElements("//AttributeStatement/Attribute") {
		key := at.SelectAttrValue("AttributeNamespace", "") + " " + at.SelectAttrValue("AttributeName", "")
		if v, ok := want[key]; ok && at.FindElement("AttributeValue") != nil && at.FindElement("AttributeValue").Text() == v {
			delete(want, key)
		}
	}
	if len(want) > 0 {
		t.Errorf("the token lacks %v", want)
	}
}
