package wssec

import (
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/xmlsec"
)

// TestVerifyAcceptsEveryKeyReference signs with each way of naming the
// certificate and checks the verifier returns the signer and covers the
// very Body, Timestamp and addressing elements the parsers returned.
func TestVerifyAcceptsEveryKeyReference(t *testing.T) {
	p := testPKI(t)
	tests := []struct {
		name    string
		c       sigCase
		trust   X509Trust
		want    KeyReferenceKind
		wantBST bool
	}{
		{"BST DirectReference, CA trust", sigCase{keyInfo: "direct"}, p.caTrust(), DirectReference, true},
		{"SubjectKeyIdentifier, pinned", sigCase{keyInfo: "ski"}, X509Trust{Pinned: []*x509.Certificate{p.client}}, SubjectKeyIdentifier, false},
		{"SubjectKeyIdentifier, BST in header, CA trust", sigCase{keyInfo: "ski"}, p.caTrust(), SubjectKeyIdentifier, true},
		{"ThumbprintSHA1, pinned", sigCase{keyInfo: "thumbprint"}, X509Trust{Pinned: []*x509.Certificate{p.client}}, ThumbprintSHA1, false},
		{"X509IssuerSerial, pinned", sigCase{keyInfo: "issuerserial"}, X509Trust{Pinned: []*x509.Certificate{p.client}}, IssuerSerial, false},
		{"embedded X509v3 KeyIdentifier, CA trust", sigCase{keyInfo: "embedded"}, p.caTrust(), EmbeddedCertificate, false},
		{"ECDSA P-256 signer", sigCase{key: p.ecKey, cert: p.ecClient}, p.caTrust(), DirectReference, true},
		{"self-signed pinned client", sigCase{key: p.selfKey, cert: p.selfSigned}, X509Trust{Pinned: []*x509.Certificate{p.selfSigned}}, DirectReference, true},
		{"RSA-SHA512 with InclusiveNamespaces", sigCase{alg: xmlsec.RSASHA512, digest: xmlsec.SHA512, prefixes: []string{"s", "wsa"}}, p.caTrust(), DirectReference, true},
		{"addressing headers left unsigned (as zeep does)", sigCase{refs: []string{"body", "ts"}}, p.caTrust(), DirectReference, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := signedMessage(t, tt.c)
			v := &SignatureVerifier{Trust: tt.trust}
			sig, m, err := verifyMessage(t, data, v, sigNow)
			if err != nil {
				t.Fatalf("Verify: %v\n%s", err, data)
			}
			wantCert := tt.c.cert
			if wantCert == nil {
				wantCert = p.client
			}
			if !sig.Certificate.Equal(wantCert) {
				t.Errorf("signer = %s, want %s", sig.Certificate.Subject, wantCert.Subject)
			}
			if sig.KeyReference != tt.want {
				t.Errorf("KeyReference = %s, want %s", sig.KeyReference, tt.want)
			}
			if (sig.Token != nil) != tt.wantBST {
				t.Errorf("Token = %v, want a BST: %v", sig.Token, tt.wantBST)
			}
			if !sig.Covers(m.env.Body) || !sig.Covers(m.env.Body.Parent()) {
				t.Error("the parsed Body is not reported as covered")
			}
			if !sig.Covers(m.header.Timestamp.Element) {
				t.Error("the Timestamp is not reported as covered")
			}
			if sig.Covers(m.header.Element) || sig.Covers(m.env.Document.Root()) {
				t.Error("an unsigned ancestor is reported as covered")
			}
			want := 4 // Body, Timestamp, Action, MessageID
			if tt.c.refs != nil {
				want = len(tt.c.refs)
			}
			if got := len(sig.Covered()); got != want {
				t.Errorf("%d covered elements, want %d", got, want)
			}
		})
	}
}

