package wssec

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // Kerberosv5APREQSHA1 key identifiers
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/types"
	dsig "github.com/russellhaering/goxmldsig"
	"github.com/russellhaering/goxmldsig/etreeutils"

	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/xmlsec"
)

// Known keys and tokens of the Kerberos signature tests. The tokens need
// not be real AP-REQs: the verifier is given the identity the Kerberos
// check produced.
var (
	krbSigSessionKey = bytes.Repeat([]byte{0x11}, 32)
	krbSigSubKey     = bytes.Repeat([]byte{0x22}, 32)
	krbSigToken      = []byte("the AP-REQ of the signing client")
	krbSigOtherToken = []byte("another client's AP-REQ")
)

// krbSigEnvelope is a SOAP 1.2 Issue request with a Timestamp, the
// client's Kerberos token "krb", a second Kerberos token "krb2" and ids on
// the parts a client signs.
func krbSigEnvelope() string {
	created := sigNow.Add(-time.Minute).Format(time.RFC3339)
	expires := sigNow.Add(4 * time.Minute).Format(time.RFC3339)
	bst := func(id string, value []byte) string {
		return `<wsse:BinarySecurityToken wsu:Id="` + id + `" ValueType="` + ValueTypeKerberosGSSAPREQ + `" EncodingType="` + EncodingBase64Binary + `">` +
			b64(value) + `</wsse:BinarySecurityToken>`
	}
	return `<s:Envelope xmlns:s="` + sigNSSOAP12 + `" ` + declWSU + `>` +
		`<s:Header><wsse:Security ` + declWSSE + ` s:mustUnderstand="1">` +
		`<wsu:Timestamp wsu:Id="ts"><wsu:Created>` + created + `</wsu:Created><wsu:Expires>` + expires + `</wsu:Expires></wsu:Timestamp>` +
		bst("krb", krbSigToken) + bst("krb2", krbSigOtherToken) +
		`</wsse:Security></s:Header>` +
		`<s:Body wsu:Id="body"><wst:RequestSecurityToken xmlns:wst="` + sigNSTrust + `">` +
		`<wst:RequestType>` + sigNSTrust + `/Issue</wst:RequestType>` +
		`</wst:RequestSecurityToken></s:Body>` +
		`</s:Envelope>`
}

// krbSigKeyInfo builds the SecurityTokenReference of a test signature.
func krbSigKeyInfo(t testing.TB, kind string) *etree.Element {
	t.Helper()
	keyID := func(token []byte) string {
		sum := sha1.Sum(token) //nolint:gosec // key identifier
		return `<wsse:KeyIdentifier EncodingType="` + EncodingBase64Binary + `" ValueType="` + ValueTypeKerberosAPREQSHA1 + `">` + b64(sum[:]) + `</wsse:KeyIdentifier>`
	}
	var inner string
	switch kind {
	case "", "reference":
		inner = `<wsse:Reference URI="#krb" ValueType="` + ValueTypeKerberosGSSAPREQ + `"/>`
	case "reference without ValueType":
		inner = `<wsse:Reference URI="#krb"/>`
	case "reference to krb2":
		inner = `<wsse:Reference URI="#krb2" ValueType="` + ValueTypeKerberosGSSAPREQ + `"/>`
	case "reference as X509v3":
		inner = `<wsse:Reference URI="#krb" ValueType="` + ValueTypeX509v3 + `"/>`
	case "reference as bare AP-REQ":
		inner = `<wsse:Reference URI="#krb" ValueType="` + ValueTypeKerberosAPREQ + `"/>`
	case "reference to the Timestamp":
		inner = `<wsse:Reference URI="#ts"/>`
	case "keyid":
		inner = keyID(krbSigToken)
	case "keyid of krb2":
		inner = keyID(krbSigOtherToken)
	case "thumbprint":
		inner = `<wsse:KeyIdentifier ValueType="` + ValueTypeThumbprintSHA1 + `">` + b64(make([]byte, sha1.Size)) + `</wsse:KeyIdentifier>`
	case "none":
		return nil
	default:
		t.Fatalf("unknown KeyInfo kind %q", kind)
	}
	return parseRoot(t, `<wsse:SecurityTokenReference `+declWSSE+`>`+inner+`</wsse:SecurityTokenReference>`)
}

