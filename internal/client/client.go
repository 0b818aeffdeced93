// Package client is a small WS-Trust client: it asks an STS for a token with
// a UsernameToken, for the `sts request` command and for end-to-end tests.
package client

import (
	"bytes"
	"cmp"
	"crypto"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/xmlsec"
)

// Request says what to ask for.
type Request struct {
	Endpoint string
	// Username and Password make a UsernameToken; no Username sends none
	// (for callers that authenticate with a TLS client certificate).
	Username  string
	Password  string
	AppliesTo string
	// TokenType is "saml2", "saml1", "status" (Validate's RSTR/Status) or
	// "" (the relying party's default).
	TokenType string
	// RequestType is "Issue" (the default), "Validate", "Renew" or "Cancel";
	// Target is the token (XML) the last three act on.
	RequestType string
	Target      string
	// RenewExpired sends wst:Renewing OK="true": renew even if expired.
	RenewExpired bool
	// OnBehalfOf and ActAs are tokens (XML) to request a token for.
	OnBehalfOf, ActAs string
	// Claims are claim URIs to ask for (ic:ClaimType); a "?" suffix marks
	// one as optional.
	Claims []string
	// SOAP is "1.1" or "1.2"; Trust is "1.3" or "2005".
	SOAP, Trust string
	// Digest sends a PasswordDigest instead of the password.
	Digest bool
	// KeyType is "Bearer" (the default), "SymmetricKey", "PublicKey", or
	// "none" to send no KeyType at all.
	KeyType string
	// KeySize, Entropy and PSHA1 shape a symmetric key request: the
	// requestor's entropy, and whether the key is computed from both sides'
	// entropy with P-SHA1.
	KeySize int
	Entropy []byte
	PSHA1   bool
	// UseKey is the certificate a PublicKey token is bound to.
	UseKey *x509.Certificate
	// SigningKey and SigningCert, when set, sign the message (WS-Security
	// X.509: Body, Timestamp and addressing headers, the certificate in a
	// BinarySecurityToken).
	SigningKey  crypto.Signer
	SigningCert *x509.Certificate
	// Timestamp is "" (a wsu:Timestamp, signed when the message is),
	// "unsigned" (left out of the signature) or "none"; an STS refuses the
	// last two on a signed message, which is what tests check.
	Timestamp string
	// TimestampLifetime is how long after Now the Timestamp expires; zero
	// means five minutes.
	TimestampLifetime time.Duration
	// KerberosToken, when set, is a GSS-framed Kerberos AP-REQ for the STS,
	// sent as a BinarySecurityToken.
	KerberosToken []byte
	Now           time.Time
}

const (
	nsSOAP11  = "http://schemas.xmlsoap.org/soap/envelope/"
	nsSOAP12  = "http://www.w3.org/2003/05/soap-envelope"
	nsWSA     = "http://www.w3.org/2005/08/addressing"
	nsWSSE    = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
	nsWSU     = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
	nsWSP     = "http://schemas.xmlsoap.org/ws/2004/09/policy"
	nsTrust13 = "http://docs.oasis-open.org/ws-sx/ws-trust/200512"
	nsTrust05 = "http://schemas.xmlsoap.org/ws/2005/02/trust"
	utProfile = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
)

