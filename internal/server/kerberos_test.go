package server_test

import (
	"encoding/base64"
	"net/http"
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
