package server_test

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/client"
	"github.com/trustbroker/trustbroker/internal/saml"
	"github.com/trustbroker/trustbroker/internal/testfixture"
	"github.com/trustbroker/trustbroker/internal/testtools"
)

const (
	echoService = "https://localhost:9444/services/echo"
	nsSecExt    = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
	nsTrust13   = "http://docs.oasis-open.org/ws-sx/ws-trust/200512"
	nsTrust2005 = "http://schemas.xmlsoap.org/ws/2005/02/trust"
)

// TestIssueTokens asks for tokens the ways clients do and checks each with
// the independent verifiers a relying party would use.
func TestIssueTokens(t *testing.T) {
	sts := testfixture.StartSTS(t, nil)
	cases := []struct {
		name      string
		req       client.Request
		version   saml.Version
		nameID    string
		audience  string
		tokenType string
	}{
		{"SOAP 1.2, WS-Trust 1.3, SAML 2.0 by default", client.Request{Username: "alice", Password: "alice-password", AppliesTo: echoService},
			saml.SAML20, "alice@example.com", echoService, "urn:oasis:names:tc:SAML:2.0:assertion"},
		{"SOAP 1.1, WS-Trust 2005, SAML 1.1 by default", client.Request{Username: "alice", Password: "alice-password", AppliesTo: "urn:example:portal", SOAP: "1.1", Trust: "2005"},
			saml.SAML11, "alice", "urn:example:portal", "urn:oasis:names:tc:SAML:1.0:assertion"},
		{"SAML 1.1 asked for a SAML 2.0 relying party", client.Request{Username: "alice", Password: "alice-password", AppliesTo: echoService, TokenType: "saml1"},
			saml.SAML11, "alice@example.com", echoService, "urn:oasis:names:tc:SAML:1.0:assertion"},
		{"PasswordDigest", client.Request{Username: "dave", Password: "dave-password", Digest: true, AppliesTo: echoService, TokenType: "saml2"},
			saml.SAML20, "dave@example.com", echoService, "urn:oasis:names:tc:SAML:2.0:assertion"},
		{"prefix match", client.Request{Username: "alice", Password: "alice-password", AppliesTo: "urn:example:portal/reports"},
			saml.SAML11, "alice", "urn:example:portal", "urn:oasis:names:tc:SAML:1.0:assertion"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.Endpoint, tc.req.Now = sts.URL, time.Now()
			status, body, err := tc.req.Do(http.DefaultClient)
			if err != nil {
				t.Fatal(err)
			}
			if status != http.StatusOK {
				t.Fatalf("status %d:\n%s", status, body)
			}
			rstr := parse(t, body)
			if got := rstr.FindElement("//TokenType").Text(); got != tc.tokenType {
				t.Errorf("RSTR TokenType = %q, want %q", got, tc.tokenType)
			}
			token, err := client.Token(body)
			if err != nil {
				t.Fatal(err)
			}
			verifyWithXmlsec1(t, sts.CertFile, token, tc.version)
			verifyWithSamlsign(t, sts.CertFile, token)

			a, err := saml.Parse(parse(t, []byte(token)).Root())
			if err != nil {
				t.Fatal(err)
			}
			if a.Version != tc.version || a.Subject.NameID != tc.nameID || !slices.Equal(a.Audiences, []string{tc.audience}) {
				t.Errorf("assertion: version %v, NameID %q, audiences %v; want %v, %q, [%s]", a.Version, a.Subject.NameID, a.Audiences, tc.version, tc.nameID, tc.audience)
			}
			if a.Confirmation.Method != saml.Bearer || a.Authn == nil || saml.AuthnKindOf(a.Authn.Method) != saml.AuthnPassword {
				t.Errorf("confirmation %v, authn %+v; want bearer and a password authentication", a.Confirmation.Method, a.Authn)
			}
			if life := a.NotOnOrAfter.Sub(a.NotBefore); life != time.Hour {
				t.Errorf("token lifetime %v, want the STS's 1h", life)
			}
		})
	}
}

