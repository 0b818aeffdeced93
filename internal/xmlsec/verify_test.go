package xmlsec

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/testtools"
)

func TestVerifyFaults(t *testing.T) {
	k := newTestKey(t, "signer-rsa2048", "rsa2048")
	stranger := newTestKey(t, "other-rsa2048", "rsa2048")
	trusted := []*x509.Certificate{k.Cert}
	s256 := mustSigner(t, k, RSASHA256, SHA256, AlgorithmPolicy{})
	s1 := mustSigner(t, k, RSASHA1, SHA256, AlgorithmPolicy{AllowSHA1: true})
	d1 := mustSigner(t, k, RSASHA256, SHA1, AlgorithmPolicy{AllowSHA1: true})

	tests := []struct {
		name    string
		signer  *Signer
		mutate  func(el *etree.Element)
		trusted []*x509.Certificate
		policy  AlgorithmPolicy
		want    soap.FaultCode
	}{
		{"tampered content", s256, func(el *etree.Element) {
			el.FindElement("./Item").SetText("changed")
		}, trusted, AlgorithmPolicy{}, soap.FailedCheck},
		{"tampered attribute", s256, func(el *etree.Element) {
			el.CreateAttr("Kind", "y")
		}, trusted, AlgorithmPolicy{}, soap.FailedCheck},
		{"added element", s256, func(el *etree.Element) {
			el.CreateElement("a:Extra")
		}, trusted, AlgorithmPolicy{}, soap.FailedCheck},
		{"tampered SignedInfo", s256, func(el *etree.Element) {
			el.FindElement("./Signature/SignedInfo/Reference/DigestValue").SetText("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
		}, trusted, AlgorithmPolicy{}, soap.FailedCheck},
		{"bad signature value", s256, func(el *etree.Element) {
			v := el.FindElement("./Signature/SignatureValue")
			v.SetText("AAAA" + v.Text()[4:])
		}, trusted, AlgorithmPolicy{}, soap.FailedCheck},
		{"untrusted certificate", s256, nil, []*x509.Certificate{stranger.Cert}, AlgorithmPolicy{}, soap.InvalidSecurityToken},
		{"no trusted certificates", s256, nil, nil, AlgorithmPolicy{}, soap.InvalidSecurityToken},
		{"rsa-sha1 refused by default", s1, nil, trusted, AlgorithmPolicy{}, soap.UnsupportedAlgorithm},
		{"sha1 digest refused by default", d1, nil, trusted, AlgorithmPolicy{}, soap.UnsupportedAlgorithm},
		{"algorithm outside allow-list", s256, nil, trusted, AlgorithmPolicy{Signatures: []SignatureAlgorithm{RSASHA512}}, soap.UnsupportedAlgorithm},
		{"unknown signature method", s256, func(el *etree.Element) {
			el.FindElement("./Signature/SignedInfo/SignatureMethod").CreateAttr("Algorithm", "http://www.w3.org/2001/04/xmldsig-more#rsa-md5")
		}, trusted, AlgorithmPolicy{}, soap.UnsupportedAlgorithm},
		{"XSLT transform", s256, func(el *etree.Element) {
			tr := el.FindElement("./Signature/SignedInfo/Reference/Transforms").CreateElement("ds:Transform")
			tr.CreateAttr("Algorithm", "http://www.w3.org/TR/1999/REC-xslt-19991116")
		}, trusted, AlgorithmPolicy{}, soap.UnsupportedAlgorithm},
		{"no enveloped transform", s256, func(el *etree.Element) {
			ts := el.FindElement("./Signature/SignedInfo/Reference/Transforms")
			ts.RemoveChildAt(0)
		}, trusted, AlgorithmPolicy{}, soap.InvalidSecurity},
		{"not signed", s256, func(el *etree.Element) {
			el.RemoveChild(el.FindElement("./Signature"))
		}, trusted, AlgorithmPolicy{}, soap.InvalidSecurity},
		{"two signatures", s256, func(el *etree.Element) {
			el.AddChild(el.FindElement("./Signature").Copy())
		}, trusted, AlgorithmPolicy{}, soap.InvalidSecurity},
		{"reference to another element", s256, func(el *etree.Element) {
			el.FindElement("./Signature/SignedInfo/Reference").CreateAttr("URI", "#_other")
		}, trusted, AlgorithmPolicy{}, soap.InvalidSecurity},
		{"whole-document reference", s256, func(el *etree.Element) {
			el.FindElement("./Signature/SignedInfo/Reference").CreateAttr("URI", "")
		}, trusted, AlgorithmPolicy{}, soap.InvalidSecurity},
		{"ID changed", s256, func(el *etree.Element) {
			el.CreateAttr("ID", "_d2")
		}, trusted, AlgorithmPolicy{}, soap.InvalidSecurity},
		{"second prefixed ID", s256, func(el *etree.Element) {
			el.CreateAttr("xmlns:p", "urn:p")
			el.CreateAttr("p:ID", "_d1")
		}, trusted, AlgorithmPolicy{}, soap.InvalidSecurity},
		{"two references", s256, func(el *etree.Element) {
			si := el.FindElement("./Signature/SignedInfo")
			si.AddChild(si.FindElement("./Reference").Copy())
		}, trusted, AlgorithmPolicy{}, soap.InvalidSecurity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			el := signSample(t, tt.signer)
			if tt.mutate != nil {
				tt.mutate(el)
			}
			got, err := Verify(el, "ID", tt.trusted, tt.policy)
			if err == nil {
				t.Fatalf("Verify accepted it and returned %v", got)
			}
			code, ok := faultCode(err)
			if !ok || code != tt.want {
				t.Fatalf("Verify error = %v, want fault %s", err, tt.want.Local)
			}
		})
	}
}

