package server_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/trustbroker/trustbroker/internal/client"
	"github.com/trustbroker/trustbroker/internal/saml"
	"github.com/trustbroker/trustbroker/internal/testfixture"
	"github.com/trustbroker/trustbroker/internal/testtools/slapd"
)

const ldapDirectory = `dn: ou=people,dc=example,dc=com
objectClass: organizationalUnit
ou: people

dn: ou=groups,dc=example,dc=com
objectClass: organizationalUnit
ou: groups

dn: uid=carol,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
uid: carol
cn: Carol Directory
sn: Directory
mail: carol@example.com
userPassword: carol-pw

dn: uid=dan,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
uid: dan
cn: Dan
sn: Outsider
mail: dan@example.com
userPassword: dan-pw

dn: cn=admin,ou=groups,dc=example,dc=com
objectClass: groupOfNames
cn: admin
member: uid=carol,ou=people,dc=example,dc=com
`

// TestLDAPUserStore authenticates against a real slapd: the password is
// checked by binding, groups become roles (allowedRoles: [admin]), directory
// attributes reach the token, and a directory that is down is a
// RequestFailed fault, not a wrong password.
func TestLDAPUserStore(t *testing.T) {
	dir := slapd.Start(t, slapd.Options{LDIF: ldapDirectory})
	manifests := stsManifest(t, "        secretRef:\n          name: dev-users\n",
		"        ldap:\n          url: "+dir.URL+"\n          bindDN: '"+dir.RootDN+"'\n          bindPasswordSecretRef: {name: ldap-bind}\n"+
			"          userBaseDN: 'ou=people,dc=example,dc=com'\n          groupBaseDN: 'ou=groups,dc=example,dc=com'\n"+
			"          attributes: [mail, cn]\n          timeout: 2s\n")
	manifests["sts.yaml"] = manifestWithout(t, manifests["sts.yaml"], "      allowPasswordDigest: true\n")
	manifests["ldap-bind.yaml"] = "apiVersion: v1\nkind: Secret\nmetadata: {name: ldap-bind}\nstringData: {password: '" + dir.RootPassword + "'}\n"
	sts := testfixture.StartSTS(t, manifests)

	token := issue(t, sts, client.Request{Username: "carol", Password: "carol-pw", AppliesTo: echoService})
	verifyWithXmlsec1(t, sts.CertFile, token, saml.SAML20)
	a, err := saml.Parse(parse(t, []byte(token)).Root())
	if err != nil {
		t.Fatal(err)
	}
	if a.Subject.NameID != "carol@example.com" {
		t.Errorf("NameID %q, want the directory's mail", a.Subject.NameID)
	}
	var roles []string
	for _, attr := range a.Attributes {
		if attr.Name == "http://schemas.microsoft.com/ws/2008/06/identity/claims/role" {
			roles = attr.Values
		}
	}
	if !slices.Equal(roles, []string{"admin"}) {
		t.Errorf("roles %v, want the directory group admin", roles)
	}

	for _, tc := range []struct {
		name, user, password string
		code, ns, reason     string
	}{
		{"wrong password", "carol", "nope", "FailedAuthentication", nsSecExt, "credentials could not be verified"},
		{"not in an allowed group", "dan", "dan-pw", "FailedAuthentication", nsTrust13, "Access denied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := client.Request{Endpoint: sts.URL, Username: tc.user, Password: tc.password, AppliesTo: echoService, Now: time.Now()}
			status, body, err := r.Do(http.DefaultClient)
			if err != nil {
				t.Fatal(err)
			}
			expectFault(t, status, body, "1.2", tc.ns, tc.code, tc.reason)
		})
	}

	t.Run("directory down", func(t *testing.T) {
		dir.Stop()
		r := client.Request{Endpoint: sts.URL, Username: "dan", Password: "dan-pw", AppliesTo: echoService, Now: time.Now()}
		status, body, err := r.Do(http.DefaultClient)
		if err != nil {
			t.Fatal(err)
		}
		expectFault(t, status, body, "1.2", nsTrust13, "RequestFailed", "user directory cannot be reached")
	})
}