// TestAttributesAndMemberships checks the relying party's attribute mapping.
func TestAttributesAndMemberships(t *testing.T) {
	sts := testfixture.StartSTS(t, nil)
	token := issue(t, sts, client.Request{Username: "alice", Password: "alice-password", AppliesTo: echoService})
	a, err := saml.Parse(parse(t, []byte(token)).Root())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, attr := range a.Attributes {
		got[attr.Name] = attr.Values
	}
	want := map[string][]string{
		"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress": {"alice@example.com"},
		"department": {"engineering", "security"},
		"http://schemas.microsoft.com/ws/2008/06/identity/claims/role": {"admin"},
	}
	for name, values := range want {
		if !slices.Equal(got[name], values) {
			t.Errorf("attribute %s = %v, want %v", name, got[name], values)
		}
	}
}

// TestRefusals checks that each bad request gets its own fault, in the
// SOAP version it was asked in, and no token.
func TestRefusals(t *testing.T) {
	sts := testfixture.StartSTS(t, nil)
	ok := client.Request{Username: "alice", Password: "alice-password", AppliesTo: echoService}
	cases := []struct {
		name       string
		req        func(r client.Request) client.Request
		code, ns   string
		reasonPart string
	}{
		{"wrong password", func(r client.Request) client.Request { r.Password = "nope"; return r },
			"FailedAuthentication", nsSecExt, "credentials could not be verified"},
		{"unknown user", func(r client.Request) client.Request { r.Username = "mallory"; return r },
			"FailedAuthentication", nsSecExt, "credentials could not be verified"},
		{"user without an allowed role", func(r client.Request) client.Request { r.Username, r.Password = "bob", "bob-password"; return r },
			"FailedAuthentication", nsTrust13, "Access denied"},
		{"unknown relying party", func(r client.Request) client.Request { r.AppliesTo = "https://evil.example.com/"; return r },
			"InvalidRequest", nsTrust13, `No relying party is registered for AppliesTo "https://evil.example.com/"`},
		{"no AppliesTo and no default", func(r client.Request) client.Request { r.AppliesTo = ""; return r },
			"InvalidRequest", nsTrust13, "has no AppliesTo"},
		{"expired timestamp", func(r client.Request) client.Request { r.Now = r.Now.Add(-time.Hour); return r },
			"MessageExpired", nsSecExt, ""},
		{"timestamp from the future", func(r client.Request) client.Request { r.Now = r.Now.Add(time.Hour); return r },
			"InvalidSecurity", nsSecExt, ""},
		{"digest for a user with only a hash", func(r client.Request) client.Request { r.Digest = true; return r },
			"FailedAuthentication", nsSecExt, "credentials could not be verified"},
		{"2005 fault namespace", func(r client.Request) client.Request { r.Trust, r.AppliesTo = "2005", "urn:nowhere"; return r },
			"InvalidRequest", nsTrust2005, "No relying party"},
	}
	for _, tc := range cases {
		for _, soapVersion := range []string{"1.1", "1.2"} {
			t.Run(tc.name+"/SOAP "+soapVersion, func(t *testing.T) {
				r := ok
				r.Endpoint, r.Now, r.SOAP = sts.URL, time.Now(), soapVersion
				r = tc.req(r)
				status, body, err := r.Do(http.DefaultClient)
				if err != nil {
					t.Fatal(err)
				}
				expectFault(t, status, body, soapVersion, tc.ns, tc.code, tc.reasonPart)
			})
		}
	}
}

// TestReplayedRequestRefused sends the same digest request twice.
func TestReplayedRequestRefused(t *testing.T) {
	sts := testfixture.StartSTS(t, nil)
	r := client.Request{Endpoint: sts.URL, Username: "dave", Password: "dave-password", Digest: true, AppliesTo: echoService, Now: time.Now()}
	envelope, contentType, err := r.Envelope()
	if err != nil {
		t.Fatal(err)
	}
	for _, wantOK := range []bool{true, false} {
		resp, err := http.Post(sts.URL, contentType, bytes.NewReader(envelope))
		if err != nil {
			t.Fatal(err)
		}
		var body bytes.Buffer
		body.ReadFrom(resp.Body)
		resp.Body.Close()
		if wantOK {
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("first request: status %d\n%s", resp.StatusCode, body.String())
			}
			continue
		}
		expectFault(t, resp.StatusCode, body.Bytes(), "1.2", nsSecExt, "InvalidSecurity", "nonce was already used")
	}
}

