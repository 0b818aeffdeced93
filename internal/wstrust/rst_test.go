package wstrust

import (
	"strings"
	"testing"
	"time"

	"github.com/trustbroker/trustbroker/internal/soap"
)

// rst13 wraps children in a WS-Trust 1.3 RST with the usual prefixes.
func rst13(children string) string {
	return `<wst:RequestSecurityToken xmlns:wst="` + Namespace13 + `" xmlns:wsp="` + NamespacePolicy200409 +
		`" xmlns:wsa="http://www.w3.org/2005/08/addressing" xmlns:wsu="` + NamespaceUtility + `">` + children + `</wst:RequestSecurityToken>`
}

const issue13 = `<wst:RequestType>` + RequestTypeIssue13 + `</wst:RequestType>`

// wst14 declares the WS-Trust 1.4 namespace as WCF and CXF do: only for ActAs
// (and KeyWrapAlgorithm) inside a 1.3 or 2005/02 request.
const wst14 = ` xmlns:wst14="` + Namespace14 + `"`

// wcfPreferences are the key and algorithm preferences WCF and Exchange send
// beside the standard elements, with the flags that name no one: none of
// them changes whom the token is for.
const wcfPreferences = `<wst:CanonicalizationAlgorithm>http://www.w3.org/2001/10/xml-exc-c14n#</wst:CanonicalizationAlgorithm>` +
	`<wst:EncryptionAlgorithm>http://www.w3.org/2001/04/xmlenc#aes256-cbc</wst:EncryptionAlgorithm>` +
	`<wst:EncryptWith>http://www.w3.org/2001/04/xmlenc#aes256-cbc</wst:EncryptWith>` +
	`<wst:SignWith>http://www.w3.org/2000/09/xmldsig#hmac-sha1</wst:SignWith>` +
	`<wst:SignatureAlgorithm>http://www.w3.org/2001/04/xmldsig-more#rsa-sha256</wst:SignatureAlgorithm>` +
	`<wst:KeyWrapAlgorithm>http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p</wst:KeyWrapAlgorithm>` +
	`<wst14:KeyWrapAlgorithm` + wst14 + `>http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p</wst14:KeyWrapAlgorithm>` +
	`<wst:ComputedKeyAlgorithm>` + ComputedKeyPSHA1_13 + `</wst:ComputedKeyAlgorithm><wst:KeySize>256</wst:KeySize>` +
	`<wst:Forwardable>false</wst:Forwardable><wst:Delegatable>true</wst:Delegatable>` +
	`<auth:AdditionalContext xmlns:auth="http://docs.oasis-open.org/wsfed/authorization/200706"><auth:ContextItem Name="urn:x"/></auth:AdditionalContext>` +
	`<wsp:PolicyReference URI="urn:policy"/>`