// moveBody returns a tamper function for the classic wrapping attack: the
// signed Body goes into wrapperPath's element, a forged Body takes its
// place.
func moveBody(wrapperParent func(doc *etree.Document) *etree.Element) func(testing.TB, *etree.Document) {
	return func(t testing.TB, doc *etree.Document) {
		body := findByID(t, doc, "body")
		env := body.Parent()
		env.RemoveChild(body)
		wrapper := wrapperParent(doc).CreateElement("Wrapper")
		wrapper.AddChild(body)
		forged := env.CreateElement("s:Body")
		forged.CreateElement("wst:RequestSecurityToken").CreateAttr("xmlns:wst", sigNSTrust)
		forged.FindElement("RequestSecurityToken").CreateElement("wst:RequestType").SetText(sigNSTrust + "/Issue")
	}
}

// TestVerifyRefuses covers the ways a message must be refused, with the
// fault a client would get.
func TestVerifyRefuses(t *testing.T) {
	p := testPKI(t)
	pinnedClient := X509Trust{Pinned: []*x509.Certificate{p.client}}
	setAttr := func(path, key, value string) func(testing.TB, *etree.Document) {
		return func(t testing.TB, doc *etree.Document) {
			el := doc.FindElement(path)
			if el == nil {
				t.Fatalf("no %s", path)
			}
			el.CreateAttr(key, value)
		}
	}
	tests := []struct {
		name   string
		c      sigCase
		trust  *X509Trust
		policy xmlsec.AlgorithmPolicy
		maxRef int
		at     time.Time
		// addressing requires the WS-Addressing headers to be signed.
		addressing bool
		code       soap.FaultCode
		reason     string
	}{
		{name: "Body content changed after signing", c: sigCase{tamper: func(t testing.TB, doc *etree.Document) {
			doc.FindElement("//Address").SetText("https://evil.example/")
		}}, code: soap.FailedCheck, reason: "changed"},
		{name: "Timestamp changed after signing", c: sigCase{tamper: func(t testing.TB, doc *etree.Document) {
			doc.FindElement("//Expires").SetText(sigNow.Add(24 * time.Hour).Format(time.RFC3339))
		}}, code: soap.FailedCheck, reason: "changed"},
		{name: "SignatureValue changed", c: sigCase{tamper: func(t testing.TB, doc *etree.Document) {
			v := doc.FindElement("//SignatureValue")
			b := []byte(v.Text())
			// Another base64 letter, so the value still decodes (a flipped
			// bit can make '+' or '/' into a character that does not).
			if b[10] == 'A' {
				b[10] = 'B'
			} else {
				b[10] = 'A'
			}
			v.SetText(string(b))
		}}, code: soap.FailedCheck, reason: "not valid"},
		{name: "signed Body moved into a header, forged Body in its place", c: sigCase{tamper: moveBody(func(doc *etree.Document) *etree.Element {
			return doc.FindElement("//Header")
		})}, code: soap.InvalidSecurity, reason: "out of place"},
		{name: "signed Body moved into ds:Object, forged Body in its place", c: sigCase{tamper: moveBody(func(doc *etree.Document) *etree.Element {
			obj := doc.FindElement("//Signature").CreateElement("ds:Object")
			return obj
		})}, code: soap.InvalidSecurity, reason: "out of place"},
		{name: "signed RST moved into ds:Object, forged RST in the Body", c: sigCase{
			refs: []string{"rst", "ts", "action", "msgid"},
			tamper: func(t testing.TB, doc *etree.Document) {
				rst := doc.FindElement("//RequestSecurityToken")
				body := rst.Parent()
				body.RemoveChild(rst)
				doc.FindElement("//Signature").CreateElement("ds:Object").AddChild(rst)
				forged := body.CreateElement("wst:RequestSecurityToken")
				forged.CreateAttr("xmlns:wst", sigNSTrust)
			}}, code: soap.InvalidSecurity, reason: "does not cover the SOAP Body"},
		{name: "duplicate wsu:Id", c: sigCase{tamper: func(t testing.TB, doc *etree.Document) {
			doc.FindElement("//Header").CreateElement("x:Extra").CreateAttr("xmlns:x", "urn:x")
			doc.FindElement("//Extra").CreateAttr("wsu:Id", "body")
		}}, code: soap.InvalidSecurity, reason: "same id"},
		{name: "duplicate id through an ID attribute", c: sigCase{tamper: func(t testing.TB, doc *etree.Document) {
			doc.FindElement("//RequestSecurityToken").CreateElement("wst:Claims").CreateAttr("ID", "ts")
		}}, code: soap.InvalidSecurity, reason: "same id"},
		{name: "Timestamp not signed", c: sigCase{refs: []string{"body", "action", "msgid"}}, code: soap.InvalidSecurity, reason: "Timestamp"},
		{name: "wsa:Action not signed, when required", c: sigCase{refs: []string{"body", "ts", "msgid"}}, addressing: true, code: soap.InvalidSecurity, reason: "wsa:Action"},
		{name: "Body not signed", c: sigCase{refs: []string{"ts", "action", "msgid"}}, code: soap.InvalidSecurity, reason: "SOAP Body"},
		{name: "external reference", c: sigCase{tamper: setAttr("//Reference", "URI", "http://evil.example/doc#body")}, code: soap.InvalidSecurity, reason: "same-document"},
		{name: "whole-document reference", c: sigCase{tamper: setAttr("//Reference", "URI", "")}, code: soap.InvalidSecurity, reason: "same-document"},
		{name: "XPointer reference", c: sigCase{tamper: setAttr("//Reference", "URI", "#xpointer(id('body'))")}, code: soap.InvalidSecurity, reason: "same-document"},
		{name: "same id referenced twice", c: sigCase{refs: []string{"body", "body", "ts", "action", "msgid"}}, code: soap.InvalidSecurity, reason: "twice"},
		{name: "XPath transform", c: sigCase{tamper: setAttr("//Transform", "Algorithm", "http://www.w3.org/TR/1999/REC-xpath-19991116")}, code: soap.UnsupportedAlgorithm, reason: "exclusive c14n"},
		{name: "inclusive c14n", c: sigCase{tamper: setAttr("//CanonicalizationMethod", "Algorithm", xmlsec.URIC14N10)}, code: soap.UnsupportedAlgorithm, reason: "exclusive c14n"},
		{name: "SHA-1 without opt-in", c: sigCase{alg: xmlsec.RSASHA1, digest: xmlsec.SHA1}, code: soap.UnsupportedAlgorithm, reason: "not allowed"},
		{name: "too many references", c: sigCase{}, maxRef: 3, code: soap.InvalidSecurity, reason: "too many references"},
		{name: "second signature", c: sigCase{tamper: func(t testing.TB, doc *etree.Document) {
			sig := doc.FindElement("//Signature")
			sig.Parent().AddChild(sig.Copy())
		}}, code: soap.InvalidSecurity, reason: "more than one signature"},
		{name: "not signed", c: sigCase{tamper: func(t testing.TB, doc *etree.Document) {
			sig := doc.FindElement("//Signature")
			sig.Parent().RemoveChild(sig)
		}}, code: soap.InvalidSecurity, reason: "not signed"},
		{name: "KeyInfo references the Timestamp", c: sigCase{tamper: setAttr("//SecurityTokenReference/Reference", "URI", "#ts")}, code: soap.SecurityTokenUnavailable, reason: "no BinarySecurityToken"},
		{name: "KeyInfo references a Kerberos token", c: sigCase{tamper: setAttr("//SecurityTokenReference/Reference", "ValueType", ValueTypeKerberosGSSAPREQ)}, code: soap.UnsupportedSecurityToken, reason: "not to an X509v3"},
		{name: "KeyInfo missing", c: sigCase{tamper: func(t testing.TB, doc *etree.Document) {
			ki := doc.FindElement("//KeyInfo")
			ki.Parent().RemoveChild(ki)
		}}, code: soap.InvalidSecurityToken, reason: "missing"},
		{name: "unknown SubjectKeyIdentifier", c: sigCase{keyInfo: "ski", tamper: func(t testing.TB, doc *etree.Document) {
			doc.FindElement("//KeyIdentifier").SetText("AAECAwQFBgcICQ==")
		}}, trust: &pinnedClient, code: soap.FailedAuthentication, reason: "not known"},
		{name: "self-signed certificate, not pinned", c: sigCase{key: p.selfKey, cert: p.selfSigned}, code: soap.FailedAuthentication, reason: "not trusted"},
		{name: "certificate expired", c: sigCase{cert: p.expired, key: p.clientKey}, code: soap.FailedAuthentication, reason: "not trusted"},
		{name: "certificate not yet valid", c: sigCase{}, at: sigNow.Add(-2 * time.Hour), code: soap.FailedAuthentication, reason: "not trusted"},
		{name: "certificate for server authentication only", c: sigCase{cert: p.serverOnly, key: p.clientKey}, code: soap.FailedAuthentication, reason: "not trusted"},
		{name: "forged certificate claiming a pinned SKI", c: sigCase{key: p.selfKey, cert: p.forgedSKI, keyInfo: "ski"}, trust: &pinnedClient, code: soap.FailedAuthentication, reason: "not trusted"},
		{name: "signed with another key than the certificate's", c: sigCase{key: p.selfKey, cert: p.client, tamper: nil}, code: soap.FailedCheck, reason: "not valid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.c
			if c.key == p.selfKey && c.cert == p.client {
				// NewSigner refuses a certificate of another key: sign with
				// the self-signed one, then swap the BST for the client's.
				c.cert = p.selfSigned
				c.tamper = func(t testing.TB, doc *etree.Document) {
					setBST(doc, p.client)
				}
			}
			data := signedMessage(t, c)
			trust := p.caTrust()
			if tt.trust != nil {
				trust = *tt.trust
			}
			at := sigNow
			if !tt.at.IsZero() {
				at = tt.at
			}
			v := &SignatureVerifier{Trust: trust, Algorithms: tt.policy, MaxReferences: tt.maxRef, RequireSignedAddressing: tt.addressing}
			sig, _, err := verifyMessage(t, data, v, at)
			if err == nil {
				t.Fatalf("Verify accepted the message (signer %s)", sig.Certificate.Subject)
			}
			wantFault(t, err, tt.code, tt.reason)
		})
	}
}

