package server_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/trustbroker/trustbroker/internal/client"
	"github.com/trustbroker/trustbroker/internal/devkeys"
	"github.com/trustbroker/trustbroker/internal/saml"
	"github.com/trustbroker/trustbroker/internal/testfixture"
)

// x509STS is an STS that trusts one registered client certificate, and has
// a relying party for each proof kind.
func x509STS(t testing.TB, registered *devkeys.Pair, keys relyingPartyKeys) *testfixture.STS {
	t.Helper()
	manifests := stsManifest(t, "  authentication:\n", "  authentication:\n"+
		"    x509:\n      enabled: true\n      clientCertificates:\n        pem: |\n          "+
		strings.ReplaceAll(strings.TrimSpace(string(registered.CertPEM)), "\n", "\n          ")+"\n")
	manifests["sts.yaml"] = manifestWithout(t, manifests["sts.yaml"], "    allowedRoles: [admin]\n")
	manifests["hok.yaml"] = relyingPartyManifest("hok", "urn:example:hok", "[SymmetricKey, PublicKey, Bearer]", "", keys)
	manifests["pub.yaml"] = relyingPartyManifest("pub", "urn:example:pub", "[PublicKey, SymmetricKey]", "", keys)
	return testfixture.StartSTS(t, manifests)
}

// TestX509SignedRequests covers the matrix rows of an X.509 caller without
// OnBehalfOf: bearer (row 3), symmetric (row 7), asymmetric with and without
// UseKey (rows 9, 17) and no KeyType (row 18), and the refusals.
func TestX509SignedRequests(t *testing.T) {
	registered, err := devkeys.NewRSA("orders-service", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	keys := newRelyingPartyKeys(t)
	sts := x509STS(t, registered, keys)
	signed := func(r client.Request) client.Request {
		r.SigningKey, r.SigningCert = registered.Key, registered.Cert
		return r
	}
	cases := []struct {
		name    string
		req     client.Request
		method  saml.ConfirmationMethod
		boundTo []byte // the certificate the token is bound to, if any
	}{
		{"row 3: bearer", signed(client.Request{AppliesTo: "urn:example:hok", KeyType: "Bearer"}), saml.Bearer, nil},
		{"row 7: symmetric", signed(client.Request{AppliesTo: "urn:example:hok", KeyType: "SymmetricKey"}), saml.HolderOfKey, nil},
		{"row 9: UseKey with the signing certificate", signed(client.Request{AppliesTo: "urn:example:hok", KeyType: "PublicKey", UseKey: registered.Cert}), saml.HolderOfKey, registered.Cert.Raw},
		{"row 17: asymmetric, no UseKey", signed(client.Request{AppliesTo: "urn:example:hok", KeyType: "PublicKey"}), saml.HolderOfKey, registered.Cert.Raw},
		{"row 18: no KeyType", signed(client.Request{AppliesTo: "urn:example:pub", KeyType: "none"}), saml.HolderOfKey, registered.Cert.Raw},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := issueOK(t, sts, tc.req)
			a, doc := verifiedAssertion(t, sts.CertFile, body, saml.SAML20)
			// The certificate has no UPN or e-mail: its subject DN names it.
			if a.Subject.NameID != registered.Cert.Subject.String() || a.Confirmation.Method != tc.method || saml.AuthnKindOf(a.Authn.Method) != saml.AuthnX509 {
				t.Errorf("subject %q, confirmation %v, authentication %q; want the subject DN, %v, X.509", a.Subject.NameID, a.Confirmation.Method, a.Authn.Method, tc.method)
			}
			if tc.boundTo != nil {
				cert := doc.FindElement("//SubjectConfirmation//KeyInfo/X509Data/X509Certificate")
				if cert == nil || !bytes.Equal(decode(t, cert.Text()), tc.boundTo) {
					t.Errorf("the token is not bound to the signing certificate:\n%s", body)
				}
			}
		})
	}

	other, err := devkeys.NewRSA("someone-else", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("UseKey naming a key the caller did not prove", func(t *testing.T) {
		r := signed(client.Request{Endpoint: sts.URL, AppliesTo: "urn:example:hok", KeyType: "PublicKey", UseKey: other.Cert, Now: time.Now()})
		status, body, err := r.Do(http.DefaultClient)
		if err != nil {
			t.Fatal(err)
		}
		expectFault(t, status, body, "1.2", nsTrust13, "InvalidRequest", "UseKey names a key other than the certificate the request was signed with")
	})
	t.Run("unregistered certificate", func(t *testing.T) {
		r := client.Request{Endpoint: sts.URL, AppliesTo: echoService, SigningKey: other.Key, SigningCert: other.Cert, Now: time.Now()}
		status, body, err := r.Do(http.DefaultClient)
		if err != nil {
			t.Fatal(err)
		}
		expectFault(t, status, body, "1.2", nsSecExt, "FailedAuthentication", "")
	})
	t.Run("tampered body", func(t *testing.T) {
		r := signed(client.Request{Endpoint: sts.URL, AppliesTo: echoService, Now: time.Now()})
		envelope, contentType, err := r.Envelope()
		if err != nil {
			t.Fatal(err)
		}
		tampered := bytes.Replace(envelope, []byte(echoService), []byte("urn:example:portal"), 1)
		resp, err := http.Post(sts.URL, contentType, bytes.NewReader(tampered))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body bytes.Buffer
		body.ReadFrom(resp.Body)
		expectFault(t, resp.StatusCode, body.Bytes(), "1.2", nsSecExt, "FailedCheck", "")
	})
}

