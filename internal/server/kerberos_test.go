package server_test

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/spnego"

	stsclient "github.com/trustbroker/trustbroker/internal/client"
	"github.com/trustbroker/trustbroker/internal/saml"
	"github.com/trustbroker/trustbroker/internal/testfixture"
	"github.com/trustbroker/trustbroker/internal/testtools/kdc"
)

const stsPrincipal = "HTTP/sts.example.com"

// TestKerberos authenticates a caller by a ticket from a real MIT KDC, sent
// as a GSS_Kerberosv5_AP_REQ BinarySecurityToken; the same AP-REQ again is a
// replay, and a ticket for another service is refused.
func TestKerberos(t *testing.T) {
	realm := kdc.Start(t, kdc.Options{})
	realm.AddUser(t, "erin", "erin-pw")
	keytab := realm.AddService(t, stsPrincipal, 0)
	realm.AddService(t, "HTTP/other.example.com", 0)

	manifests := stsManifest(t, "    allowedRoles: [admin]\n",
		"    kerberos:\n      enabled: true\n      servicePrincipal: "+stsPrincipal+"@"+realm.Realm+"\n      keytabSecretRef: {name: keytab}\n")
	manifests["keytab.yaml"] = "apiVersion: v1\nkind: Secret\nmetadata: {name: keytab}\ndata:\n  krb5.keytab: " + base64.StdEncoding.EncodeToString(keytab) + "\n"
	sts := testfixture.StartSTS(t, manifests)

	cfg, err := config.NewFromString(realm.Krb5Conf)
	if err != nil {
		t.Fatal(err)
	}
	cl := client.NewWithPassword("erin", realm.Realm, "erin-pw", cfg, client.DisablePAFXFAST(true))
	if err := cl.Login(); err != nil {
		t.Fatalf("login: %v\n%s", err, realm.Log())
	}
	defer cl.Destroy()
	apReq := func(spn string) []byte {
		tkt, key, err := cl.GetServiceTicket(spn)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := spnego.NewKRB5TokenAPREQ(cl, tkt, key, []int{gssapi.ContextFlagInteg, gssapi.ContextFlagMutual}, []int{flags.APOptionMutualRequired})
		if err != nil {
			t.Fatal(err)
		}
		b, err := tok.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	token := apReq(stsPrincipal)
	body := issueOK(t, sts, stsclient.Request{AppliesTo: "urn:example:portal", KerberosToken: token})
	assertion, _ := stsclient.Token(body)
	verifyWithXmlsec1(t, sts.CertFile, assertion, saml.SAML11)
	a, err := saml.Parse(parse(t, []byte(assertion)).Root())
	if err != nil {
		t.Fatal(err)
	}
	if a.Subject.NameID != "erin@"+realm.Realm || saml.AuthnKindOf(a.Authn.Method) != saml.AuthnKerberos {
		t.Errorf("subject %q, authentication %q; want erin@%s and Kerberos", a.Subject.NameID, a.Authn.Method, realm.Realm)
	}

	for _, tc := range []struct {
		name, code, ns string
		token          []byte
	}{
		{"the same AP-REQ again", "InvalidSecurity", nsSecExt, token},
		{"a ticket for another service", "FailedAuthentication", nsSecExt, apReq("HTTP/other.example.com")},
		{"a garbled token", "InvalidSecurityToken", nsSecExt, []byte("not a kerberos token")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := stsclient.Request{Endpoint: sts.URL, AppliesTo: "urn:example:portal", KerberosToken: tc.token, Now: time.Now()}
			status, body, err := r.Do(http.DefaultClient)
			if err != nil {
				t.Fatal(err)
			}
			expectFault(t, status, body, "1.2", tc.ns, tc.code, "")
		})
	}
}

