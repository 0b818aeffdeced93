package crds

import (
	"strings"
	"testing"
)

const pemText = `-----BEGIN CERTIFICATE-----
MIIBhTCCASugAwIBAgIQIRi6zePL6mKjOipn+dNuaTAKBggqhkjOPQQDAjASMRAw
-----END CERTIFICATE-----`

// A valid manifest of each kind; each case below changes one thing.
const (
	validSTS = `apiVersion: sts.trustbroker.io/v1alpha1
kind: SecurityTokenService
metadata: {name: sts}
spec:
  issuer: https://sts.example.com/trust
  endpoint: https://sts.example.com/sts
  signing:
    secretRef: {name: signing}
`
	validRP = `apiVersion: sts.trustbroker.io/v1alpha1
kind: RelyingParty
metadata: {name: rp}
spec:
  stsRef: {name: sts}
  endpoint: https://app.example.com/service
`
	validTI = `apiVersion: sts.trustbroker.io/v1alpha1
kind: TrustedIssuer
metadata: {name: ti}
spec:
  stsRef: {name: sts}
  issuer: https://idp.example.com
  certificates:
    secretRef: {name: idp-certs}
`
)

// indentPEM indents the test certificate to sit under a `pem: |` key.
func indentPEM(spaces int) string {
	pad := strings.Repeat(" ", spaces)
	return pad + strings.ReplaceAll(pemText, "\n", "\n"+pad)
}

// TestValidManifestsAccepted makes sure the bases of the refusal table are
// themselves accepted, so that each refusal is caused by the change it shows.
func TestValidManifestsAccepted(t *testing.T) {
	for _, m := range []string{validSTS, validRP, validTI} {
		if out, ok := kubectl(t, m, "apply", "--dry-run=server", "-n", "default", "-f", "-"); !ok {
			t.Errorf("valid manifest refused:\n%s\n%s", m, out)
		}
	}
}