func TestParseRST(t *testing.T) {
	tests := []struct {
		name  string
		doc   string
		check func(t *testing.T, r *RST)
	}{
		{"minimal issue", rst13(issue13), func(t *testing.T, r *RST) {
			if r.RequestType != RequestIssue || r.TokenKind != TokenNone || r.KeyType != KeyNone || r.KeySize != 0 || r.Entropy != nil {
				t.Errorf("%+v", r)
			}
		}},
		{"default namespace, no prefixes", `<RequestSecurityToken xmlns="` + Namespace2005 + `" Context="  uuid-1-2 "><KeyType>` + KeyTypePublic2005 +
			`</KeyType><RequestType>` + RequestTypeRenew2005 + `</RequestType></RequestSecurityToken>`, func(t *testing.T, r *RST) {
			if r.Version != V2005 || r.RequestType != RequestRenew || r.KeyType != KeyPublic || r.Context != "uuid-1-2" {
				t.Errorf("%+v", r)
			}
		}},
		{"whitespace and comments in values", rst13("<wst:RequestType>\n\t" + RequestTypeIssue13 + "\n</wst:RequestType>" +
			"<wst:TokenType>urn:oasis:names:tc:<!-- x -->SAML:2.0:assertion\n</wst:TokenType><wst:KeySize> 128 </wst:KeySize>"), func(t *testing.T, r *RST) {
			if r.RequestTypeURI != RequestTypeIssue13 || r.TokenKind != TokenSAML20 || r.KeySize != 128 {
				t.Errorf("%+v", r)
			}
		}},
		{"unknown children ignored", rst13(issue13 + `<wst:EncryptWith>x</wst:EncryptWith><wst:EncryptWith>y</wst:EncryptWith><x:Ext xmlns:x="urn:x"/>` +
			`<wsp:PolicyReference URI="p"/>`), func(t *testing.T, r *RST) {
			if r.RequestType != RequestIssue {
				t.Errorf("%+v", r)
			}
		}},
		{"children of the other trust version are not read", rst13(issue13 + `<t:TokenType xmlns:t="` + Namespace2005 + `">` + TokenTypeSAML11 + `</t:TokenType>`),
			func(t *testing.T, r *RST) {
				if r.TokenType != "" {
					t.Errorf("TokenType %q read from the wrong namespace", r.TokenType)
				}
			}},
		{"unknown request type kept raw", rst13(`<wst:RequestType>` + Namespace13 + `/KET</wst:RequestType>`), func(t *testing.T, r *RST) {
			if r.RequestType != RequestOther || r.RequestTypeURI != Namespace13+"/KET" {
				t.Errorf("%+v", r)
			}
		}},
		{"NoProofKey in a 1.3 request is bearer", rst13(issue13 + `<wst:KeyType>` + KeyTypeNoProofKey2005 + `</wst:KeyType>`), func(t *testing.T, r *RST) {
			if r.KeyType != KeyBearer || r.KeyTypeURI != KeyTypeNoProofKey2005 {
				t.Errorf("%+v", r)
			}
		}},
		{"unknown key type kept raw", rst13(issue13 + `<wst:KeyType>urn:x</wst:KeyType>`), func(t *testing.T, r *RST) {
			if r.KeyType != KeyOther || r.KeyTypeURI != "urn:x" {
				t.Errorf("%+v", r)
			}
		}},
		{"SecondaryParameters fill gaps, top level wins", rst13(`<wst:SecondaryParameters>` +
			`<wst:TokenType>` + TokenTypeSAML11 + `</wst:TokenType><wst:KeyType>` + KeyTypeSymmetric13 + `</wst:KeyType>` +
			`<wst:KeySize>512</wst:KeySize><wst:ComputedKeyAlgorithm>` + ComputedKeyPSHA1_13 + `</wst:ComputedKeyAlgorithm>` +
			`<wst:Claims Dialect="urn:template"/><wst:RequestType>` + RequestTypeCancel13 + `</wst:RequestType>` +
			`</wst:SecondaryParameters>` + issue13 + `<wst:TokenType>` + TokenTypeSAML20Profile + `</wst:TokenType><wst:KeySize>256</wst:KeySize>`),
			func(t *testing.T, r *RST) {
				if r.TokenType != TokenTypeSAML20Profile || r.TokenKind != TokenSAML20 {
					t.Errorf("TokenType %q: the top level must win", r.TokenType)
				}
				if r.KeySize != 256 {
					t.Errorf("KeySize %d: the top level must win", r.KeySize)
				}
				if r.KeyType != KeySymmetric || r.ComputedKeyAlgorithm != ComputedKeyPSHA1_13 || r.Claims == nil || r.Claims.Dialect != "urn:template" {
					t.Errorf("gaps not filled: %+v", r)
				}
				if r.RequestType != RequestIssue {
					t.Errorf("RequestType %v taken from SecondaryParameters", r.RequestType)
				}
			}},
		{"AppliesTo with WS-Policy 1.5 and WS-Addressing 2004/08", rst13(issue13 + `<p:AppliesTo xmlns:p="` + NamespacePolicy15 + `">` +
			`<w:EndpointReference xmlns:w="http://schemas.xmlsoap.org/ws/2004/08/addressing"><w:Address> urn:rp </w:Address></w:EndpointReference></p:AppliesTo>`),
			func(t *testing.T, r *RST) {
				if r.AppliesTo != "urn:rp" {
					t.Errorf("AppliesTo %q", r.AppliesTo)
				}
			}},
		{"entropy with whitespace in base64 and no Type", rst13(issue13 + "<wst:Entropy><wst:BinarySecret>AAEC\n AwQF</wst:BinarySecret></wst:Entropy>"),
			func(t *testing.T, r *RST) {
				if string(r.Entropy.BinarySecret) != "\x00\x01\x02\x03\x04\x05" || r.Entropy.Type != "" {
					t.Errorf("%+v", r.Entropy)
				}
			}},
		{"encrypted entropy kept raw", rst13(issue13 + `<wst:Entropy><xenc:EncryptedKey xmlns:xenc="http://www.w3.org/2001/04/xmlenc#"/></wst:Entropy>`),
			func(t *testing.T, r *RST) {
				if r.Entropy == nil || r.Entropy.BinarySecret != nil || firstChild(r.Entropy.Element) != "EncryptedKey" {
					t.Errorf("%+v", r.Entropy)
				}
			}},
		{"lifetime with 7 fractional digits and an offset", rst13(issue13 + `<wst:Lifetime><wsu:Created>2008-08-15T01:48:08.3184132Z</wsu:Created>` +
			`<wsu:Expires>2008-08-15T03:48:08+01:00</wsu:Expires></wst:Lifetime>`), func(t *testing.T, r *RST) {
			if !r.Lifetime.Created.Equal(time.Date(2008, 8, 15, 1, 48, 8, 318413200, time.UTC)) ||
				!r.Lifetime.Expires.Equal(time.Date(2008, 8, 15, 2, 48, 8, 0, time.UTC)) {
				t.Errorf("%+v", r.Lifetime)
			}
		}},
		{"lifetime with Expires only", rst13(issue13 + `<wst:Lifetime><wsu:Expires>2030-01-01T00:00:00Z</wsu:Expires></wst:Lifetime>`), func(t *testing.T, r *RST) {
			if !r.Lifetime.Created.IsZero() || r.Lifetime.Expires.Year() != 2030 {
				t.Errorf("%+v", r.Lifetime)
			}
		}},
		{"renewing defaults", rst13(issue13 + `<wst:Renewing/>`), func(t *testing.T, r *RST) {
			if *r.Renewing != (Renewing{Allow: true, OK: false}) {
				t.Errorf("%+v", r.Renewing)
			}
		}},
		{"renewing attributes", rst13(issue13 + `<wst:Renewing Allow="false" OK=" 1 "/>`), func(t *testing.T, r *RST) {
			if *r.Renewing != (Renewing{Allow: false, OK: true}) {
				t.Errorf("%+v", r.Renewing)
			}
		}},
		{"WS-Trust 1.4 ActAs in a 1.3 request beside WCF's preferences", rst13(issue13 + wcfPreferences +
			`<wst14:ActAs` + wst14 + `><x:T xmlns:x="urn:x"/></wst14:ActAs>`), func(t *testing.T, r *RST) {
			if firstChild(r.ActAs) != "T" || r.KeySize != 256 || r.ComputedKeyAlgorithm != ComputedKeyPSHA1_13 {
				t.Errorf("ActAs %v KeySize %d ComputedKeyAlgorithm %q", r.ActAs, r.KeySize, r.ComputedKeyAlgorithm)
			}
		}},
		{"WS-Trust 1.4 ActAs in a 2005 request", `<t:RequestSecurityToken xmlns:t="` + Namespace2005 + `"><t:RequestType>` + RequestTypeIssue2005 +
			`</t:RequestType><tr:ActAs xmlns:tr="` + Namespace14 + `"><x:T xmlns:x="urn:x"/></tr:ActAs></t:RequestSecurityToken>`, func(t *testing.T, r *RST) {
			if r.Version != V2005 || firstChild(r.ActAs) != "T" {
				t.Errorf("version %v ActAs %v", r.Version, r.ActAs)
			}
		}},
		{"raw elements", rst13(issue13 + `<wst:ActAs><x:T xmlns:x="urn:x"/></wst:ActAs><wst:RenewTarget><x:R xmlns:x="urn:x"/></wst:RenewTarget>` +
			`<wst:OnBehalfOf><x:O xmlns:x="urn:x"/></wst:OnBehalfOf>`), func(t *testing.T, r *RST) {
			if firstChild(r.ActAs) != "T" || firstChild(r.RenewTarget) != "R" || firstChild(r.OnBehalfOf) != "O" {
				t.Errorf("ActAs %v RenewTarget %v OnBehalfOf %v", r.ActAs, r.RenewTarget, r.OnBehalfOf)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseRST(parseElement(t, []byte(tt.doc)))
			if err != nil {
				t.Fatalf("ParseRST: %v", err)
			}
			tt.check(t, r)
		})
	}
}

func TestParseRSTRefuses(t *testing.T) {
	const secret = "c2VjcmV0LWtleS1tYXRlcmlhbA" // no padding: invalid base64
	tests := []struct {
		name   string
		doc    string
		code   soap.FaultCode
		reason string // substring
	}{
		{"not an RST", `<x:Other xmlns:x="urn:x"/>`, soap.InvalidRequest, "not a wst:RequestSecurityToken"},
		{"RST in an unknown namespace", `<RequestSecurityToken xmlns="urn:trust"/>`, soap.InvalidRequest, "not a wst:RequestSecurityToken"},
		{"RSTR is not an RST", `<wst:RequestSecurityTokenResponse xmlns:wst="` + Namespace13 + `"/>`, soap.InvalidRequest, "not a wst:RequestSecurityToken"},
		{"missing RequestType", rst13(`<wst:TokenType>` + TokenTypeSAML20 + `</wst:TokenType>`), soap.InvalidRequest, "wst:RequestType is missing"},
		{"empty RequestType", rst13(`<wst:RequestType>  </wst:RequestType>`), soap.InvalidRequest, "wst:RequestType is missing"},
		{"RequestType only in SecondaryParameters", rst13(`<wst:SecondaryParameters>` + issue13 + `</wst:SecondaryParameters>`), soap.InvalidRequest, "wst:RequestType is missing"},
		{"KeySize not a number", rst13(issue13 + `<wst:KeySize>abc</wst:KeySize>`), soap.InvalidRequest, "wst:KeySize is not a number"},
		{"KeySize zero", rst13(issue13 + `<wst:KeySize>0</wst:KeySize>`), soap.InvalidRequest, "wst:KeySize must be"},
		{"KeySize negative", rst13(issue13 + `<wst:KeySize>-256</wst:KeySize>`), soap.InvalidRequest, "wst:KeySize must be"},
		{"KeySize huge", rst13(issue13 + `<wst:KeySize>99999999</wst:KeySize>`), soap.InvalidRequest, "wst:KeySize must be"},
		{"KeySize bad in SecondaryParameters", rst13(issue13 + `<wst:SecondaryParameters><wst:KeySize>x</wst:KeySize></wst:SecondaryParameters>`),
			soap.InvalidRequest, "wst:SecondaryParameters/wst:KeySize"},
		{"bad base64 entropy", rst13(issue13 + `<wst:Entropy><wst:BinarySecret>` + secret + `</wst:BinarySecret></wst:Entropy>`),
			soap.InvalidRequest, "wst:Entropy/wst:BinarySecret is not valid base64"},
		{"empty entropy", rst13(issue13 + `<wst:Entropy><wst:BinarySecret/></wst:Entropy>`), soap.InvalidRequest, "wst:Entropy/wst:BinarySecret is empty"},
		{"oversized entropy", rst13(issue13 + `<wst:Entropy><wst:BinarySecret>` + strings.Repeat("AAAA", 400) + `</wst:BinarySecret></wst:Entropy>`),
			soap.InvalidRequest, "longer than"},
		{"duplicate TokenType", rst13(issue13 + `<wst:TokenType>` + TokenTypeSAML20 + `</wst:TokenType><wst:TokenType>` + TokenTypeSAML11 + `</wst:TokenType>`),
			soap.InvalidRequest, "wst:TokenType appears more than once"},
		{"duplicate AppliesTo across policy versions", rst13(issue13 +
			`<wsp:AppliesTo><wsa:EndpointReference><wsa:Address>urn:a</wsa:Address></wsa:EndpointReference></wsp:AppliesTo>` +
			`<p:AppliesTo xmlns:p="` + NamespacePolicy15 + `"><wsa:EndpointReference><wsa:Address>urn:b</wsa:Address></wsa:EndpointReference></p:AppliesTo>`),
			soap.InvalidRequest, "wsp:AppliesTo appears more than once"},
		{"AppliesTo without EndpointReference", rst13(issue13 + `<wsp:AppliesTo><wsa:Address>urn:a</wsa:Address></wsp:AppliesTo>`),
			soap.InvalidRequest, "wsp:AppliesTo has no wsa:EndpointReference"},
		{"AppliesTo with an empty Address", rst13(issue13 + `<wsp:AppliesTo><wsa:EndpointReference><wsa:Address> </wsa:Address></wsa:EndpointReference></wsp:AppliesTo>`),
			soap.InvalidRequest, "without an Address"},
		{"malformed Created", rst13(issue13 + `<wst:Lifetime><wsu:Created>yesterday</wsu:Created></wst:Lifetime>`),
			soap.InvalidRequest, "wst:Lifetime/wsu:Created is not a valid time"},
		{"time without zone", rst13(issue13 + `<wst:Lifetime><wsu:Expires>2030-01-01T00:00:00</wsu:Expires></wst:Lifetime>`),
			soap.InvalidRequest, "wst:Lifetime/wsu:Expires is not a valid time"},
		{"lifetime backwards", rst13(issue13 + `<wst:Lifetime><wsu:Created>2030-01-01T00:00:00Z</wsu:Created><wsu:Expires>2029-01-01T00:00:00Z</wsu:Expires></wst:Lifetime>`),
			soap.InvalidTimeRange, "expires before"},
		{"DelegateTo", rst13(issue13 + `<wst:DelegateTo><wsse:UsernameToken xmlns:wsse="` + NamespaceSecext + `"><wsse:Username>` + secret +
			`</wsse:Username></wsse:UsernameToken></wst:DelegateTo>`), soap.InvalidRequest, "wst:DelegateTo is not supported"},
		{"Participants", rst13(issue13 + `<wst:Participants><wst:Participant><x:T xmlns:x="urn:x">` + secret + `</x:T></wst:Participant></wst:Participants>`),
			soap.InvalidRequest, "wst:Participants is not supported"},
		{"DelegateTo in a 2005 request", `<t:RequestSecurityToken xmlns:t="` + Namespace2005 + `"><t:RequestType>` + RequestTypeIssue2005 +
			`</t:RequestType><t:DelegateTo/></t:RequestSecurityToken>`, soap.InvalidRequest, "wst:DelegateTo is not supported"},
		{"OnBehalfOf of the other trust version", rst13(issue13 + `<t:OnBehalfOf xmlns:t="` + Namespace2005 + `"/>`),
			soap.InvalidRequest, "wst:OnBehalfOf of WS-Trust 2005/02 is not supported"},
		{"OnBehalfOf in the WS-Trust 1.4 namespace", rst13(issue13 + `<wst14:OnBehalfOf` + wst14 + `/>`),
			soap.InvalidRequest, "wst14:OnBehalfOf is not supported"},
		{"ActAs in SecondaryParameters", rst13(issue13 + `<wst:SecondaryParameters><wst14:ActAs` + wst14 + `/></wst:SecondaryParameters>`),
			soap.InvalidRequest, "wst:SecondaryParameters/wst14:ActAs is not supported"},
		{"OnBehalfOf in SecondaryParameters", rst13(issue13 + `<wst:SecondaryParameters><wst:OnBehalfOf/></wst:SecondaryParameters>`),
			soap.InvalidRequest, "wst:SecondaryParameters/wst:OnBehalfOf is not supported"},
		{"ActAs in both namespaces", rst13(issue13 + `<wst:ActAs><x:A xmlns:x="urn:x"/></wst:ActAs><wst14:ActAs` + wst14 + `><x:B xmlns:x="urn:x"/></wst14:ActAs>`),
			soap.InvalidRequest, "wst:ActAs and wst14:ActAs both appear"},
		{"ActAs in both namespaces, 1.4 first", rst13(issue13 + `<wst14:ActAs` + wst14 + `/><wst:ActAs/>`),
			soap.InvalidRequest, "wst:ActAs and wst14:ActAs both appear"},
		{"WS-Trust 1.4 ActAs twice", rst13(issue13 + `<wst14:ActAs` + wst14 + `/><wst14:ActAs` + wst14 + `/>`),
			soap.InvalidRequest, "wst14:ActAs appears more than once"},
		{"Renewing with a bad boolean", rst13(issue13 + `<wst:Renewing Allow="yes"/>`), soap.InvalidRequest, "wst:Renewing/@Allow"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseRST(parseElement(t, []byte(tt.doc)))
			if r != nil {
				t.Fatalf("accepted: %+v", r)
			}
			f := mustFault(t, err, tt.code)
			if !strings.Contains(f.Reason, tt.reason) {
				t.Errorf("reason %q does not contain %q", f.Reason, tt.reason)
			}
			if strings.Contains(f.Reason, secret) || strings.Contains(f.Error(), secret) {
				t.Errorf("fault quotes the secret: %v", f)
			}
		})
	}
	if _, err := ParseRST(nil); err == nil {
		t.Error("ParseRST(nil) succeeded")
	}
}