func TestVerifyAtCertificateValidity(t *testing.T) {
	k := newTestKey(t, "signer-rsa2048", "rsa2048")
	expired := testtools.SelfSigned(t, k.Key, "expired", testNow.Add(-48*time.Hour), testNow.Add(-24*time.Hour))
	s, err := NewSigner(k.Key, []*x509.Certificate{expired}, "", "", AlgorithmPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	el := signSample(t, s)
	trusted := []*x509.Certificate{expired}

	if _, err := Verify(el, "ID", trusted, AlgorithmPolicy{}); err != nil {
		t.Errorf("Verify (pinned key, no time check) = %v, want success", err)
	}
	_, err = VerifyAt(el, "ID", trusted, AlgorithmPolicy{}, testNow)
	if code, _ := faultCode(err); code != soap.InvalidSecurityToken {
		t.Errorf("VerifyAt with expired certificate = %v, want InvalidSecurityToken", err)
	}
	if _, err := VerifyAt(el, "ID", trusted, AlgorithmPolicy{}, testNow.Add(-36*time.Hour)); err != nil {
		t.Errorf("VerifyAt inside validity = %v", err)
	}
}

func TestVerifyWithoutKeyInfoTriesTrustedCertificates(t *testing.T) {
	k := newTestKey(t, "signer-rsa2048", "rsa2048")
	other := newTestKey(t, "other-rsa2048", "rsa2048")
	el := signSample(t, mustSigner(t, k, "", "", AlgorithmPolicy{}))
	sig := el.FindElement("./Signature")
	sig.RemoveChild(sig.FindElement("./KeyInfo"))

	if _, err := Verify(el, "ID", []*x509.Certificate{other.Cert, k.Cert}, AlgorithmPolicy{}); err != nil {
		t.Fatalf("Verify = %v, want success with the second trusted certificate", err)
	}
	_, err := Verify(el, "ID", []*x509.Certificate{other.Cert}, AlgorithmPolicy{})
	if code, _ := faultCode(err); code != soap.FailedCheck {
		t.Fatalf("Verify with only a wrong certificate = %v, want FailedCheck", err)
	}
}

func TestVerifyECDSAKeyInfoMismatch(t *testing.T) {
	// An ECDSA signature whose KeyInfo names a trusted RSA certificate must
	// fail cleanly, not be checked with the wrong key type.
	ec := newTestKey(t, "signer-p256", "p256")
	rsaKey := newTestKey(t, "signer-rsa2048", "rsa2048")
	el := signSample(t, mustSigner(t, ec, ECDSASHA256, SHA256, AlgorithmPolicy{}))
	sig := el.FindElement("./Signature")
	sig.RemoveChild(sig.FindElement("./KeyInfo"))
	_, err := Verify(el, "ID", []*x509.Certificate{rsaKey.Cert}, AlgorithmPolicy{})
	if code, _ := faultCode(err); code != soap.FailedCheck {
		t.Fatalf("Verify = %v, want FailedCheck", err)
	}
}

func TestVerifyReturnsOnlySignedContent(t *testing.T) {
	// Signature wrapping: the signed element is moved into an unsigned
	// wrapper that carries a forged copy with the same ID. Whatever the
	// caller passes, it gets back either an error or the signed content.
	k := newTestKey(t, "signer-rsa2048", "rsa2048")
	trusted := []*x509.Certificate{k.Cert}
	signed := signSample(t, mustSigner(t, k, "", "", AlgorithmPolicy{}))

	forged := signed.Copy()
	forged.FindElement("./Item").SetText("forged")
	forged.AddChild(signed.Copy()) // original, with its signature, hidden inside
	if got, err := Verify(forged, "ID", trusted, AlgorithmPolicy{}); err == nil {
		t.Fatalf("Verify accepted the forged wrapper: Item=%q", got.FindElement("./Item").Text())
	}

	// Forged element without a signature of its own, original nested.
	bare := forged.Copy()
	bare.RemoveChild(bare.FindElement("./Signature"))
	if got, err := Verify(bare, "ID", trusted, AlgorithmPolicy{}); err == nil {
		t.Fatalf("Verify accepted an unsigned element wrapping a signed one: Item=%q", got.FindElement("./Item").Text())
	}

	// The nested original still verifies, and what comes back is the original.
	nested := forged.FindElement("./Doc")
	got, err := Verify(nested, "ID", trusted, AlgorithmPolicy{})
	if err != nil {
		t.Fatalf("Verify of the original: %v", err)
	}
	if v := got.FindElement("./Item").Text(); v != "value" {
		t.Fatalf("verified Item = %q, want the signed value", v)
	}
}

func TestVerifyCorpusSignatures(t *testing.T) {
	dir := testtools.CorpusDir(t)
	tests := []struct {
		file   string
		idAttr string
		alg    string // SignatureMethod in the file
		sha1   bool
	}{
		{"aad-wsfed-rstr2005-saml2-wresult.xml", "ID", URIRSASHA256, false},
		{"adfs-rstrc13-saml11-bearer-naturalcauses.xml", "AssertionID", URIRSASHA1, true},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, tt.file))
			if err != nil {
				t.Skipf("corpus file missing: %v", err)
			}
			doc := etree.NewDocument()
			if err := doc.ReadFromBytes(data); err != nil {
				t.Fatal(err)
			}
			var assertion *etree.Element
			for _, el := range doc.FindElements("//Assertion") {
				assertion = el
			}
			if assertion == nil {
				t.Fatal("no Assertion in corpus file")
			}
			certEl := assertion.FindElement(".//X509Certificate")
			certs, err := keyInfoCertificates(certEl.Parent().Parent().Parent())
			if err != nil || len(certs) == 0 {
				t.Fatalf("reading the embedded certificate: %v", err)
			}
			if m := assertion.FindElement("./Signature/SignedInfo/SignatureMethod").SelectAttrValue("Algorithm", ""); m != tt.alg {
				t.Fatalf("corpus SignatureMethod = %q, expected %q", m, tt.alg)
			}

			policy := AlgorithmPolicy{AllowSHA1: tt.sha1}
			verified, err := Verify(assertion, tt.idAttr, certs[:1], policy)
			if err != nil {
				t.Fatalf("Verify of a real %s signature: %v", tt.file, err)
			}
			if verified.Tag != "Assertion" {
				t.Errorf("verified element is %s", verified.Tag)
			}
			if tt.sha1 {
				_, err := Verify(assertion, tt.idAttr, certs[:1], AlgorithmPolicy{})
				if code, _ := faultCode(err); code != soap.UnsupportedAlgorithm {
					t.Errorf("SHA-1 signature without opt-in: %v, want UnsupportedAlgorithm", err)
				}
			}
		})
	}
}

func TestECDSAEncoding(t *testing.T) {
	ec := newTestKey(t, "signer-p256", "p256")
	s := mustSigner(t, ec, ECDSASHA256, SHA256, AlgorithmPolicy{})
	el := signSample(t, s)
	v := el.FindElement("./Signature/SignatureValue").Text()
	if n := len(strings.TrimSpace(v)); n != 88 { // 64 bytes of r||s in base64
		t.Errorf("ECDSA P-256 SignatureValue has %d base64 characters, want 88 (raw r||s, not DER)", n)
	}
}