// TestHostileMessages checks that malformed and hostile envelopes are refused
// with a fault, never a crash or a token.
func TestHostileMessages(t *testing.T) {
	sts := testfixture.StartSTS(t, nil)
	cases := map[string]string{
		"not XML":        "hello",
		"DTD":            `<?xml version="1.0"?><!DOCTYPE s [<!ENTITY x "y">]><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>&x;</s:Body></s:Envelope>`,
		"no Body":        `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"/>`,
		"not an RST":     `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><x/></s:Body></s:Envelope>`,
		"deeply nested":  `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>` + strings.Repeat("<a>", 10000) + strings.Repeat("</a>", 10000) + `</s:Body></s:Envelope>`,
		"too large":      `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><a>` + strings.Repeat("x", 2<<20) + `</a></s:Body></s:Envelope>`,
		"RST without UT": `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><t:RequestSecurityToken xmlns:t="` + nsTrust13 + `"><t:RequestType>` + nsTrust13 + `/Issue</t:RequestType></t:RequestSecurityToken></s:Body></s:Envelope>`,
	}
	for name, msg := range cases {
		t.Run(name, func(t *testing.T) {
			resp, err := http.Post(sts.URL, "application/soap+xml; charset=utf-8", strings.NewReader(msg))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body bytes.Buffer
			body.ReadFrom(resp.Body)
			if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(body.String(), "Fault") {
				t.Fatalf("status %d, want a SOAP fault:\n%.500s", resp.StatusCode, body.String())
			}
			if strings.Contains(body.String(), "Assertion") {
				t.Fatal("a token was issued")
			}
		})
	}
}

// TestCorpusClientsGetTokens replays the messages real clients send (MSAL.NET
// and ADAL for WS-Trust 1.3 and 2005) with our user and time filled in.
func TestCorpusClientsGetTokens(t *testing.T) {
	const appliesTo = "urn:federation:MicrosoftOnline"
	sts := testfixture.StartSTS(t, map[string]string{"o365.yaml": "apiVersion: sts.trustbroker.io/v1alpha1\nkind: RelyingParty\nmetadata: {name: o365}\n" +
		"spec: {stsRef: {name: dev-sts}, endpoint: '" + appliesTo + "', tokenType: SAML11}\n"})
	now := time.Now().UTC()
	created, expires := now.Format("2006-01-02T15:04:05.000Z"), now.Add(10*time.Minute).Format("2006-01-02T15:04:05.000Z")
	fill := strings.NewReplacer("%MESSAGE_ID%", "urn:uuid:6a1f6e7c-3f55-4d5f-9b43-4f1f0c0f9f8e", "%WSTRUST_ENDPOINT%", sts.URL,
		"%CREATED%", created, "%EXPIRES%", expires, "%USERNAME%", "alice", "%PASSWORD%", "alice-password", "%APPLIES_TO%", appliesTo,
		"the_username", "alice", "the_password", "alice-password", "https://cloudAudienceUrn", appliesTo)
	timestamps := regexp.MustCompile(`(<wsu:Created>)[^<]*(</wsu:Created><wsu:Expires>)[^<]*(</wsu:Expires>)`)
	for _, tc := range []struct{ file, trustNS string }{
		{"msalnet-rst13-usernamemixed.xml", nsTrust13},
		{"adalnode-rst13-usernamemixed-template.xml", nsTrust13},
		{"adalnode-rst2005-usernamemixed-template.xml", nsTrust2005},
	} {
		t.Run(tc.file, func(t *testing.T) {
			raw := testtools.ReadCorpus(t, tc.file)
			msg := timestamps.ReplaceAllString(fill.Replace(string(raw)), "${1}"+created+"${2}"+expires+"${3}")
			resp, err := http.Post(sts.URL, "application/soap+xml; charset=utf-8", strings.NewReader(msg))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body bytes.Buffer
			body.ReadFrom(resp.Body)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d:\n%s", resp.StatusCode, body.String())
			}
			doc := parse(t, body.Bytes())
			// AD FS answers: 1.3 in a collection, 2005 a bare RSTR; SAML 1.1 by the urn form.
			if root := doc.FindElement("//Body").ChildElements()[0]; root.NamespaceURI() != tc.trustNS {
				t.Errorf("answer body %s in %s, want the request's WS-Trust namespace %s", root.Tag, root.NamespaceURI(), tc.trustNS)
			}
			if got := doc.FindElement("//TokenType").Text(); got != "urn:oasis:names:tc:SAML:1.0:assertion" {
				t.Errorf("TokenType %q, want the urn:oasis:names:tc:SAML:1.0:assertion form ADAL and MSAL accept", got)
			}
			relatesTo := doc.FindElement("//RelatesTo")
			if tc.file == "adalnode-rst13-usernamemixed-template.xml" || tc.file == "adalnode-rst2005-usernamemixed-template.xml" {
				if relatesTo != nil {
					t.Error("RelatesTo echoed for ADAL's misspelt messageID")
				}
			} else if relatesTo == nil {
				t.Error("no RelatesTo for MSAL's MessageID")
			}
			token, err := client.Token(body.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			verifyWithXmlsec1(t, sts.CertFile, token, saml.SAML11)
		})
	}
}

