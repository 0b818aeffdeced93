package server_test

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/devkeys"
	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/server"
	"github.com/trustbroker/trustbroker/internal/testfixture"
	"github.com/trustbroker/trustbroker/internal/testtools"
	"github.com/trustbroker/trustbroker/internal/xmlsec"
)

const (
	fmNSMD   = "urn:oasis:names:tc:SAML:2.0:metadata"
	fmNSFed  = "http://docs.oasis-open.org/wsfed/federation/200706"
	fmIDAttr = "ID " + fmNSMD + ":EntityDescriptor"
)

// metadataSigner is a signer with a key made once per test binary.
func metadataSigner(t *testing.T) (*xmlsec.Signer, testtools.KeyPair) {
	t.Helper()
	now := time.Now()
	kp := testtools.CachedKeyPair(t, "federation-metadata", "rsa2048", "sts.example.com token signing", now.Add(-time.Hour), now.Add(24*time.Hour))
	signer, err := xmlsec.NewSigner(kp.Key, []*x509.Certificate{kp.Cert}, "", "", xmlsec.AlgorithmPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	return signer, kp
}

func metadataSnapshot() *policy.Snapshot {
	snap := mexSnapshot("https://sts.example.com/sts", textOnly, false)
	snap.STS.Issuer = "http://sts.example.com/adfs/services/trust"
	snap.STS.SAML.AttributeNamespace = "http://schemas.xmlsoap.org/claims"
	snap.RelyingParties = []*policy.RelyingParty{
		{Name: "app", Endpoint: "https://app.example.com/", NameID: policy.NameID{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"},
			Attributes:         []policy.AttributeMapping{{Name: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn", From: "upn"}, {Name: "department", From: "department"}},
			IncludeMemberships: true},
		{Name: "portal", Endpoint: "urn:example:portal", TokenType: policy.SAML11,
			Attributes: []policy.AttributeMapping{{Name: "emailaddress", From: "mail"}}},
	}
	return snap
}

// TestFederationMetadataGolden pins the document, with its random ID and
// its signature left out.
func TestFederationMetadataGolden(t *testing.T) {
	signer, _ := metadataSigner(t)
	doc, err := server.FederationMetadata(metadataSnapshot(), signer)
	if err != nil {
		t.Fatal(err)
	}
	root := doc.Root()
	root.RemoveChild(root.SelectElement("ds:Signature"))
	root.RemoveAttr("ID")
	// The key is made per test binary.
	for _, c := range root.FindElements("//X509Certificate") {
		c.SetText("(the token-signing certificate)")
	}
	doc.Indent(2)
	got, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	testtools.Golden(t, filepath.Join("testdata", "federation-metadata.golden.xml"), got, *update)
}

// TestFederationMetadataIsSigned: xmlsec1 verifies the signature with the
// token-signing certificate and refuses the document once altered; the
// signature is enveloped, exclusive c14n, RSA-SHA256, over the whole
// EntityDescriptor, and it comes first as the schema wants.
func TestFederationMetadataIsSigned(t *testing.T) {
	signer, kp := metadataSigner(t)
	doc, err := server.FederationMetadata(metadataSnapshot(), signer)
	if err != nil {
		t.Fatal(err)
	}
	data, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	certFile := filepath.Join(t.TempDir(), "signing.crt")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: kp.Cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := testtools.XMLSec1Verify(t, certFile, data, fmIDAttr); err != nil {
		t.Fatalf("the metadata does not verify: %v\n%s", err, data)
	}
	forged := bytes.Replace(data, []byte("/adfs/ls/"), []byte("/evil/ls/"), 1)
	if err := testtools.XMLSec1Verify(t, certFile, forged, fmIDAttr); err == nil {
		t.Fatal("xmlsec1 verified altered metadata")
	}
	root := parse(t, data).Root()
	first := root.ChildElements()[0]
	if first.Tag != "Signature" {
		t.Fatalf("the first child is %s, want ds:Signature", first.Tag)
	}
	for _, want := range []string{
		`SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"`,
		`CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"`,
		`Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"`,
		`URI="#` + root.SelectAttrValue("ID", "") + `"`,
	} {
		if !strings.Contains(string(data), want) {
			t.Errorf("the signature lacks %s", want)
		}
	}
}

// TestFederationMetadataFollowsConfiguration: the metadata at the AD FS
// path names the live signing certificate, endpoints and claims; a new
// relying party and a rotated signing key show at once.
func TestFederationMetadataFollowsConfiguration(t *testing.T) {
	sts := testfixture.StartSTS(t, nil)
	url := strings.TrimSuffix(sts.URL, "/sts") + server.FederationMetadataPath
	root := getFederationMetadata(t, url, sts.CertFile)
	if got := root.SelectAttrValue("entityID", ""); got != "http://127.0.0.1:8080/trust" {
		t.Errorf("entityID %q, want the STS's issuer", got)
	}
	role := root.FindElement("RoleDescriptor")
	if role == nil || role.SelectAttrValue("xsi:type", "") != "fed:SecurityTokenServiceType" || role.SelectElement("fed:ClaimTypesOffered") == nil {
		t.Fatal("no fed:SecurityTokenServiceType RoleDescriptor with ClaimTypesOffered")
	}
	if got := role.FindElement("fed:PassiveRequestorEndpoint/wsa:EndpointReference/wsa:Address"); got == nil || got.Text() != "http://127.0.0.1:8080/adfs/ls/" {
		t.Errorf("PassiveRequestorEndpoint %v, want the sample endpoint's host with /adfs/ls/", got)
	}
	if got := role.FindElement("fed:SecurityTokenServiceEndpoint/wsa:EndpointReference/wsa:Metadata/mex:Metadata/mex:MetadataSection/mex:MetadataReference/wsa:Address"); got == nil || got.Text() != "http://127.0.0.1:8080/adfs/services/trust/mex" {
		t.Errorf("the WS-Trust endpoint's mex reference is %v", got)
	}
	if sso := root.FindElement("IDPSSODescriptor/SingleSignOnService"); sso == nil || sso.SelectAttrValue("Location", "") != "http://127.0.0.1:8080/adfs/ls/" {
		t.Errorf("IDPSSODescriptor SingleSignOnService %v", sso)
	}
	if claims := offeredClaims(root); !slices.Contains(claims, "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress") || slices.Contains(claims, "urn:example:new-claim") {
		t.Errorf("claims offered %v", claims)
	}

	sts.WriteManifest(t, "new.yaml", `apiVersion: sts.trustbroker.io/v1alpha1
kind: RelyingParty
metadata:
  name: new
spec:
  stsRef: {name: dev-sts}
  endpoint: https://new.example.com/
  attributes:
  - {name: "urn:example:new-claim", from: mail}
`)
	rotated, err := devkeys.NewRSA("rotated-sts", time.Now(), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	sts.WriteManifest(t, "signing.key.yaml", string(rotated.SecretYAML("dev-sts-signing")))
	if err := sts.Source.Load(); err != nil {
		t.Fatal(err)
	}
	certFile := filepath.Join(t.TempDir(), "rotated.crt")
	if err := os.WriteFile(certFile, rotated.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	root = getFederationMetadata(t, url, certFile)
	if claims := offeredClaims(root); !slices.Contains(claims, "urn:example:new-claim") {
		t.Errorf("after adding a relying party: claims offered %v", claims)
	}
	for _, kd := range root.FindElements("//KeyDescriptor//X509Certificate") {
		if kd.Text() != base64.StdEncoding.EncodeToString(rotated.Cert.Raw) {
			t.Error("after rotating the signing key: a KeyDescriptor still names the old certificate")
		}
	}
}

// getFederationMetadata fetches the metadata and verifies it with the
// certificate in certFile.
func getFederationMetadata(t *testing.T, url, certFile string) *etree.Element {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != server.FederationMetadataContentType {
		t.Fatalf("GET %s: %d %s\n%s", url, resp.StatusCode, resp.Header.Get("Content-Type"), data)
	}
	if err := testtools.XMLSec1Verify(t, certFile, data, fmIDAttr); err != nil {
		t.Fatalf("the metadata does not verify with the signing certificate: %v", err)
	}
	return parse(t, data).Root()
}

func offeredClaims(root *etree.Element) []string {
	var uris []string
	for _, ct := range root.FindElements("//fed:ClaimTypesOffered/auth:ClaimType") {
		uris = append(uris, ct.SelectAttrValue("Uri", ""))
	}
	return uris
}