// remacSignature turns sig, already in its document, into an HMAC
// signature: the SignatureMethod becomes alg and the SignatureValue the
// HMAC with key of SignedInfo as it canonicalises in place.
func remacSignature(t testing.TB, sig *etree.Element, alg xmlsec.SignatureAlgorithm, key []byte) {
	t.Helper()
	si := sig.FindElement("SignedInfo")
	si.FindElement("SignatureMethod").CreateAttr("Algorithm", alg.URI())
	ctx, err := etreeutils.NSBuildParentContext(si)
	if err != nil {
		t.Fatal(err)
	}
	work, err := etreeutils.NSDetatch(ctx, si)
	if err != nil {
		t.Fatal(err)
	}
	canonical, err := dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("").Canonicalize(work)
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(alg.Hash().New, key)
	mac.Write(canonical)
	sig.FindElement("SignatureValue").SetText(b64(mac.Sum(nil)))
}

// krbSigCase is one Kerberos-signed test message and what Verify says.
type krbSigCase struct {
	name    string
	alg     xmlsec.SignatureAlgorithm // default hmac-sha256
	key     []byte                    // signing key, default the session key
	keyInfo string                    // see krbSigKeyInfo
	refs    []string                  // default body, ts
	// rsa keeps the RSA signature the test signer made instead of an HMAC.
	rsa bool
	// subKey makes the identity carry a subkey, as SSPI clients send.
	subKey bool
	// identityKey replaces the identity's session key.
	identityKey []byte
	policy      xmlsec.AlgorithmPolicy
	// tamper changes the document after signing.
	tamper func(t testing.TB, doc *etree.Document)
	// code is the fault expected; zero means the signature verifies, with
	// KeyReference kind.
	code soap.FaultCode
	kind KeyReferenceKind
}