// TestInvalidManifestsRefused applies wrong manifests with
// `kubectl apply --dry-run=server` and checks that each is refused with the
// message that tells the user what to change.
func TestInvalidManifestsRefused(t *testing.T) {
	cases := []struct {
		name     string
		manifest string
		want     string
	}{
		{
			name:     "certificate given as secretRef and pem",
			manifest: validTI + "    pem: |\n" + indentPEM(6) + "\n",
			want:     "give the certificate exactly one way: secretRef, configMapRef or pem",
		},
		{
			name:     "certificate given no way",
			manifest: strings.Replace(validTI, "    secretRef: {name: idp-certs}\n", "    {}\n", 1),
			want:     "give the certificate exactly one way",
		},
		{
			name:     "pem without a certificate block",
			manifest: strings.Replace(validTI, "secretRef: {name: idp-certs}", "pem: not a certificate", 1),
			want:     "pem must hold at least one -----BEGIN CERTIFICATE----- block",
		},
		{
			name:     "STS endpoint not absolute",
			manifest: strings.Replace(validSTS, "endpoint: https://sts.example.com/sts", "endpoint: sts.example.com/sts", 1),
			want:     "endpoint must be an absolute http or https URL",
		},
		{
			name:     "STS endpoint with another scheme",
			manifest: strings.Replace(validSTS, "endpoint: https://sts.example.com/sts", "endpoint: ftp://sts.example.com/sts", 1),
			want:     "endpoint must be an absolute http or https URL",
		},
		{
			name:     "relying party endpoint relative",
			manifest: strings.Replace(validRP, "endpoint: https://app.example.com/service", "endpoint: /service", 1),
			want:     "endpoint must be an absolute http(s) URL",
		},
		{
			name:     "wsFederation reply URL with a fragment",
			manifest: validRP + "  wsFederation:\n    replyURLs: [\"https://app.example.com/signin#x\"]\n",
			want:     "each replyURL must be an absolute URL without a fragment",
		},
		{
			name:     "wsFederation without reply URLs",
			manifest: validRP + "  wsFederation:\n    replyURLs: []\n",
			want:     "spec.wsFederation.replyURLs: Invalid value: 0: spec.wsFederation.replyURLs in body should have at least 1 items",
		},
		{
			name:     "sign-in page colour not #rrggbb",
			manifest: validSTS + "  signInPage:\n    color: red\n",
			want:     "spec.signInPage.color in body should match",
		},
		{
			name:     "sign-in page logo over plain HTTP",
			manifest: validSTS + "  signInPage:\n    logoURL: http://cdn.example.com/logo.png\n",
			want:     "logoURL must be an https URL",
		},
		{
			name:     "unknown token type",
			manifest: validRP + "  tokenType: JWT\n",
			want:     `spec.tokenType: Unsupported value: "JWT": supported values: "SAML20", "SAML11"`,
		},
		{
			name:     "unknown key type",
			manifest: validRP + "  allowedKeyTypes: [Bearer, Magic]\n",
			want:     `Unsupported value: "Magic"`,
		},
		{
			name:     "unknown signature algorithm",
			manifest: validSTS + "    signatureAlgorithm: rsa-md5\n",
			want:     `spec.signing.signatureAlgorithm: Unsupported value: "rsa-md5"`,
		},
		{
			name:     "unknown data algorithm",
			manifest: validRP + "  encryption:\n    enabled: true\n    dataAlgorithm: rc4\n    certificate:\n      secretRef: {name: app}\n",
			want:     `spec.encryption.dataAlgorithm: Unsupported value: "rc4"`,
		},
		{
			name:     "rsa-1_5 without the opt-in",
			manifest: validRP + "  encryption:\n    enabled: true\n    keyTransport: rsa-1_5\n    certificate:\n      secretRef: {name: app}\n",
			want:     "keyTransport rsa-1_5 is insecure: use rsa-oaep, or set allowInsecureKeyTransport: true",
		},
		{
			name:     "encryption without a certificate",
			manifest: validRP + "  encryption:\n    enabled: true\n",
			want:     "encryption.enabled needs the relying party's certificate",
		},
		{
			name:     "lifetime that is not a duration",
			manifest: validRP + "  tokenLifetime: forever\n",
			want:     "tokenLifetime must be a duration such as 1h or 30m, greater than zero and at most 24h",
		},
		{
			name:     "lifetime over 24h",
			manifest: validSTS + "  tokenLifetime: 48h\n",
			want:     "tokenLifetime must be a duration such as 1h or 30m, greater than zero and at most 24h",
		},
		{
			name:     "clock skew over an hour",
			manifest: validSTS + "  maxClockSkew: 2h\n",
			want:     "maxClockSkew must be a duration such as 5m, at most 1h",
		},
		{
			name:     "prefix match on an endpoint with a query",
			manifest: strings.Replace(validRP, "endpoint: https://app.example.com/service", "endpoint: https://app.example.com/service?tenant=a\n  match: Prefix", 1),
			want:     "match: Prefix needs an endpoint without a query string",
		},
		{
			name:     "username token without a user store",
			manifest: validSTS + "  authentication:\n    usernameToken: {enabled: true}\n",
			want:     "usernameToken.enabled needs a userStore",
		},
		{
			name: "user store with both a Secret and LDAP",
			manifest: validSTS + "  authentication:\n    usernameToken:\n      enabled: true\n      userStore:\n" +
				"        secretRef: {name: users}\n        ldap: {url: 'ldap://ldap:389', userBaseDN: 'dc=example'}\n",
			want: "userStore takes exactly one of secretRef or ldap",
		},
		{
			name: "LDAP URL with another scheme",
			manifest: validSTS + "  authentication:\n    usernameToken:\n      enabled: true\n      userStore:\n" +
				"        ldap: {url: 'http://ldap:389', userBaseDN: 'dc=example'}\n",
			want: "ldap.url must start with ldap:// or ldaps://",
		},
		{
			name:     "x509 without anything to trust",
			manifest: validSTS + "  authentication:\n    x509: {enabled: true}\n",
			want:     "x509.enabled needs trustedCASecretRef or clientCertificates",
		},
		{
			name:     "kerberos without a keytab",
			manifest: validSTS + "  authentication:\n    kerberos: {enabled: true, servicePrincipal: HTTP/sts@EXAMPLE.COM}\n",
			want:     "kerberos.enabled needs servicePrincipal and keytabSecretRef",
		},
		{
			name:     "trusted address that is not an address",
			manifest: validSTS + "  trustedAddresses: [10.0.0.0/8, intranet]\n",
			want:     "trustedAddresses must be IP addresses or CIDR ranges",
		},
		{
			name:     "replay store in memory and Redis",
			manifest: validSTS + "  replayDetection:\n    store:\n      memory: {}\n      redis: {address: 'redis:6379'}\n",
			want:     "replayDetection.store takes memory or redis, not both",
		},
		{
			name:     "trusted issuer with an unknown usage",
			manifest: validTI + "  allowedUsages: [Impersonate]\n",
			want:     `Unsupported value: "Impersonate"`,
		},
		{
			name:     "relying party without an STS",
			manifest: strings.Replace(validRP, "  stsRef: {name: sts}\n", "", 1),
			want:     "spec.stsRef: Required value",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, ok := kubectl(t, tc.manifest, "apply", "--dry-run=server", "-n", "default", "-f", "-")
			if ok {
				t.Fatalf("manifest was accepted, want refusal with %q:\n%s", tc.want, tc.manifest)
			}
			if !strings.Contains(out, tc.want) {
				t.Errorf("refused with:\n%s\nwant the message to contain %q", out, tc.want)
			}
		})
	}
}
