package server_test

import (
	"crypto/tls"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/trustbroker/trustbroker/internal/client"
	"github.com/trustbroker/trustbroker/internal/devkeys"
	"github.com/trustbroker/trustbroker/internal/saml"
	"github.com/trustbroker/trustbroker/internal/testfixture"
)

// TestTLSClientCertificates serves the STS over TLS with the serving
// certificate from its Secret, and authenticates callers by their TLS
// client certificate: a registered one gets a token naming it; an unknown
// one, or none, is refused.
func TestTLSClientCertificates(t *testing.T) {
	serving, err := devkeys.NewRSA("127.0.0.1", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	registered, err := devkeys.NewRSA("orders-service", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := devkeys.NewRSA("stranger", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	manifests := stsManifest(t, "  authentication:\n", "  tls: {secretRef: {name: serving}}\n  authentication:\n"+
		"    x509:\n      enabled: true\n      clientCertificates:\n        pem: |\n          "+
		strings.ReplaceAll(strings.TrimSpace(string(registered.CertPEM)), "\n", "\n          ")+"\n")
	manifests["sts.yaml"] = strings.Replace(manifests["sts.yaml"], "    allowedRoles: [admin]\n", "", 1)
	manifests["serving.yaml"] = string(serving.SecretYAML("serving"))
	sts := testfixture.StartSTS(t, manifests)

	url, roots := serveTLS(t, sts, serving)
	httpsClient := func(cert *devkeys.Pair) *http.Client {
		cfg := &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}
		if cert != nil {
			pair, err := tls.X509KeyPair(cert.CertPEM, cert.KeyPEM)
			if err != nil {
				t.Fatal(err)
			}
			cfg.Certificates = []tls.Certificate{pair}
		}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
	}
	noCredentials := func(r client.Request) client.Request { r.Username = ""; return r }

	t.Run("registered certificate", func(t *testing.T) {
		// The serving certificate is checked by the client: its CN is the address.
		r := noCredentials(client.Request{Endpoint: url, AppliesTo: "urn:example:portal", Now: time.Now()})
		status, body, err := r.Do(httpsClient(registered))
		if err != nil {
			t.Fatal(err)
		}
		if status != http.StatusOK {
			t.Fatalf("status %d:\n%s", status, body)
		}
		token, _ := client.Token(body)
		verifyWithXmlsec1(t, sts.CertFile, token, saml.SAML11)
		a, err := saml.Parse(parse(t, []byte(token)).Root())
		if err != nil {
			t.Fatal(err)
		}
		if a.Subject.NameID != registered.Cert.Subject.String() || saml.AuthnKindOf(a.Authn.Method) != saml.AuthnX509 {
			t.Errorf("subject %q, authentication %q; want the certificate's subject DN and X.509", a.Subject.NameID, a.Authn.Method)
		}
	})
	for _, tc := range []struct {
		name         string
		cert         *devkeys.Pair
		code, reason string
	}{
		{"unknown certificate", stranger, "FailedAuthentication", "Access denied"},
		{"no certificate", nil, "UnsupportedSecurityToken", "no credentials this STS accepts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := noCredentials(client.Request{Endpoint: url, AppliesTo: "urn:example:portal", Now: time.Now()})
			status, body, err := r.Do(httpsClient(tc.cert))
			if err != nil {
				t.Fatal(err)
			}
			expectFault(t, status, body, "1.2", nsSecExt, tc.code, tc.reason)
		})
	}
}