// TestX509SignedRequestFreshness: a captured signed request must not get
// tokens forever. Without a Timestamp, with one the signature does not
// cover, or with one older than maxMessageAge (whatever its Expires says),
// it is refused, and a freshly started second instance, whose replay
// store has never seen it, refuses it too.
func TestX509SignedRequestFreshness(t *testing.T) {
	registered, err := devkeys.NewRSA("orders-service", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	keys := newRelyingPartyKeys(t)
	sts, fresh := x509STS(t, registered, keys), x509STS(t, registered, keys)
	yearAgo := time.Now().Add(-365 * 24 * time.Hour)
	cases := []struct {
		name, code, reason string
		req                client.Request
	}{
		{"no Timestamp", "InvalidSecurity", "wsu:Timestamp that the signature covers", client.Request{Timestamp: "none", Now: time.Now()}},
		{"Timestamp not signed", "InvalidSecurity", "cover the Timestamp", client.Request{Timestamp: "unsigned", Now: time.Now()}},
		{"Created older than maxMessageAge", "MessageExpired", "", client.Request{Now: time.Now().Add(-10 * time.Minute), TimestampLifetime: time.Hour}},
		{"Created a year ago, Expires a year ahead", "MessageExpired", "", client.Request{Now: yearAgo, TimestampLifetime: 2 * 365 * 24 * time.Hour}},
	}
	t.Run("replayed", func(t *testing.T) {
		r := client.Request{Endpoint: sts.URL, AppliesTo: "urn:example:hok", SigningKey: registered.Key, SigningCert: registered.Cert, Now: time.Now()}
		envelope, contentType, err := r.Envelope()
		if err != nil {
			t.Fatal(err)
		}
		if status, body := post(t, sts.URL, contentType, envelope); status != http.StatusOK {
			t.Fatalf("first use: status %d\n%s", status, body)
		}
		status, body := post(t, sts.URL, contentType, envelope)
		expectFault(t, status, body, "1.2", nsSecExt, "InvalidSecurity", "already received")
	})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.req
			r.Endpoint, r.AppliesTo, r.SigningKey, r.SigningCert = sts.URL, echoService, registered.Key, registered.Cert
			envelope, contentType, err := r.Envelope()
			if err != nil {
				t.Fatal(err)
			}
			for _, url := range []string{sts.URL, fresh.URL} {
				status, body := post(t, url, contentType, envelope)
				expectFault(t, status, body, "1.2", nsSecExt, tc.code, tc.reason)
			}
		})
	}
}
