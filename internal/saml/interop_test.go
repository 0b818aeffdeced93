package saml

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/testtools"
	"github.com/trustbroker/trustbroker/internal/xmlsec"
)

type algCase struct {
	name   string
	kind   string
	sig    xmlsec.SignatureAlgorithm
	digest xmlsec.DigestAlgorithm
}

var algCases = []algCase{
	{"rsa-sha256", "rsa2048", xmlsec.RSASHA256, xmlsec.SHA256},
	{"rsa-sha1", "rsa2048", xmlsec.RSASHA1, xmlsec.SHA1},
	{"rsa-sha512", "rsa2048", xmlsec.RSASHA512, xmlsec.SHA512},
	{"ecdsa-sha256", "p256", xmlsec.ECDSASHA256, xmlsec.SHA256},
}

// signedFile builds and signs a typical assertion and writes it, with the
// signing certificate as PEM, to a temporary directory.
func signedFile(t *testing.T, v Version, method ConfirmationMethod, ac algCase) (assertion *Assertion, xmlPath, certPath string, cert *x509.Certificate) {
	t.Helper()
	k := newTestKey(t, "interop-"+ac.kind, ac.kind)
	a := sampleAssertion(v, method)
	a.ID = NewID()
	if method == HolderOfKey {
		a.Confirmation.KeyInfo = keyInfoOf(t, k.Cert)
	}
	el, err := BuildSigned(v, a, newSigner(t, k, ac.sig, ac.digest))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	xmlPath = filepath.Join(dir, "assertion.xml")
	certPath = filepath.Join(dir, "cert.pem")
	if err := os.WriteFile(xmlPath, testtools.Serialize(t, el), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: k.Cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return a, xmlPath, certPath, k.Cert
}

func xmlsec1Verify(xmlsec1, certPath, xmlPath string, v Version) (string, error) {
	idAttr := "--id-attr:" + v.IDAttr()
	out, err := exec.Command(xmlsec1, "--verify", "--pubkey-cert-pem", certPath,
		idAttr, v.Namespace()+":Assertion", xmlPath).CombinedOutput()
	return string(out), err
}

// samlsignVerify runs OpenSAML's verifier; it resolves relative paths
// against /etc/opensaml, so both paths must be absolute.
func samlsignVerify(samlsign, certPath, xmlPath string) (string, error) {
	out, err := exec.Command(samlsign, "-c", certPath, "-f", xmlPath).CombinedOutput()
	return string(out), err
}

// TestInteropSignedAssertions checks every version, confirmation method and
// signature algorithm against xmlsec1 and OpenSAML's samlsign, and against
// our own Verify and Parse.
func TestInteropSignedAssertions(t *testing.T) {
	xmlsec1 := testtools.Tool(t, "xmlsec1")
	samlsign := testtools.Tool(t, "samlsign")
	for _, v := range []Version{SAML20, SAML11} {
		for _, method := range []ConfirmationMethod{Bearer, HolderOfKey, SenderVouches} {
			for _, ac := range algCases {
				if method != Bearer && ac.name != "rsa-sha256" {
					continue // algorithms are covered with bearer; methods with the default
				}
				t.Run(v.String()+"/"+method.String()+"/"+ac.name, func(t *testing.T) {
					a, xmlPath, certPath, cert := signedFile(t, v, method, ac)
					if out, err := xmlsec1Verify(xmlsec1, certPath, xmlPath, v); err != nil || !strings.Contains(out, "OK") {
						t.Errorf("xmlsec1 refused the signature: %v\n%s", err, out)
					}
					if out, err := samlsignVerify(samlsign, certPath, xmlPath); err != nil {
						t.Errorf("samlsign refused the signature: %v\n%s", err, out)
					}

					data, err := os.ReadFile(xmlPath)
					if err != nil {
						t.Fatal(err)
					}
					verified, err := xmlsec.Verify(parseXML(t, data), v.IDAttr(), []*x509.Certificate{cert}, xmlsec.AlgorithmPolicy{AllowSHA1: true})
					if err != nil {
						t.Fatalf("xmlsec.Verify: %v", err)
					}
					back, err := Parse(verified)
					if err != nil {
						t.Fatalf("Parse: %v", err)
					}
					assertSameAssertion(t, back, a, v)
				})
			}
		}
	}
}

func TestSignaturePlacement(t *testing.T) {
	k := newTestKey(t, "interop-rsa2048", "rsa2048")
	s := newSigner(t, k, "", "")
	tests := []struct {
		v     Version
		index int // among child elements
	}{
		{SAML20, 1}, // right after Issuer
		{SAML11, 3}, // last: Conditions, AttributeStatement, AuthenticationStatement, Signature
	}
	for _, tt := range tests {
		el, err := BuildSigned(tt.v, sampleAssertion(tt.v, Bearer), s)
		if err != nil {
			t.Fatal(err)
		}
		kids := el.ChildElements()
		if len(kids) <= tt.index || kids[tt.index].Tag != "Signature" {
			var tags []string
			for _, c := range kids {
				tags = append(tags, c.Tag)
			}
			t.Errorf("%s: children %v, want Signature at %d", tt.v, tags, tt.index)
		}
	}
}

// TestTamperedAssertionRefused changes the subject of a signed assertion:
// xmlsec1, samlsign and our Verify must all refuse it.
func TestTamperedAssertionRefused(t *testing.T) {
	xmlsec1 := testtools.Tool(t, "xmlsec1")
	samlsign := testtools.Tool(t, "samlsign")
	for _, v := range []Version{SAML20, SAML11} {
		t.Run(v.String(), func(t *testing.T) {
			_, xmlPath, certPath, cert := signedFile(t, v, Bearer, algCases[0])
			data, err := os.ReadFile(xmlPath)
			if err != nil {
				t.Fatal(err)
			}
			tampered := strings.Replace(string(data), "alice@example.test", "mallory@example.test", 1)
			if tampered == string(data) {
				t.Fatal("test assertion does not contain the subject to tamper with")
			}
			if err := os.WriteFile(xmlPath, []byte(tampered), 0o600); err != nil {
				t.Fatal(err)
			}
			if out, err := xmlsec1Verify(xmlsec1, certPath, xmlPath, v); err == nil {
				t.Errorf("xmlsec1 accepted a tampered assertion:\n%s", out)
			}
			if out, err := samlsignVerify(samlsign, certPath, xmlPath); err == nil {
				t.Errorf("samlsign accepted a tampered assertion:\n%s", out)
			}
			_, err = xmlsec.Verify(parseXML(t, []byte(tampered)), v.IDAttr(), []*x509.Certificate{cert}, xmlsec.AlgorithmPolicy{})
			if code, _ := faultCode(err); code != soap.FailedCheck {
				t.Errorf("Verify of a tampered assertion = %v, want FailedCheck", err)
			}
		})
	}
}

// TestWrappedAssertionNotReturned builds the classic signature-wrapping
// attack inside an RSTR-like container: the signed assertion is moved
// aside and a forged one with the same ID takes its place. Whatever element
// a caller hands to Verify, it never gets the forged content back.
func TestWrappedAssertionNotReturned(t *testing.T) {
	k := newTestKey(t, "interop-rsa2048", "rsa2048")
	trusted := []*x509.Certificate{k.Cert}
	for _, v := range []Version{SAML20, SAML11} {
		t.Run(v.String(), func(t *testing.T) {
			signed, err := BuildSigned(v, sampleAssertion(v, Bearer), newSigner(t, k, "", ""))
			if err != nil {
				t.Fatal(err)
			}
			forged := parseXML(t, []byte(strings.ReplaceAll(string(testtools.Serialize(t, signed)), "alice@example.test", "mallory@example.test")))

			container := etree.NewElement("t:RequestedSecurityToken")
			container.CreateAttr("xmlns:t", "http://docs.oasis-open.org/ws-sx/ws-trust/200512")
			container.AddChild(forged)
			hidden := container.CreateElement("t:Hidden")
			hidden.AddChild(signed.Copy())
			doc := parseXML(t, testtools.Serialize(t, container))

			for i, candidate := range doc.FindElements("//Assertion") {
				verified, err := xmlsec.Verify(candidate, v.IDAttr(), trusted, xmlsec.AlgorithmPolicy{})
				if err != nil {
					continue
				}
				a, err := Parse(verified)
				if err != nil {
					t.Fatalf("candidate %d: Parse of verified element: %v", i, err)
				}
				if a.Subject.NameID != "alice@example.test" {
					t.Fatalf("candidate %d: Verify returned forged content for subject %q", i, a.Subject.NameID)
				}
			}
			// The token in the position a client reads first is the forgery.
			first := doc.FindElement("./Assertion")
			if _, err := xmlsec.Verify(first, v.IDAttr(), trusted, xmlsec.AlgorithmPolicy{}); err == nil {
				t.Fatal("Verify accepted the forged assertion in the token position")
			}

			// A forged assertion that embeds the signed one in its Advice.
			outer := forged.Copy()
			for _, c := range outer.ChildElements() {
				if c.Tag == "Signature" {
					outer.RemoveChild(c)
				}
			}
			adv := outer.CreateElement(outer.Space + ":Advice")
			adv.AddChild(signed.Copy())
			if _, err := xmlsec.Verify(parseXML(t, testtools.Serialize(t, outer)), v.IDAttr(), trusted, xmlsec.AlgorithmPolicy{}); err == nil {
				t.Fatal("Verify accepted an unsigned assertion that wraps a signed one")
			}
		})
	}
}
