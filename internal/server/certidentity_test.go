package server_test

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trustbroker/trustbroker/internal/client"
	"github.com/trustbroker/trustbroker/internal/saml"
	"github.com/trustbroker/trustbroker/internal/testfixture"
	"github.com/trustbroker/trustbroker/internal/testtools"
)

// clientCA issues client certificates shaped as a test needs.
type clientCA struct {
	key  crypto.Signer
	cert *x509.Certificate
}

func newClientCA(t *testing.T) *clientCA {
	t.Helper()
	key := testtools.CachedKeyPair(t, "certidentity-ca", "rsa2048", "Example Client CA", time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)).Key
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Example Client CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &clientCA{key: key, cert: cert}
}

// leaf is the shape of a client certificate.
type leaf struct {
	subject pkix.Name
	emails  []string // SAN rfc822Name
	upn     string   // SAN otherName 1.3.6.1.4.1.311.20.2.3
}

// issue makes a client certificate; all share one key (generation is slow).
func (ca *clientCA) issue(t *testing.T, l leaf) (crypto.Signer, *x509.Certificate) {
	t.Helper()
	key := testtools.CachedKeyPair(t, "certidentity-client", "rsa2048", "client", time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)).Key
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      l.subject,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if l.upn != "" {
		// crypto/x509 writes no otherName: build the whole SAN by hand.
		tmpl.ExtraExtensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 17}, Value: sanWithUPN(t, l.upn, l.emails)}}
	} else {
		tmpl.EmailAddresses = l.emails
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert
}

// sanWithUPN is a SubjectAltName with a UPN otherName and e-mail addresses.
func sanWithUPN(t *testing.T, upn string, emails []string) []byte {
	t.Helper()
	value, err := asn1.MarshalWithParams(upn, "utf8")
	if err != nil {
		t.Fatal(err)
	}
	typeID, err := asn1.Marshal(asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 20, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	explicit, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: value})
	if err != nil {
		t.Fatal(err)
	}
	names := []asn1.RawValue{{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: append(typeID, explicit...)}}
	for _, e := range emails {
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 1, Bytes: []byte(e)})
	}
	der, err := asn1.Marshal(names)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// certIdentitySTS trusts the CA for X.509 callers, keeps the sample's
// allowedRoles [admin], and has users named as certificates name them.
func certIdentitySTS(t *testing.T, ca *clientCA, identity string) *testfixture.STS {
	t.Helper()
	x509Spec := "    x509:\n      enabled: true\n      trustedCASecretRef: {name: client-ca}\n"
	if identity != "" {
		x509Spec += "      identity: " + identity + "\n"
	}
	m := stsManifest(t, "  authentication:\n", "  authentication:\n"+x509Spec)
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})
	m["client-ca.yaml"] = "apiVersion: v1\nkind: Secret\nmetadata: {name: client-ca}\nstringData:\n  ca.crt: |\n    " +
		strings.ReplaceAll(strings.TrimSpace(string(caPEM)), "\n", "\n    ") + "\n"
	// alice is the sample admin; the others are named by e-mail and UPN.
	m["users.yaml"] = `apiVersion: v1
kind: Secret
metadata: {name: dev-users}
stringData:
  users.yaml: |
    - username: alice
      password: alice-password
      roles: [admin]
      attributes: {mail: alice@example.com}
    - username: frank@example.com
      password: unused-password
      roles: [admin]
      attributes: {department: sales}
    - username: grace@corp.example.com
      password: unused-password
      roles: [admin]
`
	m["identity.yaml"] = `apiVersion: sts.trustbroker.io/v1alpha1
kind: RelyingParty
metadata: {name: by-mail}
spec:
  stsRef: {name: dev-sts}
  endpoint: urn:example:by-mail
  nameID: {attribute: mail}
  attributes:
  - {name: upn, from: upn}
  - {name: mail, from: mail}
  - {name: subjectDN, from: subjectDN}
  - {name: department, from: department}
---
apiVersion: sts.trustbroker.io/v1alpha1
kind: RelyingParty
metadata: {name: by-name}
spec:
  stsRef: {name: dev-sts}
  endpoint: urn:example:by-name
  attributes:
  - {name: upn, from: upn}
  - {name: mail, from: mail}
`
	return testfixture.StartSTS(t, m)
}

func signedBy(key crypto.Signer, cert *x509.Certificate, appliesTo string) client.Request {
	return client.Request{AppliesTo: appliesTo, SigningKey: key, SigningCert: cert}
}

// attributeValues reads a token's attributes by name.
func attributeValues(a *saml.Assertion) map[string][]string {
	out := map[string][]string{}
	for _, at := range a.Attributes {
		out[at.Name] = at.Values
	}
	return out
}

