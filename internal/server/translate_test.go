package server_test

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/client"
	"github.com/trustbroker/trustbroker/internal/devkeys"
	"github.com/trustbroker/trustbroker/internal/saml"
	"github.com/trustbroker/trustbroker/internal/testfixture"
	"github.com/trustbroker/trustbroker/internal/wstrust"
	"github.com/trustbroker/trustbroker/internal/xmlsec"
)

const (
	partnerIssuer = "https://idp.partner.example/trust"
	stsIssuer     = "http://127.0.0.1:8080/trust"
	actorClaim    = "http://schemas.xmlsoap.org/ws/2009/09/identity/claims/actor"
	emailClaim    = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"
	svEndpoint    = "urn:example:sender-vouches"
	// translatedEndpoint maps the incoming e-mail claim to "mail".
	translatedEndpoint = "urn:example:translated"
)

// partner is a trusted issuer whose key the test holds.
type partner struct {
	pair   *devkeys.Pair
	signer *xmlsec.Signer
}

func newPartner(t *testing.T) *partner {
	t.Helper()
	pair, err := devkeys.NewRSA("idp.partner.example", time.Now().Add(-time.Hour), 48*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	s, err := xmlsec.NewSigner(pair.Key, []*x509.Certificate{pair.Cert}, xmlsec.RSASHA256, xmlsec.SHA256, xmlsec.AlgorithmPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	return &partner{pair: pair, signer: s}
}

// manifests: the sample STS with translation on for alice, the delegating
// requestor of these tests, the partner as a trusted issuer with the given
// usages, and a relying party that accepts sender-vouches.
func (p *partner) manifests(t *testing.T, usages string) map[string]string {
	m := stsManifest(t, sampleOnBehalfOf, `  onBehalfOf:
    allowedTokenTypes: [UsernameToken, SAML11, SAML20, "urn:trustbroker:token:hmac"]
    requireAuthenticatedRequestor: true
    allowedRequestors:
      users: [alice]
`)
	pemText := "      " + strings.ReplaceAll(strings.TrimSpace(string(p.pair.CertPEM)), "\n", "\n      ")
	m["partner.yaml"] = fmt.Sprintf(`apiVersion: sts.trustbroker.io/v1alpha1
kind: TrustedIssuer
metadata: {name: partner}
spec:
  stsRef: {name: dev-sts}
  issuer: %s
  allowedUsages: %s
  certificates:
    pem: |
%s
---
apiVersion: sts.trustbroker.io/v1alpha1
kind: RelyingParty
metadata: {name: sender-vouches}
spec:
  stsRef: {name: dev-sts}
  endpoint: %s
  tokenType: SAML20
  allowedKeyTypes: [SenderVouches, Bearer]
---
apiVersion: sts.trustbroker.io/v1alpha1
kind: RelyingParty
metadata: {name: translated}
spec:
  stsRef: {name: dev-sts}
  endpoint: %s
  attributes:
  - name: mail
    from: %s
`, partnerIssuer, usages, pemText, svEndpoint, translatedEndpoint, emailClaim)
	return m
}

// assertion builds and signs a partner assertion for carol.
func (p *partner) assertion(t *testing.T, v saml.Version, edit func(a *saml.Assertion)) string {
	t.Helper()
	now := time.Now()
	a := &saml.Assertion{
		ID: saml.NewID(), IssueInstant: now, Issuer: partnerIssuer,
		Subject:      saml.Subject{NameID: "carol@partner.example", Format: saml.NameIDEmail},
		NotBefore:    now.Add(-time.Minute),
		NotOnOrAfter: now.Add(time.Hour),
		Audiences:    []string{stsIssuer},
		Authn:        &saml.AuthnStatement{Instant: now.Add(-10 * time.Minute), Method: saml.AuthnMethodURI(v, saml.AuthnKerberos)},
	}
	if v == saml.SAML11 {
		a.Attributes = []saml.Attribute{
			{Name: "emailaddress", Namespace: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims", Values: []string{"carol@partner.example"}},
			{Name: "group", Namespace: "http://partner.example/claims", Values: []string{"finance", "audit"}},
		}
	} else {
		a.Attributes = []saml.Attribute{
			{Name: emailClaim, Namespace: saml.AttrNameFormatURI, Values: []string{"carol@partner.example"}},
			{Name: "http://partner.example/claims/group", Namespace: saml.AttrNameFormatURI, Values: []string{"finance", "audit"}},
		}
	}
	if edit != nil {
		edit(a)
	}
	el, err := saml.BuildSigned(v, a, p.signer)
	if err != nil {
		t.Fatal(err)
	}
	return serialise(t, el)
}

func serialise(t *testing.T, el *etree.Element) string {
	t.Helper()
	doc := etree.NewDocument()
	doc.SetRoot(el)
	s, err := doc.WriteToString()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// claims reads a token's attributes as claim name → values, whatever the
// version (SAML 1.1 names joined WIF-style).
func claims(a *saml.Assertion) map[string][]string {
	out := map[string][]string{}
	for _, at := range a.Attributes {
		name := at.Name
		if a.Version == saml.SAML11 {
			name = strings.TrimRight(at.Namespace, "/") + "/" + at.Name
		}
		out[name] = at.Values
	}
	return out
}

func parseToken(t *testing.T, token string) *saml.Assertion {
	t.Helper()
	a, err := saml.Parse(parse(t, []byte(token)).Root())
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestOnBehalfOfConvertsBetweenVersions exchanges a partner's SAML 1.1
// token for a SAML 2.0 one and a SAML 2.0 token for a SAML 1.1 one: the
// result verifies with xmlsec1, names the same subject, carries every
// attribute under its converted name (the relying party's mapping applied
// on top) and restates the authentication.
func TestOnBehalfOfConvertsBetweenVersions(t *testing.T) {
	p := newPartner(t)
	sts := testfixture.StartSTS(t, p.manifests(t, "[OnBehalfOf, ActAs, Validate]"))
	cases := []struct {
		name     string
		in, out  saml.Version
		tokenTyp string
	}{
		{"SAML 1.1 to SAML 2.0", saml.SAML11, saml.SAML20, "saml2"},
		{"SAML 2.0 to SAML 1.1", saml.SAML20, saml.SAML11, "saml1"},
	}
	// The relying party maps the e-mail claim to "mail"; the group claim
	// is carried over with its name converted.
	want := map[string][]string{"mail": {"carol@partner.example"}, "http://partner.example/claims/group": {"finance", "audit"}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := p.assertion(t, tc.in, nil)
			token := issue(t, sts, client.Request{Username: "alice", Password: "alice-password", AppliesTo: translatedEndpoint, TokenType: tc.tokenTyp, OnBehalfOf: in})
			verifyWithXmlsec1(t, sts.CertFile, token, tc.out)
			a := parseToken(t, token)
			src := parseToken(t, in)
			if a.Version != tc.out || a.Issuer != stsIssuer {
				t.Errorf("version %v issuer %q, want %v from the STS", a.Version, a.Issuer, tc.out)
			}
			if a.Subject.NameID != src.Subject.NameID || a.Subject.Format != src.Subject.Format {
				t.Errorf("subject %+v, want %+v carried over", a.Subject, src.Subject)
			}
			got := claims(a)
			for name, values := range want {
				if g, ok := lookupClaim(got, name); !ok || !slices.Equal(g, values) {
					t.Errorf("attribute %s = %v, want %v (all: %v)", name, g, values, got)
				}
			}
			if len(a.Attributes) != len(src.Attributes) {
				t.Errorf("%d attributes, want the %d of the input: %v", len(a.Attributes), len(src.Attributes), got)
			}
			if a.Authn == nil || saml.AuthnKindOf(a.Authn.Method) != saml.AuthnKerberos || !a.Authn.Instant.Equal(src.Authn.Instant) {
				t.Errorf("authn %+v, want Kerberos at %v carried over", a.Authn, src.Authn.Instant)
			}
		})
	}
}

// lookupClaim finds a claim by its full name or by the name after its last "/".
func lookupClaim(got map[string][]string, name string) ([]string, bool) {
	if v, ok := got[name]; ok {
		return v, true
	}
	for k, v := range got {
		if strings.HasSuffix(k, "/"+name) {
			return v, true
		}
	}
	return nil, false
}

// TestTranslationRefusals: each bad presented token gets its own fault.
func TestTranslationRefusals(t *testing.T) {
	p := newPartner(t)
	stranger := newPartner(t)
	sts := testfixture.StartSTS(t, p.manifests(t, "[OnBehalfOf, Validate]"))
	tampered := strings.Replace(p.assertion(t, saml.SAML20, nil), "carol@partner.example</saml2:NameID>", "mallory@partner.example</saml2:NameID>", 1)
	cases := []struct {
		name            string
		req             client.Request
		code, ns, inWhy string
	}{
		{"untrusted issuer", client.Request{OnBehalfOf: stranger.assertion(t, saml.SAML20, func(a *saml.Assertion) { a.Issuer = "https://unknown.example/" })},
			"FailedAuthentication", nsTrust13, "issuer this STS does not trust"},
		{"bad signature", client.Request{OnBehalfOf: tampered}, "InvalidSecurityToken", nsSecExt, "signature that is not valid"},
		{"signed by another key", client.Request{OnBehalfOf: stranger.assertion(t, saml.SAML20, nil)}, "InvalidSecurityToken", nsSecExt, "signature that is not valid"},
		{"expired", client.Request{OnBehalfOf: p.assertion(t, saml.SAML20, func(a *saml.Assertion) {
			a.NotBefore, a.NotOnOrAfter = time.Now().Add(-3*time.Hour), time.Now().Add(-2*time.Hour)
		})}, "InvalidSecurityToken", nsSecExt, "has expired"},
		{"other audience", client.Request{OnBehalfOf: p.assertion(t, saml.SAML11, func(a *saml.Assertion) { a.Audiences = []string{"https://other.example/"} })},
			"InvalidRequest", nsTrust13, "another audience"},
		{"usage not allowed", client.Request{ActAs: p.assertion(t, saml.SAML20, nil)}, "InvalidRequest", nsTrust13, "may not be used for ActAs"},
		{"UsernameToken with a wrong password", client.Request{OnBehalfOf: usernameTokenXML("dave", "wrong")},
			"FailedAuthentication", nsTrust13, "could not be verified"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.req
			r.Username, r.Password, r.AppliesTo, r.Endpoint, r.Now = "alice", "alice-password", echoService, sts.URL, time.Now()
			status, body, err := r.Do(http.DefaultClient)
			if err != nil {
				t.Fatal(err)
			}
			expectFault(t, status, body, "1.2", tc.ns, tc.code, tc.inWhy)
		})
	}
}

func usernameTokenXML(user, password string) string {
	pw := ""
	if password != "" {
		pw = "<o:Password>" + password + "</o:Password>"
	}
	return `<o:UsernameToken xmlns:o="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"><o:Username>` + user + `</o:Username>` + pw + `</o:UsernameToken>`
}

// TestOnBehalfOfUsernameToken: a UsernameToken with a password is checked
// against the user store; the token is issued for that user with the
// relying party's mapping of the user's attributes.
func TestOnBehalfOfUsernameToken(t *testing.T) {
	sts := testfixture.StartSTS(t, newPartner(t).manifests(t, "[OnBehalfOf]"))
	token := issue(t, sts, client.Request{Username: "alice", Password: "alice-password", AppliesTo: echoService, OnBehalfOf: usernameTokenXML("dave", "dave-password")})
	verifyWithXmlsec1(t, sts.CertFile, token, saml.SAML20)
	a := parseToken(t, token)
	if a.Subject.NameID != "dave@example.com" || !slices.Equal(claims(a)[emailClaim], []string{"dave@example.com"}) {
		t.Errorf("subject %q, claims %v; want dave's", a.Subject.NameID, claims(a))
	}
	if a.Authn == nil || saml.AuthnKindOf(a.Authn.Method) != saml.AuthnPassword {
		t.Errorf("authn %+v, want a password", a.Authn)
	}
}

// TestActAsRecordsTheActorChain: the actor claim names the requestor after
// the actors the presented token already had, and a SAML 2.0 result carries
// the presented assertion as Advice.
func TestActAsRecordsTheActorChain(t *testing.T) {
	p := newPartner(t)
	sts := testfixture.StartSTS(t, p.manifests(t, "[ActAs]"))
	in := p.assertion(t, saml.SAML20, func(a *saml.Assertion) {
		a.Attributes = append(a.Attributes, saml.Attribute{Name: actorClaim, Namespace: saml.AttrNameFormatURI, Values: []string{"frontend.partner.example"}})
	})
	token := issue(t, sts, client.Request{Username: "alice", Password: "alice-password", AppliesTo: echoService, ActAs: in})
	verifyWithXmlsec1(t, sts.CertFile, token, saml.SAML20)
	a := parseToken(t, token)
	if got := claims(a)[actorClaim]; !slices.Equal(got, []string{"frontend.partner.example", "alice"}) {
		t.Errorf("actors %v, want the earlier actor then the requestor", got)
	}
	if a.Subject.NameID != "carol@partner.example" {
		t.Errorf("subject %q, want the ActAs identity", a.Subject.NameID)
	}
	var advised *etree.Element
	if a.Advice != nil {
		advised = a.Advice.SelectElement("Assertion")
	}
	if advised == nil || advised.NamespaceURI() != saml.NamespaceSAML20 || advised.SelectAttrValue("ID", "") != parseToken(t, in).ID {
		t.Errorf("Advice does not hold the presented assertion:\n%s", token)
	}
}

// wcfPreferences are the key and algorithm preferences WCF puts beside the
// standard elements of its RSTs; the STS may ignore them.
var wcfPreferences = [][2]string{
	{"t:SignWith", "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"},
	{"t:EncryptWith", "http://www.w3.org/2001/04/xmlenc#aes256-cbc"},
	{"t:KeyWrapAlgorithm", "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"},
	{"wst14:KeyWrapAlgorithm", "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"},
	{"t:CanonicalizationAlgorithm", "http://www.w3.org/2001/10/xml-exc-c14n#"},
	{"t:EncryptionAlgorithm", "http://www.w3.org/2001/04/xmlenc#aes256-cbc"},
	{"t:SignatureAlgorithm", "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"},
	{"t:ComputedKeyAlgorithm", nsTrust13 + "/CK/PSHA1"},
	{"t:KeySize", "256"},
	{"wsp:PolicyReference", ""},
	{"auth:AdditionalContext", ""},
}

// postEdited posts r's envelope after edit has changed its
// RequestSecurityToken, whose WS-Trust prefix is t and where the WS-Trust
// 1.4 namespace is declared as wst14.
func postEdited(t *testing.T, sts *testfixture.STS, r client.Request, edit func(rst *etree.Element)) (int, []byte) {
	t.Helper()
	r.Endpoint, r.Now = sts.URL, time.Now()
	envelope, contentType, err := r.Envelope()
	if err != nil {
		t.Fatal(err)
	}
	doc := parse(t, envelope)
	rst := doc.FindElement("//RequestSecurityToken")
	rst.CreateAttr("xmlns:wst14", wstrust.Namespace14)
	edit(rst)
	if envelope, err = doc.WriteToBytes(); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(sts.URL, contentType, bytes.NewReader(envelope))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

// addWCFPreferences adds WCF's preferences to an RST.
func addWCFPreferences(rst *etree.Element) {
	for _, p := range wcfPreferences {
		el := rst.CreateElement(p[0])
		el.SetText(p[1])
		switch p[0] {
		case "wsp:PolicyReference":
			el.CreateAttr("xmlns:wsp", "http://schemas.xmlsoap.org/ws/2004/09/policy")
			el.CreateAttr("URI", "urn:example:policy")
		case "auth:AdditionalContext":
			el.CreateAttr("xmlns:auth", "http://docs.oasis-open.org/wsfed/authorization/200706")
			item := el.CreateElement("auth:ContextItem")
			item.CreateAttr("Name", "urn:example:context")
			item.CreateElement("auth:Value").SetText("x")
		}
	}
}

// TestWCFActAs: ActAs in the WS-Trust 1.4 namespace inside a 1.3 request,
// beside WCF's preferences, gets a token for the ActAs identity that names
// the requestor as the actor, as the request's own ActAs does; a plain WCF
// request with the preferences gets the requestor's token.
func TestWCFActAs(t *testing.T) {
	p := newPartner(t)
	sts := testfixture.StartSTS(t, p.manifests(t, "[ActAs]"))
	partnerToken := p.assertion(t, saml.SAML20, nil)
	for _, tc := range []struct {
		name, actAs, subject string
	}{
		{"SAML 2.0 assertion", partnerToken, "carol@partner.example"},
		{"UsernameToken", usernameTokenXML("dave", "dave-password"), "dave@example.com"},
		{"no ActAs", "", "alice@example.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := client.Request{Username: "alice", Password: "alice-password", AppliesTo: echoService, ActAs: tc.actAs}
			status, body := postEdited(t, sts, r, func(rst *etree.Element) {
				if actAs := rst.SelectElement("t:ActAs"); actAs != nil {
					actAs.Space = "wst14"
				} else if tc.actAs != "" {
					t.Fatal("the client sent no t:ActAs to move")
				}
				addWCFPreferences(rst)
			})
			if status != http.StatusOK {
				t.Fatalf("status %d:\n%s", status, body)
			}
			a, _ := verifiedAssertion(t, sts.CertFile, body, saml.SAML20)
			if a.Subject.NameID != tc.subject {
				t.Errorf("subject %q, want %q", a.Subject.NameID, tc.subject)
			}
			actors, recorded := claims(a)[actorClaim]
			if tc.actAs == "" {
				if recorded {
					t.Errorf("actors %v without ActAs", actors)
				}
				return
			}
			if !slices.Equal(actors, []string{"alice"}) {
				t.Errorf("actors %v, want the requestor", actors)
			}
		})
	}
}

// TestUnsupportedDelegationRefused: elements that would change whom the
// token is for but that the STS does not act on are refused by name, as is
// ActAs in two namespaces at once.
func TestUnsupportedDelegationRefused(t *testing.T) {
	p := newPartner(t)
	sts := testfixture.StartSTS(t, p.manifests(t, "[ActAs]"))
	dave := usernameTokenXML("dave", "dave-password")
	for _, tc := range []struct {
		name, reason string
		edit         func(rst *etree.Element)
	}{
		{"DelegateTo", "wst:DelegateTo is not supported", func(rst *etree.Element) {
			addToken(t, rst.CreateElement("t:DelegateTo"), dave)
		}},
		{"Participants", "wst:Participants is not supported", func(rst *etree.Element) {
			addToken(t, rst.CreateElement("t:Participants").CreateElement("t:Participant"), dave)
		}},
		{"ActAs in both namespaces", "wst:ActAs and wst14:ActAs both appear", func(rst *etree.Element) {
			addToken(t, rst.CreateElement("t:ActAs"), dave)
			addToken(t, rst.CreateElement("wst14:ActAs"), usernameTokenXML("alice", "alice-password"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := client.Request{Username: "alice", Password: "alice-password", AppliesTo: echoService}
			status, body := postEdited(t, sts, r, func(rst *etree.Element) {
				addWCFPreferences(rst)
				tc.edit(rst)
			})
			expectFault(t, status, body, "1.2", nsTrust13, "InvalidRequest", tc.reason)
			if strings.Contains(string(body), "dave") {
				t.Errorf("the fault quotes the request:\n%s", body)
			}
		})
	}
}

// addToken parses a token and adds it to parent.
func addToken(t *testing.T, parent *etree.Element, token string) {
	t.Helper()
	parent.AddChild(parse(t, []byte(token)).Root())
}

// TestSenderVouches: OnBehalfOf without a KeyType, or with a KeyType this
// STS does not know (matrix rows 10, 11, 16), gives a sender-vouches token
// to a relying party that accepts it; an explicit Bearer stays bearer.
func TestSenderVouches(t *testing.T) {
	p := newPartner(t)
	sts := testfixture.StartSTS(t, p.manifests(t, "[OnBehalfOf]"))
	for _, tc := range []struct {
		keyType string
		want    saml.ConfirmationMethod
	}{
		{"none", saml.SenderVouches},
		{"urn:oracle:proprietary:sender-vouches", saml.SenderVouches},
		{"Bearer", saml.Bearer},
	} {
		t.Run(tc.keyType, func(t *testing.T) {
			token := issue(t, sts, client.Request{Username: "alice", Password: "alice-password", AppliesTo: svEndpoint, KeyType: tc.keyType, OnBehalfOf: p.assertion(t, saml.SAML11, nil)})
			if got := parseToken(t, token).Confirmation.Method; got != tc.want {
				t.Errorf("confirmation %v, want %v", got, tc.want)
			}
		})
	}
}

// TestValidateCancelRenew: a token this STS issued validates; renewing it
// keeps subject and attributes with a new ID and lifetime; once cancelled,
// Validate says invalid and Renew and OnBehalfOf refuse it.
func TestValidateCancelRenew(t *testing.T) {
	sts := testfixture.StartSTS(t, newPartner(t).manifests(t, "[OnBehalfOf]"))
	alice := client.Request{Username: "alice", Password: "alice-password", AppliesTo: echoService}
	token := issue(t, sts, alice)
	original := parseToken(t, token)

	status := func(target string) (string, string) {
		r := alice
		r.RequestType, r.Target, r.TokenType, r.Endpoint, r.Now = "Validate", target, "status", sts.URL, time.Now()
		code, body, err := r.Do(http.DefaultClient)
		if err != nil || code != http.StatusOK {
			t.Fatalf("Validate: status %d, err %v\n%s", code, err, body)
		}
		doc := parse(t, body)
		c, reason := doc.FindElement("//Status/Code"), doc.FindElement("//Status/Reason")
		if c == nil || reason == nil {
			t.Fatalf("no Status in\n%s", body)
		}
		return c.Text(), reason.Text()
	}
	if code, _ := status(token); code != nsTrust13+"/status/valid" {
		t.Fatalf("fresh token: status %s, want valid", code)
	}

	time.Sleep(1100 * time.Millisecond) // a visibly later lifetime
	r := alice
	r.RequestType, r.Target = "Renew", token
	renewedXML := issue(t, sts, r)
	verifyWithXmlsec1(t, sts.CertFile, renewedXML, saml.SAML20)
	renewed := parseToken(t, renewedXML)
	if renewed.ID == original.ID || !renewed.NotOnOrAfter.After(original.NotOnOrAfter) {
		t.Errorf("renewed ID %s until %v; want a new ID and a later end than %v", renewed.ID, renewed.NotOnOrAfter, original.NotOnOrAfter)
	}
	if renewed.Subject != original.Subject || fmt.Sprint(claims(renewed)) != fmt.Sprint(claims(original)) || renewed.Authn.Method != original.Authn.Method {
		t.Errorf("renewed token changed subject, attributes or authentication:\n%+v\n%+v", renewed, original)
	}
	if got, want := renewed.NotOnOrAfter.Sub(renewed.NotBefore), original.NotOnOrAfter.Sub(original.NotBefore); got != want {
		t.Errorf("renewed lifetime %v, want %v", got, want)
	}

	r = alice
	r.RequestType, r.Target, r.Endpoint, r.Now = "Cancel", token, sts.URL, time.Now()
	code, body, err := r.Do(http.DefaultClient)
	if err != nil || code != http.StatusOK || parse(t, body).FindElement("//RequestedTokenCancelled") == nil {
		t.Fatalf("Cancel: status %d, err %v\n%s", code, err, body)
	}
	if code, reason := status(token); code != nsTrust13+"/status/invalid" || !strings.Contains(reason, "cancelled") {
		t.Errorf("after Cancel: status %s (%s), want invalid because cancelled", code, reason)
	}
	if code, _ := status(renewedXML); code != nsTrust13+"/status/valid" {
		t.Errorf("the renewed token: status %s, want still valid", code)
	}

	r = alice
	r.RequestType, r.Target, r.Endpoint, r.Now = "Renew", token, sts.URL, time.Now()
	code, body, _ = r.Do(http.DefaultClient)
	expectFault(t, code, body, "1.2", nsTrust13, "UnableToRenew", "cancelled")

	r = alice
	r.OnBehalfOf, r.Endpoint, r.Now = token, sts.URL, time.Now()
	code, body, _ = r.Do(http.DefaultClient)
	expectFault(t, code, body, "1.2", nsSecExt, "InvalidSecurityToken", "cancelled")
}

// TestValidateExchanges: Validate with a SAML TokenType exchanges a valid
// partner token for one of this STS, subject and attributes carried over.
func TestValidateExchanges(t *testing.T) {
	p := newPartner(t)
	sts := testfixture.StartSTS(t, p.manifests(t, "[Validate]"))
	in := p.assertion(t, saml.SAML11, nil)
	token := issue(t, sts, client.Request{Username: "alice", Password: "alice-password", AppliesTo: echoService, RequestType: "Validate", TokenType: "saml2", Target: in})
	verifyWithXmlsec1(t, sts.CertFile, token, saml.SAML20)
	a := parseToken(t, token)
	if a.Subject.NameID != "carol@partner.example" || !slices.Equal(claims(a)["http://partner.example/claims/group"], []string{"finance", "audit"}) {
		t.Errorf("exchanged token: subject %q, claims %v", a.Subject.NameID, claims(a))
	}
}

// TestClaimsRestrictAttributes: ic:ClaimType restricts the attributes; a
// required claim that cannot be given is refused by name.
func TestClaimsRestrictAttributes(t *testing.T) {
	sts := testfixture.StartSTS(t, nil)
	alice := client.Request{Username: "alice", Password: "alice-password", AppliesTo: echoService}
	r := alice
	r.Claims = []string{emailClaim, "department?"}
	a := parseToken(t, issue(t, sts, r))
	if got := claims(a); len(got) != 2 || got[emailClaim] == nil || got["department"] == nil {
		t.Errorf("claims %v, want exactly the e-mail address and department", got)
	}
	r = alice
	r.Claims, r.Endpoint, r.Now = []string{"http://example.com/claims/shoesize"}, sts.URL, time.Now()
	code, body, _ := r.Do(http.DefaultClient)
	expectFault(t, code, body, "1.2", nsTrust13, "InvalidRequest", "http://example.com/claims/shoesize")
}

// TestTrustedIssuerSHA1: an issuer that still signs with RSA-SHA1 is refused
// unless its TrustedIssuer opts in with allowSHA1.
func TestTrustedIssuerSHA1(t *testing.T) {
	p := newPartner(t)
	sha1Signer, err := xmlsec.NewSigner(p.pair.Key, []*x509.Certificate{p.pair.Cert}, xmlsec.RSASHA1, xmlsec.SHA1, xmlsec.AlgorithmPolicy{AllowSHA1: true})
	if err != nil {
		t.Fatal(err)
	}
	p.signer = sha1Signer
	in := p.assertion(t, saml.SAML20, nil)
	for _, allow := range []bool{false, true} {
		t.Run(fmt.Sprintf("allowSHA1=%v", allow), func(t *testing.T) {
			m := p.manifests(t, "[OnBehalfOf]")
			if allow {
				m["partner.yaml"] = strings.Replace(m["partner.yaml"], "  certificates:\n", "  allowSHA1: true\n  certificates:\n", 1)
			}
			sts := testfixture.StartSTS(t, m)
			r := client.Request{Endpoint: sts.URL, Username: "alice", Password: "alice-password", AppliesTo: echoService, OnBehalfOf: in, Now: time.Now()}
			status, body, err := r.Do(http.DefaultClient)
			if err != nil {
				t.Fatal(err)
			}
			if allow != (status == http.StatusOK) {
				t.Fatalf("allowSHA1=%v: status %d\n%s", allow, status, body)
			}
		})
	}
}