// TestParseRSTRefusesAmbiguousAppliesTo sends whole requests: an AppliesTo
// that names two relying parties is refused whichever a reader would take.
func TestParseRSTRefusesAmbiguousAppliesTo(t *testing.T) {
	const (
		marker = "s3cr3t-marker"
		wsa10  = ` xmlns:wsa="http://www.w3.org/2005/08/addressing"`
		wsa04  = ` xmlns:w="http://schemas.xmlsoap.org/ws/2004/08/addressing"`
	)
	envelope := func(v soap.Version, appliesTo string) string {
		ns := soap.NamespaceSOAP12
		if v == soap.V11 {
			ns = soap.NamespaceSOAP11
		}
		return `<s:Envelope xmlns:s="` + ns + `"><s:Header>` +
			`<wsa:Action` + wsa10 + `>` + ActionIssue13 + `</wsa:Action>` +
			`<o:Security xmlns:o="` + NamespaceSecext + `"><o:UsernameToken><o:Username>alice</o:Username><o:Password>` + marker +
			`</o:Password></o:UsernameToken></o:Security></s:Header><s:Body>` +
			rst13(issue13+appliesTo) + `</s:Body></s:Envelope>`
	}
	tests := []struct {
		name      string
		v         soap.Version
		appliesTo string
		reason    string // substring; "" = accepted
	}{
		{"two Addresses", soap.V12,
			`<wsp:AppliesTo><wsa:EndpointReference><wsa:Address>urn:rp</wsa:Address><wsa:Address>urn:` + marker + `</wsa:Address></wsa:EndpointReference></wsp:AppliesTo>`,
			"wsp:AppliesTo has an EndpointReference with more than one Address"},
		{"two Addresses, the first empty", soap.V11,
			`<wsp:AppliesTo><wsa:EndpointReference><wsa:Address/><wsa:Address>urn:` + marker + `</wsa:Address></wsa:EndpointReference></wsp:AppliesTo>`,
			"wsp:AppliesTo has an EndpointReference with more than one Address"},
		{"two Addresses in WS-Addressing 2004/08", soap.V11,
			`<wsp:AppliesTo><w:EndpointReference` + wsa04 + `><w:Address>urn:rp</w:Address><w:Address>urn:` + marker + `</w:Address></w:EndpointReference></wsp:AppliesTo>`,
			"wsp:AppliesTo has an EndpointReference with more than one Address"},
		{"two EndpointReferences", soap.V12,
			`<wsp:AppliesTo><wsa:EndpointReference><wsa:Address>urn:rp</wsa:Address></wsa:EndpointReference>` +
				`<wsa:EndpointReference><wsa:Address>urn:` + marker + `</wsa:Address></wsa:EndpointReference></wsp:AppliesTo>`,
			"wsp:AppliesTo has more than one wsa:EndpointReference"},
		{"EndpointReferences in both WS-Addressing namespaces", soap.V12,
			`<wsp:AppliesTo><w:EndpointReference` + wsa04 + `><w:Address>urn:` + marker + `</w:Address></w:EndpointReference>` +
				`<wsa:EndpointReference><wsa:Address>urn:rp</wsa:Address></wsa:EndpointReference></wsp:AppliesTo>`,
			"wsp:AppliesTo has more than one wsa:EndpointReference"},
		{"two Addresses in SecondaryParameters", soap.V11,
			`<wst:SecondaryParameters><wsp:AppliesTo><wsa:EndpointReference><wsa:Address>urn:rp</wsa:Address><wsa:Address>urn:` + marker +
				`</wsa:Address></wsa:EndpointReference></wsp:AppliesTo></wst:SecondaryParameters>`,
			"wst:SecondaryParameters/wsp:AppliesTo has an EndpointReference with more than one Address"},
		{"one EndpointReference with one Address", soap.V12,
			`<wsp:AppliesTo><wsa:EndpointReference><wsa:Address>urn:rp</wsa:Address><wsa:ReferenceParameters/></wsa:EndpointReference></wsp:AppliesTo>`,
			""},
		{"an Address of the other namespace is an extension", soap.V12,
			`<wsp:AppliesTo><wsa:EndpointReference><wsa:Address>urn:rp</wsa:Address><w:Address` + wsa04 + `>urn:x</w:Address></wsa:EndpointReference></wsp:AppliesTo>`,
			""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := soap.Parse([]byte(envelope(tt.v, tt.appliesTo)), tt.v.ContentType(), soap.Limits{})
			if err != nil {
				t.Fatalf("soap.Parse: %v", err)
			}
			r, err := ParseRST(env.Body)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("ParseRST: %v", err)
				}
				if r.AppliesTo != "urn:rp" {
					t.Errorf("AppliesTo %q", r.AppliesTo)
				}
				return
			}
			if r != nil {
				t.Fatalf("accepted: %+v", r)
			}
			f := mustFault(t, err, soap.InvalidRequest)
			if !strings.Contains(f.Reason, tt.reason) {
				t.Errorf("reason %q does not contain %q", f.Reason, tt.reason)
			}
			if strings.Contains(f.Reason, marker) || strings.Contains(f.Error(), marker) {
				t.Errorf("fault quotes the request: %v", f)
			}
		})
	}
}