func setBST(doc *etree.Document, cert *x509.Certificate) {
	doc.FindElement("//BinarySecurityToken").SetText(b64(cert.Raw))
}

// TestVerifySHA1WhenAllowed shows a legacy partner can be enabled.
func TestVerifySHA1WhenAllowed(t *testing.T) {
	p := testPKI(t)
	data := signedMessage(t, sigCase{alg: xmlsec.RSASHA1, digest: xmlsec.SHA1})
	v := &SignatureVerifier{Trust: p.caTrust(), Algorithms: xmlsec.AlgorithmPolicy{AllowSHA1: true}}
	if _, _, err := verifyMessage(t, data, v, sigNow); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyRefusesStrayBodyInSOAP11 checks the shape check for the other
// SOAP version and for a Body nested in the Body content.
func TestVerifyRefusesNestedEnvelopeParts(t *testing.T) {
	p := testPKI(t)
	data := signedMessage(t, sigCase{tamper: func(t testing.TB, doc *etree.Document) {
		doc.FindElement("//RequestSecurityToken").CreateElement("s11:Body").CreateAttr("xmlns:s11", soap.NamespaceSOAP11)
	}})
	_, _, err := verifyMessage(t, data, &SignatureVerifier{Trust: p.caTrust()}, sigNow)
	wantFault(t, err, soap.InvalidSecurity, "out of place")
}

// TestMessageReplayKeyOfVerifiedMessage checks that the replay key of a
// verified message is fixed by what was signed: reformatting the unsigned
// parts does not change it, a fresh message from the same client does.
func TestMessageReplayKeyOfVerifiedMessage(t *testing.T) {
	p := testPKI(t)
	v := &SignatureVerifier{Trust: p.caTrust()}
	data := signedMessage(t, sigCase{})
	_, m, err := verifyMessage(t, data, v, sigNow)
	if err != nil {
		t.Fatal(err)
	}
	key, ok := MessageReplayKey(m.header)
	if !ok {
		t.Fatal("no replay key for a signed message")
	}

	// The same message with an unsigned header added and the signature
	// re-indented still verifies and has the same key.
	replayed := strings.Replace(string(data), "<s:Header>", `<s:Header><x:Noise xmlns:x="urn:x">1</x:Noise>`, 1)
	replayed = strings.Replace(replayed, "<ds:SignatureValue>", "\n  <ds:SignatureValue>", 1)
	_, m2, err := verifyMessage(t, []byte(replayed), v, sigNow)
	if err != nil {
		t.Fatalf("the reformatted replay does not verify: %v", err)
	}
	if key2, _ := MessageReplayKey(m2.header); key2 != key {
		t.Error("reformatting unsigned parts changed the replay key")
	}

	// A new message (another MessageID) has another key.
	other := signedMessage(t, sigCase{messageID: "urn:uuid:0e1a6f52-53d4-4c1b-8d1e-2f3a4b5c6d7e"})
	_, m3, err := verifyMessage(t, other, v, sigNow)
	if err != nil {
		t.Fatal(err)
	}
	if key3, _ := MessageReplayKey(m3.header); key3 == key {
		t.Error("two different messages share a replay key")
	}
}

// TestX509TrustVerify checks the trust decision alone.
func TestX509TrustVerify(t *testing.T) {
	p := testPKI(t)
	tests := []struct {
		name  string
		trust X509Trust
		cert  *x509.Certificate
		at    time.Time
		ok    bool
	}{
		{"chains to the CA", p.caTrust(), p.client, sigNow, true},
		{"pinned self-signed", X509Trust{Pinned: []*x509.Certificate{p.selfSigned}}, p.selfSigned, sigNow, true},
		{"pinned leaf without the CA", X509Trust{Pinned: []*x509.Certificate{p.client}}, p.client, sigNow, true},
		{"nothing configured", X509Trust{}, p.client, sigNow, false},
		{"other pinned certificate", X509Trust{Pinned: []*x509.Certificate{p.selfSigned}}, p.client, sigNow, false},
		{"pinned but expired", X509Trust{Pinned: []*x509.Certificate{p.expired}}, p.expired, sigNow, false},
		{"CA-issued, checked after expiry", p.caTrust(), p.client, sigNow.Add(60 * 24 * time.Hour), false},
		{"ServerAuth-only leaf", p.caTrust(), p.serverOnly, sigNow, false},
		{"the CA itself (no digital signature usage)", X509Trust{Pinned: []*x509.Certificate{p.ca}}, p.ca, sigNow, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chain, err := tt.trust.Verify(tt.cert, nil, tt.at)
			if tt.ok {
				if err != nil {
					t.Fatal(err)
				}
				if !chain[0].Equal(tt.cert) {
					t.Error("chain does not start with the certificate")
				}
				return
			}
			if err == nil {
				t.Fatal("trusted")
			}
			var f *soap.Fault
			if !errors.As(err, &f) || f.Code != soap.FailedAuthentication || strings.Contains(f.Reason, tt.cert.Subject.CommonName) {
				t.Errorf("error = %v, want a FailedAuthentication fault whose reason does not name the certificate", err)
			}
		})
	}
}

