package wssec

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // thumbprints in test KeyInfo
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/xmlsec"
)

// sigNow is the time the signature tests verify at. Certificates are
// valid around the real clock, since the Java and Python signers stamp
// messages with it.
var sigNow = time.Now().UTC().Truncate(time.Second)

// sigPKI is a small CA with client certificates, made once per test binary.
type sigPKI struct {
	caKey       crypto.Signer
	ca          *x509.Certificate
	clientKey   *rsa.PrivateKey
	client      *x509.Certificate // issued by ca, ClientAuth
	ecKey       *ecdsa.PrivateKey
	ecClient    *x509.Certificate // issued by ca, P-256
	serverOnly  *x509.Certificate // issued by ca, ServerAuth only, clientKey's key
	expired     *x509.Certificate // issued by ca, clientKey's key, expired
	selfKey     *rsa.PrivateKey
	selfSigned  *x509.Certificate // self-signed, ClientAuth
	forgedSKI   *x509.Certificate // self-signed by selfKey, claiming client's SKI
	pinnedRoots *x509.CertPool
}

var (
	sigPKIOnce sync.Once
	sigPKIVal  *sigPKI
	sigPKIErr  error
)

func testPKI(t testing.TB) *sigPKI {
	t.Helper()
	sigPKIOnce.Do(func() { sigPKIVal, sigPKIErr = newSigPKI() })
	if sigPKIErr != nil {
		t.Fatal(sigPKIErr)
	}
	return sigPKIVal
}

func newSigPKI() (*sigPKI, error) {
	p := &sigPKI{}
	var err error
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	p.caKey = caKey
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Test Client CA", Organization: []string{"Example, Inc."}},
		NotBefore:             sigNow.Add(-24 * time.Hour),
		NotAfter:              sigNow.Add(365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	if p.ca, err = createCert(caTmpl, caTmpl, caKey.Public(), caKey); err != nil {
		return nil, err
	}
	if p.clientKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		return nil, err
	}
	if p.selfKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		return nil, err
	}
	if p.ecKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, err
	}
	leaf := func(serial int64, cn string, eku x509.ExtKeyUsage, notBefore, notAfter time.Time) *x509.Certificate {
		return &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: cn, Organization: []string{"Example"}},
			NotBefore:    notBefore,
			NotAfter:     notAfter,
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{eku},
			SubjectKeyId: []byte(fmt.Sprintf("ski-%d-0123456789", serial)),
		}
	}
	valid := func(serial int64, cn string, eku x509.ExtKeyUsage) *x509.Certificate {
		return leaf(serial, cn, eku, sigNow.Add(-time.Hour), sigNow.Add(30*24*time.Hour))
	}
	if p.client, err = createCert(valid(1001, "client.example", x509.ExtKeyUsageClientAuth), caTmpl, p.clientKey.Public(), caKey); err != nil {
		return nil, err
	}
	if p.ecClient, err = createCert(valid(1002, "ec-client.example", x509.ExtKeyUsageClientAuth), caTmpl, p.ecKey.Public(), caKey); err != nil {
		return nil, err
	}
	if p.serverOnly, err = createCert(valid(1003, "server.example", x509.ExtKeyUsageServerAuth), caTmpl, p.clientKey.Public(), caKey); err != nil {
		return nil, err
	}
	old := leaf(1004, "client.example", x509.ExtKeyUsageClientAuth, sigNow.Add(-60*24*time.Hour), sigNow.Add(-30*24*time.Hour))
	if p.expired, err = createCert(old, caTmpl, p.clientKey.Public(), caKey); err != nil {
		return nil, err
	}
	self := valid(2001, "self.example", x509.ExtKeyUsageClientAuth)
	if p.selfSigned, err = createCert(self, self, p.selfKey.Public(), p.selfKey); err != nil {
		return nil, err
	}
	forged := valid(2002, "client.example", x509.ExtKeyUsageClientAuth)
	forged.SubjectKeyId = p.client.SubjectKeyId
	if p.forgedSKI, err = createCert(forged, forged, p.selfKey.Public(), p.selfKey); err != nil {
		return nil, err
	}
	p.pinnedRoots = x509.NewCertPool()
	p.pinnedRoots.AddCert(p.ca)
	return p, nil
}