// Envelope builds the request message and its Content-Type.
func (r Request) Envelope() ([]byte, string, error) {
	soapNS, contentType := nsSOAP12, "application/soap+xml; charset=utf-8"
	if r.SOAP == "1.1" {
		soapNS, contentType = nsSOAP11, "text/xml; charset=utf-8"
	}
	trustNS := nsTrust13
	if r.Trust == "2005" {
		trustNS = nsTrust05
	}
	doc := etree.NewDocument()
	env := doc.CreateElement("s:Envelope")
	env.CreateAttr("xmlns:s", soapNS)
	env.CreateAttr("xmlns:a", nsWSA)
	env.CreateAttr("xmlns:o", nsWSSE)
	env.CreateAttr("xmlns:u", nsWSU)
	header := env.CreateElement("s:Header")
	header.CreateElement("a:Action").SetText(trustNS + "/RST/" + r.requestType())
	header.CreateElement("a:MessageID").SetText("urn:uuid:" + uuid())
	header.CreateElement("a:To").SetText(r.Endpoint)
	sec := header.CreateElement("o:Security")
	if r.Timestamp != "none" {
		lifetime := cmp.Or(r.TimestampLifetime, 5*time.Minute)
		ts := sec.CreateElement("u:Timestamp")
		ts.CreateAttr("u:Id", "_0")
		ts.CreateElement("u:Created").SetText(r.Now.UTC().Format("2006-01-02T15:04:05.000Z"))
		ts.CreateElement("u:Expires").SetText(r.Now.Add(lifetime).UTC().Format("2006-01-02T15:04:05.000Z"))
	}
	if r.Username != "" {
		r.usernameToken(sec)
	}
	if r.KerberosToken != nil {
		bst := sec.CreateElement("o:BinarySecurityToken")
		bst.CreateAttr("u:Id", "kerberos")
		bst.CreateAttr("ValueType", "http://docs.oasis-open.org/wss/oasis-wss-kerberos-token-profile-1.1#GSS_Kerberosv5_AP_REQ")
		bst.CreateAttr("EncodingType", "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary")
		bst.SetText(base64.StdEncoding.EncodeToString(r.KerberosToken))
	}
	body := env.CreateElement("s:Body")
	rst := body.CreateElement("t:RequestSecurityToken")
	rst.CreateAttr("xmlns:t", trustNS)
	if r.AppliesTo != "" {
		at := rst.CreateElement("wsp:AppliesTo")
		at.CreateAttr("xmlns:wsp", nsWSP)
		at.CreateElement("a:EndpointReference").CreateElement("a:Address").SetText(r.AppliesTo)
	}
	switch r.TokenType {
	case "saml2":
		rst.CreateElement("t:TokenType").SetText("urn:oasis:names:tc:SAML:2.0:assertion")
	case "saml1":
		rst.CreateElement("t:TokenType").SetText("urn:oasis:names:tc:SAML:1.0:assertion")
	case "status":
		rst.CreateElement("t:TokenType").SetText(trustNS + "/RSTR/Status")
	case "":
	default:
		return nil, "", fmt.Errorf("token type %q: use saml2 or saml1", r.TokenType)
	}
	if rt := r.requestType(); rt == "Issue" || rt == "Validate" {
		if err := r.keyRequest(rst, trustNS); err != nil {
			return nil, "", err
		}
	}
	if err := r.tokens(rst); err != nil {
		return nil, "", err
	}
	rst.CreateElement("t:RequestType").SetText(trustNS + "/" + r.requestType())
	if r.SigningKey != nil {
		if err := r.sign(header, sec, body); err != nil {
			return nil, "", err
		}
	}
	// Written exactly, as the signature's digests were computed.
	return soap.SerializeExact(doc.Child...), contentType, nil
}

// usernameToken adds the UsernameToken: the password in clear, or its
// digest with a fresh nonce.
func (r Request) usernameToken(sec *etree.Element) {
	ut := sec.CreateElement("o:UsernameToken")
	ut.CreateAttr("u:Id", "uuid-"+uuid())
	ut.CreateElement("o:Username").SetText(r.Username)
	if r.Digest {
		nonce := make([]byte, 16)
		_, _ = rand.Read(nonce)
		created := r.Now.UTC().Format("2006-01-02T15:04:05.000Z")
		sum := sha1.Sum(append(append(append([]byte{}, nonce...), created...), r.Password...))
		pw := ut.CreateElement("o:Password")
		pw.CreateAttr("Type", utProfile+"#PasswordDigest")
		pw.SetText(base64.StdEncoding.EncodeToString(sum[:]))
		n := ut.CreateElement("o:Nonce")
		n.CreateAttr("EncodingType", "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary")
		n.SetText(base64.StdEncoding.EncodeToString(nonce))
		ut.CreateElement("u:Created").SetText(created)
	} else {
		ut.CreateElement("o:Password").SetText(r.Password)
	}
}