// TestSameIssuer matches X509IssuerName strings as the stacks write them.
func TestSameIssuer(t *testing.T) {
	p := testPKI(t)
	cert := p.client // issuer: CN=Test Client CA,O=Example\, Inc.
	tests := []struct {
		name string
		dn   string
		want bool
	}{
		{"Go and Java RFC 2253", `CN=Test Client CA,O=Example\, Inc.`, true},
		{".NET spacing", `CN=Test Client CA, O="Example, Inc."`, true},
		{"ASN.1 order, lower case types", `o=Example\2C Inc.;cn=test client ca`, true},
		{"OIDs", `2.5.4.3=Test Client CA,OID.2.5.4.10=Example\, Inc.`, true},
		{"hex-encoded value", `CN=#130e5465737420436c69656e74204341,O=Example\, Inc.`, true},
		{"other CN", `CN=Other CA,O=Example\, Inc.`, false},
		{"missing attribute", `CN=Test Client CA`, false},
		{"extra attribute", `CN=Test Client CA,O=Example\, Inc.,C=DE`, false},
		{"garbage", `not a name`, false},
		{"unknown type", `XX=Test Client CA,O=Example\, Inc.`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sameIssuer(tt.dn, cert); got != tt.want {
				t.Errorf("sameIssuer(%q) = %v, want %v", tt.dn, got, tt.want)
			}
		})
	}
}
