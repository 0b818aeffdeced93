package server_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/trustbroker/trustbroker/internal/client"
	"github.com/trustbroker/trustbroker/internal/devkeys"
	"github.com/trustbroker/trustbroker/internal/saml"
	"github.com/trustbroker/trustbroker/internal/server"
	"github.com/trustbroker/trustbroker/internal/testfixture"
)

// Outputs of the token generation matrix.
const (
	outBearer     = "SAML Bearer, no proof key"
	outSymmetric  = "SAML Holder-of-Key, Symmetric proof key"
	outAsymmetric = "SAML Holder-of-Key, Asymmetric proof key"
	outSV         = "SAML sender-vouches, no proof key"
)

// TestTokenGenerationMatrix runs every row of the second seed's Security
// Token Generation Matrix (table 4-2): the binding, the caller's token, the
// KeyType, OnBehalfOf and UseKey of the row go in, and the row's output
// token must come out. Asymmetric binding: the message is signed with the
// caller's registered X.509 certificate (with a UsernameToken inside for
// "Username" rows); Transport binding: the request goes over TLS.
func TestTokenGenerationMatrix(t *testing.T) {
	caller, err := devkeys.NewRSA("orders-service", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	keys := newRelyingPartyKeys(t)
	// The OnBehalfOf rows come from alice (Username) or the orders-service
	// certificate (X.509): both are listed as delegating requestors.
	manifests := stsManifest(t, sampleOnBehalfOf, "  onBehalfOf:\n    allowedTokenTypes: [UsernameToken]\n    allowedRequestors:\n"+
		"      users: [alice]\n      certificates: [{subject: 'CN=orders-service,O=trustbroker development'}]\n")
	manifests["sts.yaml"] = strings.Replace(manifests["sts.yaml"], "  authentication:\n", "  authentication:\n"+
		"    x509:\n      enabled: true\n      clientCertificates:\n        pem: |\n          "+
		strings.ReplaceAll(strings.TrimSpace(string(caller.CertPEM)), "\n", "\n          ")+"\n", 1)
	manifests["sts.yaml"] = manifestWithout(t, manifests["sts.yaml"], "    allowedRoles: [admin]\n")
	manifests["any.yaml"] = relyingPartyManifest("any", "urn:matrix:any", "[Bearer, SymmetricKey, PublicKey, SenderVouches]", "", keys)
	manifests["hok.yaml"] = relyingPartyManifest("hok", "urn:matrix:hok", "[SymmetricKey, PublicKey]", "", keys)
	serving, err := devkeys.NewRSA("127.0.0.1", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	manifests["sts.yaml"] = strings.Replace(manifests["sts.yaml"], "  authentication:\n", "  tls: {secretRef: {name: serving}}\n  authentication:\n", 1)
	manifests["serving.yaml"] = string(serving.SecretYAML("serving"))
	sts := testfixture.StartSTS(t, manifests)
	httpsURL, roots := serveTLS(t, sts, serving)
	httpsClient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}

	const svKeyType = "urn:oracle:sts:keytype:sender-vouches" // the seed's "Oracle-proprietary" KeyType
	obo := usernameTokenXML("dave", "")
	rows := []struct {
		row                           int
		binding, clientToken, keyType string
		onBehalfOf, useKey            bool
		want                          string
	}{
		{1, "Asymmetric", "X.509", "Bearer", true, false, outBearer},
		{2, "Asymmetric", "Username", "Bearer", true, false, outBearer},
		{3, "Asymmetric", "X.509", "Bearer", false, false, outBearer},
		{4, "Asymmetric", "Username", "Bearer", false, false, outBearer},
		{5, "Asymmetric", "X.509", "SymmetricKey", true, false, outSymmetric},
		{6, "Asymmetric", "Username", "SymmetricKey", true, false, outSymmetric},
		{7, "Asymmetric", "X.509", "SymmetricKey", false, false, outSymmetric},
		{8, "Asymmetric", "Username", "SymmetricKey", false, false, outSymmetric},
		{9, "Asymmetric", "X.509", "PublicKey", false, true, outAsymmetric},
		{10, "Asymmetric", "X.509", svKeyType, true, false, outSV},
		{11, "Asymmetric", "Username", svKeyType, true, false, outSV},
		{12, "Transport", "Username", "Bearer", true, false, outBearer},
		{13, "Transport", "Username", "Bearer", false, false, outBearer},
		{14, "Transport", "Username", "SymmetricKey", true, false, outSymmetric},
		{15, "Transport", "Username", "SymmetricKey", false, false, outSymmetric},
		{16, "Transport", "Username", svKeyType, true, false, outSV},
		{17, "Asymmetric", "X.509", "PublicKey", false, false, outAsymmetric},
		{18, "Asymmetric", "X.509", "none", false, false, outAsymmetric},
		{19, "Asymmetric", "Username", "none", false, false, outSymmetric},
		{20, "Transport", "Username", "none", false, false, outSymmetric},
	}
	for _, row := range rows {
		t.Run("row "+itoa(row.row), func(t *testing.T) {
			r := client.Request{Endpoint: sts.URL, AppliesTo: "urn:matrix:any", KeyType: row.keyType, Now: time.Now()}
			if row.keyType == "none" {
				r.AppliesTo = "urn:matrix:hok"
			}
			if row.clientToken == "Username" {
				r.Username, r.Password = "alice", "alice-password"
			}
			hc := http.DefaultClient
			if row.binding == "Asymmetric" {
				r.SigningKey, r.SigningCert = caller.Key, caller.Cert
			} else {
				r.Endpoint, hc = httpsURL, httpsClient
			}
			if row.onBehalfOf {
				r.OnBehalfOf = obo
			}
			if row.useKey {
				r.UseKey = caller.Cert
			}
			status, body, err := r.Do(hc)
			if err != nil {
				t.Fatal(err)
			}
			if status != http.StatusOK {
				t.Fatalf("status %d:\n%s", status, body)
			}
			a, doc := verifiedAssertion(t, sts.CertFile, body, saml.SAML20)
			if got := matrixOutput(a, doc.FindElement("//SubjectConfirmation//KeyInfo/EncryptedKey") != nil,
				doc.FindElement("//SubjectConfirmation//KeyInfo/X509Data/X509Certificate")); got != row.want {
				t.Errorf("output %q, want %q", got, row.want)
			}
			if cert := doc.FindElement("//SubjectConfirmation//KeyInfo/X509Data/X509Certificate"); row.want == outAsymmetric && !bytes.Equal(decode(t, cert.Text()), caller.Cert.Raw) {
				t.Error("the asymmetric proof key is not the caller's certificate")
			}
			wantSubject := map[string]string{"X.509": caller.Cert.Subject.String(), "Username": "alice"}[row.clientToken]
			if row.onBehalfOf {
				wantSubject = "dave"
			}
			if a.Subject.NameID != wantSubject {
				t.Errorf("subject %q, want %q", a.Subject.NameID, wantSubject)
			}
		})
	}
}

// matrixOutput names an assertion's confirmation the way the matrix does.
func matrixOutput(a *saml.Assertion, encryptedKey bool, cert interface{ Text() string }) string {
	switch {
	case a.Confirmation.Method == saml.Bearer:
		return outBearer
	case a.Confirmation.Method == saml.SenderVouches:
		return outSV
	case a.Confirmation.Method == saml.HolderOfKey && encryptedKey:
		return outSymmetric
	case a.Confirmation.Method == saml.HolderOfKey && cert != nil:
		return outAsymmetric
	}
	return "unexpected: " + a.Confirmation.Method.String()
}

// serveTLS serves the STS over TLS with its serving certificate and returns
// the endpoint and the roots that trust it.
func serveTLS(t *testing.T, sts *testfixture.STS, serving *devkeys.Pair) (string, *x509.CertPool) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: sts.Server.Handler(), ErrorLog: log.New(io.Discard, "", 0)}
	go hs.Serve(tls.NewListener(ln, server.TLSConfig(sts.Source.Holder)))
	t.Cleanup(func() { hs.Close() })
	roots := x509.NewCertPool()
	roots.AddCert(serving.Cert)
	return "https://" + ln.Addr().String() + "/sts", roots
}

func itoa(i int) string {
	if i < 10 {
		return "0" + string(rune('0'+i))
	}
	return string(rune('0'+i/10)) + string(rune('0'+i%10))
}