// sign signs the Body, the Timestamp and the addressing headers with the
// signing key, referring to the certificate in a BinarySecurityToken.
func (r Request) sign(header, sec, body *etree.Element) error {
	signer, err := xmlsec.NewSigner(r.SigningKey, []*x509.Certificate{r.SigningCert}, "", "", xmlsec.AlgorithmPolicy{})
	if err != nil {
		return err
	}
	bst := etree.NewElement("o:BinarySecurityToken")
	bst.CreateAttr("u:Id", "x509")
	bst.CreateAttr("ValueType", "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3")
	bst.CreateAttr("EncodingType", "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary")
	bst.SetText(base64.StdEncoding.EncodeToString(r.SigningCert.Raw))
	sec.InsertChildAt(0, bst)

	var targets []xmlsec.DetachedTarget
	for i, el := range append([]*etree.Element{body}, header.ChildElements()...) {
		if el == sec {
			continue
		}
		id := fmt.Sprintf("id-%d", i)
		el.CreateAttr("u:Id", id)
		targets = append(targets, xmlsec.DetachedTarget{Element: el, ID: id})
	}
	if ts := sec.FindElement("./Timestamp"); ts != nil && r.Timestamp != "unsigned" {
		targets = append(targets, xmlsec.DetachedTarget{Element: ts, ID: ts.SelectAttrValue("u:Id", "")})
	}

	str := etree.NewElement("o:SecurityTokenReference")
	ref := str.CreateElement("o:Reference")
	ref.CreateAttr("URI", "#x509")
	ref.CreateAttr("ValueType", "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3")
	sig, err := signer.SignDetached(targets, str)
	if err != nil {
		return err
	}
	sec.AddChild(sig)
	return nil
}

// keyRequest writes KeyType and, for holder-of-key, what goes with it.
func (r Request) keyRequest(rst *etree.Element, trustNS string) error {
	switch r.KeyType {
	case "", "Bearer":
		if trustNS == nsTrust05 {
			rst.CreateElement("t:KeyType").SetText("http://schemas.xmlsoap.org/ws/2005/05/identity/NoProofKey")
		} else {
			rst.CreateElement("t:KeyType").SetText(nsTrust13 + "/Bearer")
		}
	case "SymmetricKey", "PublicKey":
		rst.CreateElement("t:KeyType").SetText(trustNS + "/" + r.KeyType)
	case "none":
	default:
		if strings.Contains(r.KeyType, ":") { // a URI this client does not know, sent as is
			rst.CreateElement("t:KeyType").SetText(r.KeyType)
			break
		}
		return fmt.Errorf("key type %q: use Bearer, SymmetricKey, PublicKey or none", r.KeyType)
	}
	if r.KeySize > 0 {
		rst.CreateElement("t:KeySize").SetText(fmt.Sprint(r.KeySize))
	}
	if r.Entropy != nil {
		secret := rst.CreateElement("t:Entropy").CreateElement("t:BinarySecret")
		secret.CreateAttr("Type", trustNS+"/Nonce")
		secret.SetText(base64.StdEncoding.EncodeToString(r.Entropy))
	}
	if r.PSHA1 {
		rst.CreateElement("t:ComputedKeyAlgorithm").SetText(trustNS + "/CK/PSHA1")
	}
	if r.UseKey != nil {
		data := rst.CreateElement("t:UseKey").CreateElement("ds:KeyInfo")
		data.CreateAttr("xmlns:ds", "http://www.w3.org/2000/09/xmldsig#")
		data.CreateElement("ds:X509Data").CreateElement("ds:X509Certificate").SetText(base64.StdEncoding.EncodeToString(r.UseKey.Raw))
	}
	return nil
}