// TestCertificateCNIsNotAUserName: a certificate from the trusted CA whose
// subject is only CN=alice is not alice. Before, it got alice's admin role
// and a token; now its name is its subject DN, which the user store does
// not know, so it has no role and the STS (allowedRoles [admin]) refuses it.
// With an identity list that leaves subjectDN out, it names nobody and is
// refused as such, with the sources tried in the log.
func TestCertificateCNIsNotAUserName(t *testing.T) {
	ca := newClientCA(t)
	key, cnOnly := ca.issue(t, leaf{subject: pkix.Name{CommonName: "alice"}})

	sts := certIdentitySTS(t, ca, "")
	r := signedBy(key, cnOnly, echoService)
	r.Endpoint, r.Now = sts.URL, time.Now()
	status, body, err := r.Do(http.DefaultClient)
	if err != nil {
		t.Fatal(err)
	}
	expectFault(t, status, body, "1.2", nsTrust13, "FailedAuthentication", "")
	if logs := sts.Logs.String(); !strings.Contains(logs, `user \"CN=alice\" has roles []`) {
		t.Errorf("the refusal is not logged for the subject DN:\n%s", logs)
	}

	strict := certIdentitySTS(t, ca, "[upn, email]")
	r.Endpoint, r.Now = strict.URL, time.Now()
	status, body, err = r.Do(http.DefaultClient)
	if err != nil {
		t.Fatal(err)
	}
	expectFault(t, status, body, "1.2", nsSecExt, "FailedAuthentication", "")
	if logs := strict.Logs.String(); !strings.Contains(logs, "none of the identity sources tried (upn, email") {
		t.Errorf("the log does not say which identity sources were tried:\n%s", logs)
	}
}

// TestCertificateNamedByEmail: a certificate with an e-mail address in its
// subject alternative name is named by it: the user store's roles and
// attributes for that name apply, and a relying party naming the subject by
// mail gets it. Before, the CN named the caller, which the store did not
// know, so it had no role.
func TestCertificateNamedByEmail(t *testing.T) {
	ca := newClientCA(t)
	key, cert := ca.issue(t, leaf{subject: pkix.Name{CommonName: "frank-laptop", Organization: []string{"Example"}}, emails: []string{"frank@example.com"}})
	sts := certIdentitySTS(t, ca, "")
	a, _ := verifiedAssertion(t, sts.CertFile, issueOK(t, sts, signedBy(key, cert, "urn:example:by-mail")), saml.SAML20)
	if a.Subject.NameID != "frank@example.com" {
		t.Errorf("NameID %q, want the SAN e-mail", a.Subject.NameID)
	}
	attrs := attributeValues(a)
	for name, want := range map[string][]string{
		"mail":       {"frank@example.com"},
		"subjectDN":  {cert.Subject.String()},
		"department": {"sales"}, // from the user store, found by the certificate's name
	} {
		if !slices.Equal(attrs[name], want) {
			t.Errorf("attribute %s = %v, want %v (all: %v)", name, attrs[name], want, attrs)
		}
	}
	if _, ok := attrs["upn"]; ok {
		t.Errorf("a upn attribute for a certificate without one: %v", attrs)
	}

	// The subject's emailAddress counts when the SAN has none.
	key, cert = ca.issue(t, leaf{subject: pkix.Name{CommonName: "frank-desktop", ExtraNames: []pkix.AttributeTypeAndValue{
		{Type: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}, Value: "frank@example.com"}}}})
	a, _ = verifiedAssertion(t, sts.CertFile, issueOK(t, sts, signedBy(key, cert, "urn:example:by-name")), saml.SAML20)
	if a.Subject.NameID != "frank@example.com" {
		t.Errorf("NameID %q, want the subject's emailAddress", a.Subject.NameID)
	}
}

// TestCertificateNamedByUPN: a UPN in the subject alternative name comes
// first by default, before the e-mail address the certificate also has.
func TestCertificateNamedByUPN(t *testing.T) {
	ca := newClientCA(t)
	key, cert := ca.issue(t, leaf{subject: pkix.Name{CommonName: "Grace"}, upn: "grace@corp.example.com", emails: []string{"grace@example.com"}})
	sts := certIdentitySTS(t, ca, "")
	a, _ := verifiedAssertion(t, sts.CertFile, issueOK(t, sts, signedBy(key, cert, "urn:example:by-name")), saml.SAML20)
	if a.Subject.NameID != "grace@corp.example.com" {
		t.Errorf("NameID %q, want the UPN", a.Subject.NameID)
	}
	attrs := attributeValues(a)
	if !slices.Equal(attrs["upn"], []string{"grace@corp.example.com"}) || !slices.Equal(attrs["mail"], []string{"grace@example.com"}) {
		t.Errorf("attributes %v, want upn and mail from the certificate", attrs)
	}

	// The order is the resource's: e-mail first names the same certificate
	// by its e-mail address (not in the store, so refused by allowedRoles).
	emailFirst := certIdentitySTS(t, ca, "[email, upn]")
	r := signedBy(key, cert, "urn:example:by-name")
	r.Endpoint, r.Now = emailFirst.URL, time.Now()
	status, body, err := r.Do(http.DefaultClient)
	if err != nil {
		t.Fatal(err)
	}
	expectFault(t, status, body, "1.2", nsTrust13, "FailedAuthentication", "")
	if logs := emailFirst.Logs.String(); !strings.Contains(logs, `user \"grace@example.com\"`) {
		t.Errorf("the caller was not named by its e-mail address:\n%s", logs)
	}
}