// TestTrustedAddresses: only callers from the listed networks get tokens.
func TestTrustedAddresses(t *testing.T) {
	for _, tc := range []struct {
		networks string
		allowed  bool
	}{
		{"[127.0.0.0/8]", true},
		{"['10.0.0.0/8', '::1']", false},
	} {
		t.Run(tc.networks, func(t *testing.T) {
			sts := testfixture.StartSTS(t, stsManifest(t, "  replayDetection:\n", "  trustedAddresses: "+tc.networks+"\n  replayDetection:\n"))
			r := client.Request{Endpoint: sts.URL, Username: "alice", Password: "alice-password", AppliesTo: echoService, Now: time.Now()}
			status, body, err := r.Do(http.DefaultClient)
			if err != nil {
				t.Fatal(err)
			}
			if tc.allowed {
				if status != http.StatusOK {
					t.Fatalf("status %d:\n%s", status, body)
				}
				return
			}
			expectFault(t, status, body, "1.2", nsSecExt, "FailedAuthentication", "this address may not call the STS")
		})
	}
}

// TestHotReload changes a relying party in the folder and sees the next
// token follow, with the watcher running.
func TestHotReload(t *testing.T) {
	sts := testfixture.StartSTS(t, nil)
	ctx := t.Context()
	go sts.Source.Watch(ctx)

	deadline := time.Now().Add(10 * time.Second)
	for i := 0; ; i++ {
		// Written again now and then: the watcher may start after the
		// first write, and must see a later one.
		if i%10 == 0 {
			sts.WriteManifest(t, "new.yaml", "apiVersion: sts.trustbroker.io/v1alpha1\nkind: RelyingParty\nmetadata: {name: new}\n"+
				"spec: {stsRef: {name: dev-sts}, endpoint: 'urn:example:new', tokenType: SAML11, tokenLifetime: 10m}\n")
		}
		r := client.Request{Endpoint: sts.URL, Username: "alice", Password: "alice-password", AppliesTo: "urn:example:new", Now: time.Now()}
		status, body, err := r.Do(http.DefaultClient)
		if err != nil {
			t.Fatal(err)
		}
		if status == http.StatusOK {
			token, _ := client.Token(body)
			a, err := saml.Parse(parse(t, []byte(token)).Root())
			if err != nil {
				t.Fatal(err)
			}
			if a.NotOnOrAfter.Sub(a.NotBefore) != 10*time.Minute {
				t.Errorf("lifetime %v, want the new relying party's 10m", a.NotOnOrAfter.Sub(a.NotBefore))
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the new relying party was not honoured:\n%s", body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func issue(t *testing.T, sts *testfixture.STS, r client.Request) string {
	t.Helper()
	r.Endpoint, r.Now = sts.URL, time.Now()
	status, body, err := r.Do(http.DefaultClient)
	if err != nil || status != http.StatusOK {
		t.Fatalf("status %d, err %v:\n%s", status, err, body)
	}
	token, err := client.Token(body)
	if err != nil {
		t.Fatal(err)
	}
	return token
}

func parse(t *testing.T, data []byte) *etree.Document {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(data); err != nil {
		t.Fatalf("not XML: %v\n%s", err, data)
	}
	return doc
}

// expectFault checks a SOAP fault's status, version and specific code.
func expectFault(t *testing.T, status int, body []byte, soapVersion, ns, local, reasonPart string) {
	t.Helper()
	if status != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500 with a fault:\n%s", status, body)
	}
	doc := parse(t, body)
	var code *etree.Element
	if soapVersion == "1.1" {
		code = doc.FindElement("//Fault/faultcode")
	} else {
		code = doc.FindElement("//Fault/Code/Subcode/Value")
	}
	if code == nil {
		t.Fatalf("no SOAP %s fault code:\n%s", soapVersion, body)
	}
	prefix, gotLocal, _ := strings.Cut(strings.TrimSpace(code.Text()), ":")
	if gotLocal != local || namespaceOf(code, prefix) != ns {
		t.Errorf("fault code %s (%s), want %s in %s", code.Text(), namespaceOf(code, prefix), local, ns)
	}
	reason := doc.FindElement("//Fault/faultstring")
	if soapVersion == "1.2" {
		reason = doc.FindElement("//Fault/Reason/Text")
	}
	if reason == nil || !strings.Contains(reason.Text(), reasonPart) {
		t.Errorf("fault reason lacks %q:\n%s", reasonPart, body)
	}
	if strings.Contains(string(body), "Assertion") {
		t.Error("a fault carries a token")
	}
}

// namespaceOf resolves a QName prefix in scope at el.
func namespaceOf(el *etree.Element, prefix string) string {
	for e := el; e != nil; e = e.Parent() {
		for _, a := range e.Attr {
			if a.Space == "xmlns" && a.Key == prefix {
				return a.Value
			}
		}
	}
	return ""
}

// verifiedAssertion takes the token out of an RSTR response, reads it,
// requires version want (0: either), and checks its signature with xmlsec1
// against certFile.
func verifiedAssertion(t *testing.T, certFile string, response []byte, want saml.Version) (*saml.Assertion, *etree.Document) {
	t.Helper()
	token, err := client.Token(response)
	if err != nil {
		t.Fatal(err)
	}
	doc := parse(t, []byte(token))
	a, err := saml.Parse(doc.Root())
	if err != nil {
		t.Fatal(err)
	}
	if want != 0 && a.Version != want {
		t.Fatalf("the token is %v, want %v", a.Version, want)
	}
	verifyWithXmlsec1(t, certFile, token, a.Version)
	return a, doc
}

func verifyWithXmlsec1(t *testing.T, certFile, token string, v saml.Version) {
	t.Helper()
	xmlsec1 := testtools.Tool(t, "xmlsec1")
	file := filepath.Join(t.TempDir(), "token.xml")
	if err := os.WriteFile(file, []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
	idAttr := "--id-attr:ID urn:oasis:names:tc:SAML:2.0:assertion:Assertion"
	if v == saml.SAML11 {
		idAttr = "--id-attr:AssertionID urn:oasis:names:tc:SAML:1.0:assertion:Assertion"
	}
	args := append([]string{"--verify", "--pubkey-cert-pem", certFile}, strings.Fields(idAttr)...)
	out, err := exec.Command(xmlsec1, append(args, file)...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "OK") {
		t.Fatalf("xmlsec1 does not verify the token: %v\n%s\n%s", err, out, token)
	}
}

func verifyWithSamlsign(t *testing.T, certFile, token string) {
	t.Helper()
	samlsign := testtools.Tool(t, "samlsign")
	file := filepath.Join(t.TempDir(), "token.xml")
	if err := os.WriteFile(file, []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(samlsign, "-c", certFile, "-f", file).CombinedOutput(); err != nil {
		t.Fatalf("samlsign does not verify the token: %v\n%s", err, out)
	}
}

// TestPrefixMatchesOnABoundary: the portal relying party (match: Prefix,
// urn:example:portal) covers its own paths, not another application whose
// name merely starts the same.
func TestPrefixMatchesOnABoundary(t *testing.T) {
	sts := testfixture.StartSTS(t, nil)
	issueOK(t, sts, client.Request{Username: "alice", Password: "alice-password", AppliesTo: "urn:example:portal/orders"})
	for _, appliesTo := range []string{"urn:example:portalevil", "urn:example:portal.evil.example"} {
		r := client.Request{Endpoint: sts.URL, Username: "alice", Password: "alice-password", AppliesTo: appliesTo, Now: time.Now()}
		status, body, err := r.Do(http.DefaultClient)
		if err != nil {
			t.Fatal(err)
		}
		expectFault(t, status, body, "1.2", nsTrust13, "InvalidRequest", "")
	}
}