// krbSignedMessage builds and signs the message of c.
func krbSignedMessage(t testing.TB, c krbSigCase) []byte {
	t.Helper()
	p := testPKI(t)
	if c.refs == nil {
		c.refs = []string{"body", "ts"}
	}
	if c.alg == "" {
		c.alg = xmlsec.HMACSHA256
	}
	if c.key == nil {
		c.key = krbSigSessionKey
	}
	signer, err := xmlsec.NewSigner(p.clientKey, []*x509.Certificate{p.client}, xmlsec.RSASHA256, xmlsec.SHA256, xmlsec.AlgorithmPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromString(krbSigEnvelope()); err != nil {
		t.Fatal(err)
	}
	var targets []xmlsec.DetachedTarget
	for _, id := range c.refs {
		targets = append(targets, xmlsec.DetachedTarget{Element: findByID(t, doc, id), ID: id})
	}
	sig, err := signer.SignDetached(targets, krbSigKeyInfo(t, c.keyInfo))
	if err != nil {
		t.Fatal(err)
	}
	doc.FindElement("//Security").AddChild(sig)
	if !c.rsa {
		remacSignature(t, sig, c.alg, c.key)
	}
	if c.tamper != nil {
		c.tamper(t, doc)
	}
	out, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// krbSigIdentity is what KerberosVerifier would return for the client's
// token "krb".
func krbSigIdentity(c krbSigCase) *KerberosIdentity {
	id := &KerberosIdentity{
		Principal:  krbUser,
		Realm:      krbRealm,
		SessionKey: types.EncryptionKey{KeyType: etypeID.AES256_CTS_HMAC_SHA1_96, KeyValue: krbSigSessionKey},
	}
	if c.identityKey != nil {
		id.SessionKey.KeyValue = c.identityKey
	}
	if c.subKey {
		id.SubKey = types.EncryptionKey{KeyType: etypeID.AES256_CTS_HMAC_SHA1_96, KeyValue: krbSigSubKey}
	}
	return id
}

// krbTokenOf returns the header's BinarySecurityToken with id "krb".
func krbTokenOf(t testing.TB, h *Header) *BinarySecurityToken {
	t.Helper()
	tok, ok := h.Lookup("krb")
	bst, isBST := tok.(*BinarySecurityToken)
	if !ok || !isBST {
		t.Fatal("no Kerberos token krb in the test header")
	}
	return bst
}

// TestKerberosSignature verifies HMAC signatures keyed with known Kerberos
// keys, and each way one must be refused.
func TestKerberosSignature(t *testing.T) {
	removeByID := func(id string) func(testing.TB, *etree.Document) {
		return func(t testing.TB, doc *etree.Document) {
			el := findByID(t, doc, id)
			el.Parent().RemoveChild(el)
		}
	}
	tests := []krbSigCase{
		{name: "session key, Reference", kind: DirectReference},
		{name: "Reference without ValueType", keyInfo: "reference without ValueType", kind: DirectReference},
		{name: "KeyIdentifier", keyInfo: "keyid", kind: KerberosSHA1},
		{name: "hmac-sha512", alg: xmlsec.HMACSHA512, kind: DirectReference},
		{name: "subkey", subKey: true, key: krbSigSubKey, kind: DirectReference},
		{name: "session key although a subkey was sent", subKey: true, kind: DirectReference},
		{name: "hmac-sha1 with AllowSHA1", alg: xmlsec.HMACSHA1, policy: xmlsec.AlgorithmPolicy{AllowSHA1: true}, kind: DirectReference},

		{name: "Body changed", tamper: func(t testing.TB, doc *etree.Document) {
			doc.FindElement("//RequestType").SetText(sigNSTrust + "/Cancel")
		}, code: soap.FailedCheck},
		{name: "Body replaced", tamper: func(t testing.TB, doc *etree.Document) {
			body := findByID(t, doc, "body")
			body.RemoveChildAt(0)
			body.CreateElement("wst:RequestSecurityToken").CreateAttr("xmlns:wst", sigNSTrust)
		}, code: soap.FailedCheck},
		{name: "signature removed", tamper: func(t testing.TB, doc *etree.Document) {
			sig := doc.FindElement("//Signature")
			sig.Parent().RemoveChild(sig)
		}, code: soap.InvalidSecurity},
		{name: "two signatures", tamper: func(t testing.TB, doc *etree.Document) {
			sig := doc.FindElement("//Signature")
			sig.Parent().AddChild(sig.Copy())
		}, code: soap.InvalidSecurity},
		{name: "Timestamp not signed", refs: []string{"body"}, code: soap.InvalidSecurity},
		{name: "no Timestamp", refs: []string{"body"}, tamper: removeByID("ts"), code: soap.InvalidSecurity},
		{name: "Body not signed", refs: []string{"ts"}, code: soap.InvalidSecurity},
		{name: "hmac-sha1 by default", alg: xmlsec.HMACSHA1, code: soap.UnsupportedAlgorithm},
		{name: "another key", key: bytes.Repeat([]byte{0x33}, 32), code: soap.FailedCheck},
		{name: "another key with a subkey sent", subKey: true, key: bytes.Repeat([]byte{0x33}, 32), code: soap.FailedCheck},
		{name: "session key shorter than 16 bytes", key: krbSigSessionKey[:8], identityKey: krbSigSessionKey[:8], code: soap.UnsupportedAlgorithm},
		{name: "RSA signature", rsa: true, code: soap.UnsupportedAlgorithm},
		{name: "HMACOutputLength", tamper: func(t testing.TB, doc *etree.Document) {
			doc.FindElement("//SignatureMethod").CreateElement("ds:HMACOutputLength").SetText("80")
		}, code: soap.InvalidSecurity},
		{name: "Reference to another Kerberos token", keyInfo: "reference to krb2", code: soap.FailedAuthentication},
		{name: "KeyIdentifier of another token", keyInfo: "keyid of krb2", code: soap.FailedAuthentication},
		{name: "Reference typed X509v3", keyInfo: "reference as X509v3", code: soap.UnsupportedSecurityToken},
		{name: "Reference typed as a bare AP-REQ", keyInfo: "reference as bare AP-REQ", code: soap.UnsupportedSecurityToken},
		{name: "Reference to the Timestamp", keyInfo: "reference to the Timestamp", code: soap.SecurityTokenUnavailable},
		{name: "ThumbprintSHA1 KeyIdentifier", keyInfo: "thumbprint", code: soap.UnsupportedSecurityToken},
		{name: "no KeyInfo", keyInfo: "none", code: soap.InvalidSecurityToken},
		{name: "signed Body moved into the header", tamper: func(t testing.TB, doc *etree.Document) {
			body := findByID(t, doc, "body")
			doc.FindElement("//Security").AddChild(body.Copy())
			body.RemoveAttr("wsu:Id")
		}, code: soap.InvalidSecurity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := parseMessage(t, krbSignedMessage(t, tt))
			bst := krbTokenOf(t, m.header)
			v := &KerberosSignatureVerifier{Algorithms: tt.policy}
			got, err := v.Verify(m.env, m.header, bst, krbSigIdentity(tt))
			if tt.code != (soap.FaultCode{}) {
				var f *soap.Fault
				if !errors.As(err, &f) || f.Code != tt.code {
					t.Fatalf("Verify = %v, want a %s fault", err, tt.code.Local)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got.Token != bst || got.Certificate != nil || got.KeyReference != tt.kind {
				t.Errorf("MessageSignature token %p (want %p), certificate %v, key reference %s (want %s)", got.Token, bst, got.Certificate, got.KeyReference, tt.kind)
			}
			if !got.Covers(m.env.Body) || !got.Covers(m.header.Timestamp.Element) {
				t.Error("the verified signature does not cover the Body content and the Timestamp")
			}
		})
	}
}

// TestKerberosSignatureNeedsTheHeadersToken refuses a token that is not
// one of the header's, even an equal copy: the signature must name the
// very token that was verified.
func TestKerberosSignatureNeedsTheHeadersToken(t *testing.T) {
	c := krbSigCase{}
	data := krbSignedMessage(t, c)
	m := parseMessage(t, data)
	other := krbTokenOf(t, parseMessage(t, data).header)
	_, err := (&KerberosSignatureVerifier{}).Verify(m.env, m.header, other, krbSigIdentity(c))
	wantFault(t, err, soap.InvalidSecurityToken, "not one of the Security header")
}

// TestKerberosSignatureReasonsQuoteNothing: no fault reason or cause
// repeats what the request said.
func TestKerberosSignatureReasonsQuoteNothing(t *testing.T) {
	const marker = "MARKER-7f3a"
	edits := map[string]func(t testing.TB, doc *etree.Document){
		"Reference URI": func(t testing.TB, doc *etree.Document) {
			doc.FindElement("//SecurityTokenReference/Reference").CreateAttr("URI", "#"+marker)
		},
		"Reference ValueType": func(t testing.TB, doc *etree.Document) {
			doc.FindElement("//SecurityTokenReference/Reference").CreateAttr("ValueType", marker)
		},
		"KeyInfo child": func(t testing.TB, doc *etree.Document) {
			ref := doc.FindElement("//SecurityTokenReference/Reference")
			ref.Tag = marker
		},
	}
	for name, edit := range edits {
		t.Run(name, func(t *testing.T) {
			c := krbSigCase{tamper: edit}
			m := parseMessage(t, krbSignedMessage(t, c))
			_, err := (&KerberosSignatureVerifier{}).Verify(m.env, m.header, krbTokenOf(t, m.header), krbSigIdentity(c))
			var f *soap.Fault
			if !errors.As(err, &f) {
				t.Fatalf("Verify = %v, want a fault", err)
			}
			if bytes.Contains([]byte(f.Reason), []byte(marker)) || (f.Cause != nil && bytes.Contains([]byte(f.Cause.Error()), []byte(marker))) {
				t.Errorf("fault quotes the request: %v", err)
			}
		})
	}
}