func createCert(tmpl, parent *x509.Certificate, pub crypto.PublicKey, key crypto.Signer) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// caTrust trusts the test CA only.
func (p *sigPKI) caTrust() X509Trust { return X509Trust{Roots: p.pinnedRoots} }

// Namespaces of the test envelopes.
const (
	sigNSSOAP12 = "http://www.w3.org/2003/05/soap-envelope"
	sigNSWSA    = "http://www.w3.org/2005/08/addressing"
	sigNSTrust  = "http://docs.oasis-open.org/ws-sx/ws-trust/200512"
)

// sigEnvelope is a SOAP 1.2 WS-Trust Issue request with ids on the parts a
// client signs, and the signer's certificate as a BST.
func sigEnvelope(cert *x509.Certificate, messageID string) string {
	if messageID == "" {
		messageID = "urn:uuid:6c8a2e43-2c2e-4d0e-9a57-0c3d1f7e9b11"
	}
	created := sigNow.Add(-time.Minute).Format(time.RFC3339)
	expires := sigNow.Add(4 * time.Minute).Format(time.RFC3339)
	return `<s:Envelope xmlns:s="` + sigNSSOAP12 + `" xmlns:wsa="` + sigNSWSA + `" ` + declWSU + `>` +
		`<s:Header>` +
		`<wsa:Action s:mustUnderstand="1" wsu:Id="action">` + sigNSTrust + `/RST/Issue</wsa:Action>` +
		`<wsa:MessageID wsu:Id="msgid">` + messageID + `</wsa:MessageID>` +
		`<wsse:Security ` + declWSSE + ` s:mustUnderstand="1">` +
		`<wsu:Timestamp wsu:Id="ts"><wsu:Created>` + created + `</wsu:Created><wsu:Expires>` + expires + `</wsu:Expires></wsu:Timestamp>` +
		`<wsse:BinarySecurityToken wsu:Id="x509" ValueType="` + ValueTypeX509v3 + `" EncodingType="` + EncodingBase64Binary + `">` +
		base64.StdEncoding.EncodeToString(cert.Raw) + `</wsse:BinarySecurityToken>` +
		`</wsse:Security>` +
		`</s:Header>` +
		`<s:Body wsu:Id="body"><wst:RequestSecurityToken xmlns:wst="` + sigNSTrust + `" wsu:Id="rst">` +
		`<wst:RequestType>` + sigNSTrust + `/Issue</wst:RequestType>` +
		`<wsp:AppliesTo xmlns:wsp="http://schemas.xmlsoap.org/ws/2004/09/policy"><wsa:EndpointReference><wsa:Address>https://rp.example/</wsa:Address></wsa:EndpointReference></wsp:AppliesTo>` +
		`</wst:RequestSecurityToken></s:Body>` +
		`</s:Envelope>`
}

// sigCase describes how a test message is signed and then tampered with.
type sigCase struct {
	key      crypto.Signer
	cert     *x509.Certificate
	alg      xmlsec.SignatureAlgorithm
	digest   xmlsec.DigestAlgorithm
	keyInfo  string   // "direct" (default), "ski", "thumbprint", "issuerserial", "embedded"
	refs     []string // ids to sign; default body, ts, action, msgid
	prefixes []string // InclusiveNamespaces of every Reference
	// messageID replaces the default wsa:MessageID.
	messageID string
	// tamper changes the signed document before it is serialised.
	tamper func(t testing.TB, doc *etree.Document)
}

