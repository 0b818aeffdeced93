package xmlsec

import (
	"crypto/x509"
	"strings"
	"testing"

	"github.com/trustbroker/trustbroker/internal/testtools"
)

func TestSignVerifyRoundTrip(t *testing.T) {
	sha1OK := AlgorithmPolicy{AllowSHA1: true}
	tests := []struct {
		name   string
		kind   string
		sig    SignatureAlgorithm
		digest DigestAlgorithm
		policy AlgorithmPolicy
	}{
		{"defaults", "rsa2048", "", "", AlgorithmPolicy{}},
		{"rsa-sha512", "rsa2048", RSASHA512, SHA512, AlgorithmPolicy{}},
		{"rsa-sha256 digest sha512", "rsa2048", RSASHA256, SHA512, AlgorithmPolicy{}},
		{"rsa-sha1 opted in", "rsa2048", RSASHA1, SHA1, sha1OK},
		{"ecdsa-sha256", "p256", ECDSASHA256, SHA256, AlgorithmPolicy{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := newTestKey(t, "signer-"+tt.kind, tt.kind)
			s := mustSigner(t, k, tt.sig, tt.digest, tt.policy)
			signed := signSample(t, s)

			wantSig := tt.sig
			if wantSig == "" {
				wantSig = DefaultSignatureAlgorithm
			}
			method := signed.FindElement("./Signature/SignedInfo/SignatureMethod")
			if got := method.SelectAttrValue("Algorithm", ""); got != wantSig.URI() {
				t.Errorf("SignatureMethod = %q, want %q", got, wantSig.URI())
			}
			if got := signed.FindElement("./Signature/SignedInfo/Reference").SelectAttrValue("URI", ""); got != "#_d1" {
				t.Errorf("Reference URI = %q, want #_d1", got)
			}

			verified, err := VerifyAt(signed, "ID", []*x509.Certificate{k.Cert}, tt.policy, testNow)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got := verified.FindElement("./Item").Text(); got != "value" {
				t.Errorf("verified Item = %q, want value", got)
			}
			if verified.FindElement("./Signature") != nil {
				t.Error("verified element still contains the Signature")
			}
		})
	}
}