// TestKerberosNegotiate: AD FS's windowstransport, as MSAL and WCF use it:
// the metadata advertises it with NegotiateAuthentication, a request
// without a ticket is challenged with 401 Negotiate, and one carrying a
// SPNEGO token in "Authorization: Negotiate" gets a token.
func TestKerberosNegotiate(t *testing.T) {
	realm := kdc.Start(t, kdc.Options{})
	realm.AddUser(t, "erin", "erin-pw")
	keytab := realm.AddService(t, stsPrincipal, 0)
	manifests := stsManifest(t, "    allowedRoles: [admin]\n",
		"    kerberos:\n      enabled: true\n      servicePrincipal: "+stsPrincipal+"@"+realm.Realm+"\n      keytabSecretRef: {name: keytab}\n")
	manifests["keytab.yaml"] = "apiVersion: v1\nkind: Secret\nmetadata: {name: keytab}\ndata:\n  krb5.keytab: " + base64.StdEncoding.EncodeToString(keytab) + "\n"
	sts := testfixture.StartSTS(t, manifests)
	base, tlsClient := serveAlso(t, sts, true, nil)
	endpoint := base + "/adfs/services/trust/13/windowstransport"
	plainEndpoint := strings.TrimSuffix(sts.URL, "/sts") + "/adfs/services/trust/13/windowstransport"

	mex, err := http.Get(strings.TrimSuffix(sts.URL, "/sts") + "/adfs/services/trust/mex")
	if err != nil {
		t.Fatal(err)
	}
	var doc bytes.Buffer
	doc.ReadFrom(mex.Body)
	mex.Body.Close()
	if !strings.Contains(doc.String(), "NegotiateAuthentication") || !strings.Contains(doc.String(), "/adfs/services/trust/13/windowstransport") {
		t.Errorf("the metadata does not advertise windowstransport with NegotiateAuthentication")
	}

	cfg, err := config.NewFromString(realm.Krb5Conf)
	if err != nil {
		t.Fatal(err)
	}
	cl := client.NewWithPassword("erin", realm.Realm, "erin-pw", cfg, client.DisablePAFXFAST(true))
	if err := cl.Login(); err != nil {
		t.Fatalf("login: %v\n%s", err, realm.Log())
	}
	defer cl.Destroy()
	tkt, key, err := cl.GetServiceTicket(stsPrincipal)
	if err != nil {
		t.Fatal(err)
	}
	negTokenInit, err := spnego.NewNegTokenInitKRB5(cl, tkt, key)
	if err != nil {
		t.Fatal(err)
	}
	spnegoToken, err := (&spnego.SPNEGOToken{Init: true, NegTokenInit: negTokenInit}).Marshal()
	if err != nil {
		t.Fatal(err)
	}

	r := stsclient.Request{Endpoint: endpoint, AppliesTo: "urn:example:portal", Now: time.Now()}
	envelope, contentType, err := r.Envelope()
	if err != nil {
		t.Fatal(err)
	}
	postTo := func(url string, c *http.Client, authorization string) (*http.Response, []byte) {
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(envelope))
		req.Header.Set("Content-Type", contentType)
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body bytes.Buffer
		body.ReadFrom(resp.Body)
		return resp, body.Bytes()
	}
	post := func(authorization string) (*http.Response, []byte) { return postTo(endpoint, tlsClient, authorization) }
	// Over plain HTTP nothing binds the token to this request: refused
	// before the ticket is looked at.
	negotiate := "Negotiate " + base64.StdEncoding.EncodeToString(spnegoToken)
	if resp, body := postTo(plainEndpoint, http.DefaultClient, negotiate); resp.StatusCode == http.StatusOK || !strings.Contains(string(body), "only over HTTPS") {
		t.Fatalf("Negotiate over plain HTTP: status %d\n%s", resp.StatusCode, body)
	}
	if resp, _ := post(""); resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != "Negotiate" {
		t.Fatalf("no ticket: status %d, WWW-Authenticate %q; want a Negotiate challenge", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	resp, body := post(negotiate)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d:\n%s", resp.StatusCode, body)
	}
	assertion, _ := stsclient.Token(body)
	verifyWithXmlsec1(t, sts.CertFile, assertion, saml.SAML11)
	a, err := saml.Parse(parse(t, []byte(assertion)).Root())
	if err != nil {
		t.Fatal(err)
	}
	if a.Subject.NameID != "erin@"+realm.Realm {
		t.Errorf("subject %q, want erin@%s", a.Subject.NameID, realm.Realm)
	}
	if resp, body := post("Negotiate bm90IGEgdG9rZW4="); resp.StatusCode != http.StatusInternalServerError || !strings.Contains(string(body), "InvalidSecurityToken") {
		t.Errorf("garbled Negotiate token: status %d\n%s", resp.StatusCode, body)
	}
}