// signedMessage builds and signs a test message and returns its bytes.
func signedMessage(t testing.TB, c sigCase) []byte {
	t.Helper()
	p := testPKI(t)
	if c.key == nil {
		c.key, c.cert = p.clientKey, p.client
	}
	if c.refs == nil {
		c.refs = []string{"body", "ts", "action", "msgid"}
	}
	policy := xmlsec.AlgorithmPolicy{AllowSHA1: true}
	if c.alg == "" {
		if _, ok := c.key.(*ecdsa.PrivateKey); ok {
			c.alg = xmlsec.ECDSASHA256
		}
	}
	signer, err := xmlsec.NewSigner(c.key, []*x509.Certificate{c.cert}, c.alg, c.digest, policy)
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromString(sigEnvelope(c.cert, c.messageID)); err != nil {
		t.Fatal(err)
	}
	ids, err := xmlsec.IndexIDs(doc.Root())
	if err != nil {
		t.Fatal(err)
	}
	var targets []xmlsec.DetachedTarget
	for _, id := range c.refs {
		el, ok := ids.Lookup(id)
		if !ok {
			t.Fatalf("no element with id %q in the test envelope", id)
		}
		targets = append(targets, xmlsec.DetachedTarget{Element: el, ID: id, InclusivePrefixes: c.prefixes})
	}
	sig, err := signer.SignDetached(targets, sigKeyInfo(t, c.keyInfo, c.cert))
	if err != nil {
		t.Fatal(err)
	}
	sec := doc.FindElement("//Security")
	sec.AddChild(sig)
	if c.tamper != nil {
		c.tamper(t, doc)
	}
	out, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sigKeyInfo builds the SecurityTokenReference naming cert.
func sigKeyInfo(t testing.TB, kind string, cert *x509.Certificate) *etree.Element {
	t.Helper()
	var inner string
	switch kind {
	case "", "direct":
		inner = `<wsse:Reference URI="#x509" ValueType="` + ValueTypeX509v3 + `"/>`
	case "ski":
		inner = `<wsse:KeyIdentifier EncodingType="` + EncodingBase64Binary + `" ValueType="` + ValueTypeX509SKI + `">` + b64(cert.SubjectKeyId) + `</wsse:KeyIdentifier>`
	case "thumbprint":
		sum := sha1.Sum(cert.Raw) //nolint:gosec // thumbprint
		inner = `<wsse:KeyIdentifier EncodingType="` + EncodingBase64Binary + `" ValueType="` + ValueTypeThumbprintSHA1 + `">` + b64(sum[:]) + `</wsse:KeyIdentifier>`
	case "issuerserial":
		inner = `<ds:X509Data xmlns:ds="` + NSDSig + `"><ds:X509IssuerSerial><ds:X509IssuerName>` + cert.Issuer.String() +
			`</ds:X509IssuerName><ds:X509SerialNumber>` + cert.SerialNumber.String() + `</ds:X509SerialNumber></ds:X509IssuerSerial></ds:X509Data>`
	case "embedded":
		inner = `<wsse:KeyIdentifier ValueType="` + ValueTypeX509v3 + `">` + b64(cert.Raw) + `</wsse:KeyIdentifier>`
	default:
		t.Fatalf("unknown KeyInfo kind %q", kind)
	}
	d := etree.NewDocument()
	if err := d.ReadFromString(`<wsse:SecurityTokenReference ` + declWSSE + `>` + inner + `</wsse:SecurityTokenReference>`); err != nil {
		t.Fatal(err)
	}
	return d.Root()
}

// parsedMessage is a message read the way the server reads it.
type parsedMessage struct {
	env    *soap.Envelope
	header *Header
}

func parseMessage(t testing.TB, data []byte) parsedMessage {
	t.Helper()
	env, err := soap.Parse(data, "", soap.Limits{})
	if err != nil {
		t.Fatalf("soap.Parse: %v\n%s", err, data)
	}
	blocks := env.Blocks(NSSecExt, "Security")
	if len(blocks) != 1 {
		t.Fatalf("%d Security headers", len(blocks))
	}
	h, err := ParseHeader(blocks[0])
	if err != nil {
		t.Fatalf("ParseHeader: %v", err)
	}
	return parsedMessage{env: env, header: h}
}

// verifyMessage parses data and verifies its signature.
func verifyMessage(t testing.TB, data []byte, v *SignatureVerifier, now time.Time) (*MessageSignature, parsedMessage, error) {
	t.Helper()
	m := parseMessage(t, data)
	sig, err := v.Verify(m.env, m.header, now)
	return sig, m, err
}

// findByID returns the element of doc with the given wsu:Id.
func findByID(t testing.TB, doc *etree.Document, id string) *etree.Element {
	t.Helper()
	ids, err := xmlsec.IndexIDs(doc.Root())
	if err != nil {
		t.Fatal(err)
	}
	el, ok := ids.Lookup(id)
	if !ok {
		t.Fatalf("no element %q", id)
	}
	return el
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