func TestActionsAndURIs(t *testing.T) {
	tests := []struct {
		v                 Version
		rt                RequestType
		request, response string
		requestTypeURI    string
	}{
		{V13, RequestIssue, ActionIssue13, ActionIssueFinal13, RequestTypeIssue13},
		{V13, RequestValidate, ActionValidate13, ActionValidateFinal13, RequestTypeValidate13},
		{V13, RequestRenew, ActionRenew13, ActionRenewFinal13, RequestTypeRenew13},
		{V13, RequestCancel, ActionCancel13, ActionCancelFinal13, RequestTypeCancel13},
		{V2005, RequestIssue, ActionIssue2005, ActionIssueResponse2005, RequestTypeIssue2005},
		{V2005, RequestValidate, ActionValidate2005, ActionValidateResponse2005, RequestTypeValidate2005},
		{V2005, RequestRenew, ActionRenew2005, ActionRenewResponse2005, RequestTypeRenew2005},
		{V2005, RequestCancel, ActionCancel2005, ActionCancelResponse2005, RequestTypeCancel2005},
		{V13, RequestOther, "", "", ""},
	}
	for _, tt := range tests {
		if got := tt.rt.RequestAction(tt.v); got != tt.request {
			t.Errorf("%v %v request action %q, want %q", tt.v, tt.rt, got, tt.request)
		}
		if got := tt.rt.ResponseAction(tt.v); got != tt.response {
			t.Errorf("%v %v response action %q, want %q", tt.v, tt.rt, got, tt.response)
		}
		if got := tt.rt.URI(tt.v); got != tt.requestTypeURI {
			t.Errorf("%v %v URI %q, want %q", tt.v, tt.rt, got, tt.requestTypeURI)
		}
	}
	keyTypes := []struct {
		v    Version
		k    KeyType
		want string
	}{
		{V13, KeyBearer, KeyTypeBearer13}, {V13, KeySymmetric, KeyTypeSymmetric13}, {V13, KeyPublic, KeyTypePublic13},
		{V2005, KeyBearer, KeyTypeNoProofKey2005}, {V2005, KeySymmetric, KeyTypeSymmetric2005}, {V2005, KeyPublic, KeyTypePublic2005},
		{V13, KeyNone, ""},
	}
	for _, tt := range keyTypes {
		if got := tt.k.URI(tt.v); got != tt.want {
			t.Errorf("%v %v key type URI %q, want %q", tt.v, tt.k, got, tt.want)
		}
	}
	for uri, want := range map[string]TokenKind{
		TokenTypeSAML20: TokenSAML20, TokenTypeSAML20Profile: TokenSAML20, TokenTypeSAML11: TokenSAML11, TokenTypeSAML11Profile: TokenSAML11,
		TokenTypeStatus13: TokenStatus, TokenTypeStatus2005: TokenStatus, "": TokenNone, "http://schemas.xmlsoap.org/ws/2005/02/sc/sct": TokenOther,
	} {
		if got := TokenKindOf(uri); got != want {
			t.Errorf("TokenKindOf(%q) = %v, want %v", uri, got, want)
		}
	}
	if TokenSAML11.DefaultURI(V2005) != TokenTypeSAML11 || TokenSAML20.DefaultURI(V13) != TokenTypeSAML20 || TokenStatus.DefaultURI(V2005) != TokenTypeStatus2005 {
		t.Error("DefaultURI must be the urn:oasis:names:tc:SAML form")
	}
}

func TestTimeFormat(t *testing.T) {
	in := time.Date(2013, 11, 15, 4, 8, 25, 205_900_000, time.FixedZone("CET", 3600))
	if got := FormatTime(in); got != "2013-11-15T03:08:25.205Z" {
		t.Errorf("FormatTime = %q", got)
	}
	if got := FormatTime(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)); got != "2020-01-01T00:00:00.000Z" {
		t.Errorf("FormatTime keeps milliseconds: %q", got)
	}
	back, err := ParseTime(" 2013-11-15T03:08:25.205Z\n")
	if err != nil || !back.Equal(time.Date(2013, 11, 15, 3, 8, 25, 205_000_000, time.UTC)) {
		t.Errorf("ParseTime = %v, %v", back, err)
	}
}
