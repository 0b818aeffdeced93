package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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
	"github.com/trustbroker/trustbroker/internal/testtools"
	"github.com/trustbroker/trustbroker/internal/testtools/kdc"
)

const stsPrincipal = "HTTP/sts.example.com"

// kerberosSTS serves the samples with Kerberos on, for a realm of a real
// MIT KDC with the user erin; the echo service also answers requests
// without AppliesTo.
func kerberosSTS(t *testing.T) (*kdc.KDC, *testfixture.STS) {
	t.Helper()
	realm := kdc.Start(t, kdc.Options{})
	realm.AddUser(t, "erin", "erin-pw")
	keytab := realm.AddService(t, stsPrincipal, 0)
	realm.AddService(t, "HTTP/other.example.com", 0)
	manifests := stsManifest(t, "    allowedRoles: [admin]\n",
		"    kerberos:\n      enabled: true\n      servicePrincipal: "+stsPrincipal+"@"+realm.Realm+"\n      keytabSecretRef: {name: keytab}\n")
	manifests["sts.yaml"] = strings.Replace(manifests["sts.yaml"], "  tokenLifetime: 1h\n", "  tokenLifetime: 1h\n  defaultRelyingPartyRef: {name: portal}\n", 1)
	manifests["keytab.yaml"] = "apiVersion: v1\nkind: Secret\nmetadata: {name: keytab}\ndata:\n  krb5.keytab: " + base64.StdEncoding.EncodeToString(keytab) + "\n"
	return realm, testfixture.StartSTS(t, manifests)
}

// TestKerberosWSS4J: Apache WSS4J's Kerberos client (a ticket from a real
// MIT KDC in a GSS_Kerberosv5_AP_REQ BinarySecurityToken, an HMAC over Body
// and Timestamp keyed with the ticket's key) gets a token; the same
// message again, its AP-REQ with another Body, without the signature, with
// the Timestamp unsigned or signed with hmac-sha1 are all refused, with the
// default configuration.
func TestKerberosWSS4J(t *testing.T) {
	realm, sts := kerberosSTS(t)
	msgs := wss4jKerberosMessages(t, realm, "erin", "erin-pw")
	const soap12 = "application/soap+xml; charset=utf-8"

	for _, variant := range []string{"hmac-sha256", "keyid"} {
		status, body := post(t, sts.URL, soap12, msgs[variant])
		if status != http.StatusOK {
			t.Fatalf("%s: status %d\n%s", variant, status, body)
		}
		a, _ := verifiedAssertion(t, sts.CertFile, body, saml.SAML11)
		if a.Subject.NameID != "erin@"+realm.Realm || saml.AuthnKindOf(a.Authn.Method) != saml.AuthnKerberos {
			t.Errorf("%s: subject %q, authentication %q; want erin@%s and Kerberos", variant, a.Subject.NameID, a.Authn.Method, realm.Realm)
		}
	}

	signed := string(msgs["hmac-sha256"])
	unsigned := regexp.MustCompile(`(?s)<ds:Signature.*</ds:Signature>`).ReplaceAllString(signed, "")
	if unsigned == signed {
		t.Fatal("no ds:Signature to remove")
	}
	otherBody := strings.Replace(signed, "</wst:RequestType>", "</wst:RequestType><wst:KeyType>http://docs.oasis-open.org/ws-sx/ws-trust/200512/Bearer</wst:KeyType>", 1)
	if otherBody == signed {
		t.Fatal("no RequestType to extend")
	}
	for _, tc := range []struct {
		name, msg, code, reason string
	}{
		{"the same message again", signed, "InvalidSecurity", "already"},
		{"its AP-REQ with another Body", otherBody, "FailedCheck", ""},
		{"its AP-REQ without the signature", unsigned, "InvalidSecurity", "must sign the message"},
		{"the Timestamp unsigned", string(msgs["body-only"]), "InvalidSecurity", "Timestamp"},
		{"signed with hmac-sha1", string(msgs["hmac-sha1"]), "UnsupportedAlgorithm", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := post(t, sts.URL, soap12, []byte(tc.msg))
			expectFault(t, status, body, "1.2", nsSecExt, tc.code, tc.reason)
		})
	}
}

// TestKerberosUnsignedToken: a bare AP-REQ in a BinarySecurityToken, with
// nothing binding it to the message, authenticates nobody, whatever the
// ticket.
func TestKerberosUnsignedToken(t *testing.T) {
	realm, sts := kerberosSTS(t)
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
	for name, token := range map[string][]byte{
		"a valid ticket":               apReq(stsPrincipal),
		"a ticket for another service": apReq("HTTP/other.example.com"),
		"a garbled token":              []byte("not a kerberos token"),
	} {
		t.Run(name, func(t *testing.T) {
			r := stsclient.Request{Endpoint: sts.URL, AppliesTo: "urn:example:portal", KerberosToken: token, Now: time.Now()}
			status, body, err := r.Do(http.DefaultClient)
			if err != nil {
				t.Fatal(err)
			}
			expectFault(t, status, body, "1.2", nsSecExt, "InvalidSecurity", "must sign the message")
		})
	}
}

// wss4jKerberosMessages runs the WSS4J Kerberos client of the wssec tests
// for user@realm and returns its messages by variant name.
func wss4jKerberosMessages(t *testing.T, realm *kdc.KDC, user, password string) map[string][]byte {
	t.Helper()
	java := testtools.Tool(t, "java")
	classpath := testtools.JavaClasspath(t, "libwss4j-java", "/usr/share/java/wss4j.jar", "/usr/share/java/xmlsec.jar",
		"/usr/share/java/slf4j-api.jar", "/usr/share/java/commons-logging.jar", "/usr/share/java/commons-codec.jar")
	dir := t.TempDir()
	conf := filepath.Join(dir, "krb5.conf")
	if err := os.WriteFile(conf, []byte(realm.Krb5Conf), 0o600); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(testtools.RepoRoot(t), "internal", "wssec", "testdata", "wss4jkrb", "WssKerberosBST.java")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, java, "-cp", classpath, src, conf, user+"@"+realm.Realm, password, "HTTP@sts.example.com", dir)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("WSS4J client: %v\n%s\nKDC log:\n%s", err, out, realm.Log())
	}
	msgs := map[string][]byte{}
	for _, name := range []string{"hmac-sha256", "hmac-sha1", "keyid", "body-only"} {
		data, err := os.ReadFile(filepath.Join(dir, name+".xml"))
		if err != nil {
			t.Fatal(err)
		}
		msgs[name] = data
	}
	return msgs
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