// Do sends the request and returns the HTTP status and the response body.
func (r Request) Do(hc *http.Client) (int, []byte, error) {
	p, err := r.Prepare()
	if err != nil {
		return 0, nil, err
	}
	return p.Do(hc)
}

// Prepared is a request built (and signed) ahead of sending, so that a load
// generator can keep that work out of what it measures.
type Prepared struct {
	endpoint, contentType, soapAction string
	body                              []byte
}

// Prepare builds the request's envelope and headers.
func (r Request) Prepare() (Prepared, error) {
	body, contentType, err := r.Envelope()
	if err != nil {
		return Prepared{}, err
	}
	p := Prepared{endpoint: r.Endpoint, contentType: contentType, body: body}
	if r.SOAP == "1.1" {
		p.soapAction = `"` + nsTrust13 + "/RST/" + r.requestType() + `"`
	}
	return p, nil
}

// Do sends the prepared request and returns the HTTP status and the
// response body.
func (p Prepared) Do(hc *http.Client) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodPost, p.endpoint, bytes.NewReader(p.body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", p.contentType)
	if p.soapAction != "" {
		req.Header.Set("SOAPAction", p.soapAction)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	return resp.StatusCode, out, err
}

// Token returns the issued token of an RSTR response, serialised, or the
// fault reason as an error.
func Token(response []byte) (string, error) {
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(response); err != nil {
		return "", fmt.Errorf("the response is not XML: %w", err)
	}
	if rst := doc.FindElement("//RequestedSecurityToken"); rst != nil && len(rst.ChildElements()) == 1 {
		// Written exactly, so that the token's signature still verifies.
		return string(soap.SerializeExact(rst.ChildElements()[0])), nil
	}
	if reason := doc.FindElement("//Reason/Text"); reason != nil {
		return "", fmt.Errorf("fault: %s", reason.Text())
	}
	if reason := doc.FindElement("//faultstring"); reason != nil {
		return "", fmt.Errorf("fault: %s", reason.Text())
	}
	return "", fmt.Errorf("the response holds no token")
}

func uuid() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func (r Request) requestType() string {
	if r.RequestType == "" {
		return "Issue"
	}
	return r.RequestType
}

// tokens writes the elements that carry tokens or claims: OnBehalfOf,
// ActAs, the Validate/Renew/Cancel target, Renewing and Claims.
func (r Request) tokens(rst *etree.Element) error {
	containers := []struct{ tag, xml string }{{"t:OnBehalfOf", r.OnBehalfOf}, {"t:ActAs", r.ActAs}}
	if r.requestType() != "Issue" {
		containers = append(containers, struct{ tag, xml string }{"t:" + r.requestType() + "Target", r.Target})
	}
	for _, c := range containers {
		if c.xml == "" {
			continue
		}
		doc := etree.NewDocument()
		if err := doc.ReadFromString(c.xml); err != nil || doc.Root() == nil {
			return fmt.Errorf("%s: the token is not XML: %v", c.tag, err)
		}
		rst.CreateElement(c.tag).AddChild(doc.Root())
	}
	if r.RenewExpired {
		rst.CreateElement("t:Renewing").CreateAttr("OK", "true")
	}
	if len(r.Claims) > 0 {
		claims := rst.CreateElement("t:Claims")
		claims.CreateAttr("Dialect", "http://schemas.xmlsoap.org/ws/2005/05/identity")
		claims.CreateAttr("xmlns:ic", "http://schemas.xmlsoap.org/ws/2005/05/identity")
		for _, c := range r.Claims {
			ct := claims.CreateElement("ic:ClaimType")
			uri, optional := strings.CutSuffix(c, "?")
			ct.CreateAttr("Uri", uri)
			if optional {
				ct.CreateAttr("Optional", "true")
			}
		}
	}
	return nil
}