func TestSignKeepsInclusivePrefixes(t *testing.T) {
	k := newTestKey(t, "signer-rsa2048", "rsa2048")
	s := mustSigner(t, k, "", "", AlgorithmPolicy{})
	el := parseElement(t, `<a:Doc xmlns:a="urn:a" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ID="_x"><a:V xsi:type="xs:string">v</a:V></a:Doc>`)
	sig, err := s.Sign(el, "ID", "xs")
	if err != nil {
		t.Fatal(err)
	}
	if el.SelectAttr("xmlns:xs") == nil {
		t.Error("xmlns:xs was dropped although listed as inclusive prefix; xsi:type=\"xs:string\" would be unbound")
	}
	incl := sig.FindElement("./SignedInfo/Reference/Transforms/Transform/InclusiveNamespaces")
	if incl == nil || incl.SelectAttrValue("PrefixList", "") != "xs" {
		t.Fatalf("InclusiveNamespaces PrefixList missing: %v", incl)
	}
	el.AddChild(sig)
	if _, err := Verify(reparse(t, el), "ID", []*x509.Certificate{k.Cert}, AlgorithmPolicy{}); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

func TestSignElementInsideDocument(t *testing.T) {
	// The element uses a prefix declared on its parent, as an assertion
	// inside an RSTR does; signing must not depend on where it sits.
	k := newTestKey(t, "signer-rsa2048", "rsa2048")
	s := mustSigner(t, k, "", "", AlgorithmPolicy{})
	root := parseElement(t, `<w:Wrap xmlns:w="urn:w" xmlns:a="urn:a"><w:Token><a:Doc ID="_in"><a:Item>v</a:Item></a:Doc></w:Token></w:Wrap>`)
	el := root.FindElement("./Token/Doc")
	sig, err := s.Sign(el, "ID")
	if err != nil {
		t.Fatal(err)
	}
	el.AddChild(sig)
	again := reparse(t, root)
	verified, err := Verify(again.FindElement("./Token/Doc"), "ID", []*x509.Certificate{k.Cert}, AlgorithmPolicy{})
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if verified.NamespaceURI() != "urn:a" || verified.FindElement("./Item").Text() != "v" {
		t.Errorf("verified element lost its namespace or content: %s %q", verified.NamespaceURI(), verified.FindElement("./Item").Text())
	}
}

func TestNewSignerRejects(t *testing.T) {
	rsaKey := newTestKey(t, "signer-rsa2048", "rsa2048")
	other := newTestKey(t, "other-rsa2048", "rsa2048")
	small := newTestKey(t, "small-rsa1024", "rsa1024")
	ec := newTestKey(t, "signer-p256", "p256")
	tests := []struct {
		name   string
		key    testtools.KeyPair
		cert   *x509.Certificate
		sig    SignatureAlgorithm
		digest DigestAlgorithm
		policy AlgorithmPolicy
		want   string
	}{
		{"rsa-sha1 without opt-in", rsaKey, rsaKey.Cert, RSASHA1, SHA256, AlgorithmPolicy{}, "not allowed"},
		{"sha1 digest without opt-in", rsaKey, rsaKey.Cert, RSASHA256, SHA1, AlgorithmPolicy{}, "not allowed"},
		{"not in allow-list", rsaKey, rsaKey.Cert, RSASHA512, SHA256, AlgorithmPolicy{Signatures: []SignatureAlgorithm{RSASHA256}}, "not allowed"},
		{"RSA 1024", small, small.Cert, RSASHA256, SHA256, AlgorithmPolicy{}, "at least 2048"},
		{"ECDSA key with rsa-sha256", ec, ec.Cert, RSASHA256, SHA256, AlgorithmPolicy{}, "ECDSA key signs only"},
		{"RSA key with ecdsa-sha256", rsaKey, rsaKey.Cert, ECDSASHA256, SHA256, AlgorithmPolicy{}, "RSA key cannot"},
		{"certificate of another key", rsaKey, other.Cert, RSASHA256, SHA256, AlgorithmPolicy{}, "does not belong"},
		{"unknown algorithm", rsaKey, rsaKey.Cert, "rsa-md5", SHA256, AlgorithmPolicy{}, "unknown signature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewSigner(tt.key.Key, []*x509.Certificate{tt.cert}, tt.sig, tt.digest, tt.policy)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewSigner error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestParseAlgorithmNames(t *testing.T) {
	tests := []struct {
		in      string
		sig     SignatureAlgorithm
		wantErr bool
	}{
		{"", RSASHA256, false},
		{" RSA-SHA512 ", RSASHA512, false},
		{"ecdsa-sha256", ECDSASHA256, false},
		{"rsa-sha1", RSASHA1, false},
		{"hmac-sha1", "", true},
	}
	for _, tt := range tests {
		got, err := ParseSignatureAlgorithm(tt.in)
		if (err != nil) != tt.wantErr || got != tt.sig {
			t.Errorf("ParseSignatureAlgorithm(%q) = %q, %v", tt.in, got, err)
		}
	}
	if d, err := ParseDigestAlgorithm(""); err != nil || d != SHA256 {
		t.Errorf("default digest = %q, %v", d, err)
	}
	if _, err := ParseDigestAlgorithm("md5"); err == nil {
		t.Error("md5 accepted as digest")
	}
}

func TestPolicy(t *testing.T) {
	var zero AlgorithmPolicy
	if zero.AllowsSignature(RSASHA1) || zero.AllowsDigest(SHA1) {
		t.Error("zero policy allows SHA-1")
	}
	if !zero.AllowsSignature(RSASHA256) || !zero.AllowsSignature(ECDSASHA256) || !zero.AllowsDigest(SHA512) {
		t.Error("zero policy refuses a strong algorithm")
	}
	listed := AlgorithmPolicy{Signatures: []SignatureAlgorithm{RSASHA1}}
	if listed.AllowsSignature(RSASHA1) {
		t.Error("SHA-1 allowed by listing alone, without AllowSHA1")
	}
	if !(AlgorithmPolicy{AllowSHA1: true}).AllowsDigest(SHA1) {
		t.Error("AllowSHA1 does not allow sha1")
	}
}

func TestSignRefusesSignedElement(t *testing.T) {
	k := newTestKey(t, "signer-rsa2048", "rsa2048")
	s := mustSigner(t, k, "", "", AlgorithmPolicy{})
	signed := signSample(t, s)
	if _, err := s.Sign(signed, "ID"); err == nil || !strings.Contains(err.Error(), "already signed") {
		t.Fatalf("Sign of a signed element = %v, want an error", err)
	}
	if _, err := s.Sign(parseElement(t, `<Doc/>`), "ID"); err == nil {
		t.Fatal("Sign of an element without ID succeeded")
	}
}
