package wssec

import (
	"bytes"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/testtools"
)

func TestParseHeaderRefusesOtherElements(t *testing.T) {
	tests := []struct {
		name string
		doc  string
	}{
		{"draft 2002 namespace", `<wsse:Security xmlns:wsse="http://schemas.xmlsoap.org/ws/2002/07/secext"/>`},
		{"1.1 namespace", `<wsse:Security xmlns:wsse="` + NSSecExt11 + `"/>`},
		{"right prefix, no namespace", `<Security/>`},
		{"other element", `<wsse:UsernameToken ` + declWSSE + `/>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseHeader(parseRoot(t, tt.doc))
			wantFault(t, err, soap.InvalidSecurity, "not a WS-Security 1.0 Security element")
		})
	}
	_, err := ParseHeader(nil)
	wantFault(t, err, soap.InvalidSecurity, "no Security header")
}

func TestParseHeaderMatchesNamespaceNotPrefix(t *testing.T) {
	docs := map[string]string{
		"AD FS prefixes":        `<o:Security xmlns:o="` + NSSecExt + `" xmlns:u="` + NSUtility + `"><u:Timestamp u:Id="_0"><u:Created>2024-05-01T12:00:00Z</u:Created></u:Timestamp><o:UsernameToken><o:Username>a</o:Username></o:UsernameToken></o:Security>`,
		"default namespaces":    `<Security xmlns="` + NSSecExt + `"><Timestamp xmlns="` + NSUtility + `" xmlns:w="` + NSUtility + `" w:Id="_0"><Created>2024-05-01T12:00:00Z</Created></Timestamp><UsernameToken><Username>a</Username></UsernameToken></Security>`,
		"prefix rebound inside": `<x:Security xmlns:x="` + NSSecExt + `"><x:Timestamp xmlns:x="` + NSUtility + `" x:Id="_0"><x:Created>2024-05-01T12:00:00Z</x:Created></x:Timestamp><y:UsernameToken xmlns:y="` + NSSecExt + `"><y:Username>a</y:Username></y:UsernameToken></x:Security>`,
	}
	for name, doc := range docs {
		t.Run(name, func(t *testing.T) {
			h, err := ParseHeader(parseRoot(t, doc))
			if err != nil {
				t.Fatal(err)
			}
			if h.Timestamp == nil || h.Timestamp.ID != "_0" {
				t.Errorf("Timestamp = %+v, want id _0", h.Timestamp)
			}
			if len(h.UsernameTokens) != 1 || h.UsernameTokens[0].Username != "a" {
				t.Errorf("UsernameTokens = %v", h.UsernameTokens)
			}
		})
	}

	// A Timestamp in the secext namespace (a common mistake) is not a
	// Timestamp: it is kept as an unknown child, not trusted as one.
	h, err := ParseHeader(parseRoot(t, security(`<wsse:Timestamp><wsu:Created>2024-05-01T12:00:00Z</wsu:Created></wsse:Timestamp>`)))
	if err != nil {
		t.Fatal(err)
	}
	if h.Timestamp != nil || len(h.Other) != 1 {
		t.Errorf("wsse:Timestamp taken as wsu:Timestamp: %+v", h)
	}
}

func TestParseHeaderStructureErrors(t *testing.T) {
	ts := `<wsu:Timestamp><wsu:Created>2024-05-01T12:00:00Z</wsu:Created></wsu:Timestamp>`
	tests := []struct {
		name   string
		inner  string
		code   soap.FaultCode
		reason string
	}{
		{"two Timestamps", ts + ts, soap.InvalidSecurity, "more than one Timestamp"},
		{"duplicate wsu:Id", `<wsse:UsernameToken wsu:Id="a"><wsse:Username>u</wsse:Username></wsse:UsernameToken><wsse:BinarySecurityToken wsu:Id="a">AA==</wsse:BinarySecurityToken>`,
			soap.InvalidSecurity, "same id"},
		{"assertion ID equals token id", `<wsse:UsernameToken wsu:Id="_a1"><wsse:Username>u</wsse:Username></wsse:UsernameToken><saml2:Assertion xmlns:saml2="` + NSSAML20 + `" ID="_a1"/>`,
			soap.InvalidSecurity, "same id"},
		{"assertion without ID", `<saml2:Assertion xmlns:saml2="` + NSSAML20 + `"/>`, soap.InvalidSecurityToken, "Assertion has no ID"},
		{"too many children", strings.Repeat(`<x:E xmlns:x="urn:x"/>`, MaxHeaderChildren+1), soap.InvalidSecurity, "too many elements"},
		{"BST hex encoding", `<wsse:BinarySecurityToken EncodingType="urn:x#HexBinary">00</wsse:BinarySecurityToken>`, soap.InvalidSecurityToken, "BinarySecurityToken EncodingType is not supported"},
		{"BST not base64", `<wsse:BinarySecurityToken>%%%</wsse:BinarySecurityToken>`, soap.InvalidSecurityToken, "BinarySecurityToken value is not valid base64"},
		{"BST empty", `<wsse:BinarySecurityToken ValueType="` + ValueTypeX509v3 + `"/>`, soap.InvalidSecurityToken, "BinarySecurityToken is empty"},
		{"BST with element", `<wsse:BinarySecurityToken>AA==<x/></wsse:BinarySecurityToken>`, soap.InvalidSecurityToken, "BinarySecurityToken contains an element"},
		{"BST too large", `<wsse:BinarySecurityToken>` + strings.Repeat("AAAA", MaxBinaryTokenSize/3+8) + `</wsse:BinarySecurityToken>`, soap.InvalidSecurityToken, "BinarySecurityToken is too large"},
		{"BST just too large", `<wsse:BinarySecurityToken>` + strings.Repeat("AAAA", MaxBinaryTokenSize/3) + `AAA=</wsse:BinarySecurityToken>`, soap.InvalidSecurityToken, "BinarySecurityToken is too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseHeader(parseRoot(t, security(tt.inner)))
			wantFault(t, err, tt.code, tt.reason)
		})
	}
	// The bound is not off by one.
	if _, err := ParseHeader(parseRoot(t, security(strings.Repeat(`<x:E xmlns:x="urn:x"/>`, MaxHeaderChildren)))); err != nil {
		t.Errorf("%d children refused: %v", MaxHeaderChildren, err)
	}
}

func TestBinarySecurityTokens(t *testing.T) {
	wrapped := "AAEC\n  AwQF\r\n"
	h, err := ParseHeader(parseRoot(t, security(
		`<wsse:BinarySecurityToken wsu:Id="krb" ValueType=" `+ValueTypeKerberosGSSAPREQ+` ">`+wrapped+`</wsse:BinarySecurityToken>`+
			`<wsse:BinarySecurityToken wsu:Id="bare" ValueType="urn:custom">AQ==</wsse:BinarySecurityToken>`)))
	if err != nil {
		t.Fatal(err)
	}
	krb := h.BinarySecurityTokens[0]
	if !krb.IsKerberos() || krb.IsX509() || !bytes.Equal(krb.Value, []byte{0, 1, 2, 3, 4, 5}) || krb.EncodingType != "" {
		t.Errorf("Kerberos token = %+v", krb)
	}
	if _, err := krb.Certificate(); err == nil {
		t.Error("a Kerberos token parsed as a certificate")
	}
	bare := h.BinarySecurityTokens[1]
	if bare.ValueType != "urn:custom" || bare.IsKerberos() || bare.IsX509() {
		t.Errorf("custom token = %+v", bare)
	}
	h, err = ParseHeader(parseRoot(t, security(`<wsse:BinarySecurityToken>`+strings.Repeat("AAAA", MaxBinaryTokenSize/3)+`</wsse:BinarySecurityToken>`)))
	if err != nil || len(h.BinarySecurityTokens[0].Value) != MaxBinaryTokenSize {
		t.Errorf("a token of exactly MaxBinaryTokenSize bytes: %v", err)
	}

	x := &BinarySecurityToken{ValueType: ValueTypeX509v3, Value: []byte{1, 2, 3}}
	_, err = x.Certificate()
	wantFault(t, err, soap.InvalidSecurityToken, "certificate cannot be parsed")
}

func TestLookupSAMLAssertions(t *testing.T) {
	root := parseRoot(t, string(testtools.ReadCorpus(t, "ehealthsuisse-rst13-soap12-saml2-bearer-claims-projectathon.xml")))
	h, err := ParseHeader(findSecurity(t, root))
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Assertions) != 1 || h.Timestamp != nil || len(h.UsernameTokens) != 0 {
		t.Fatalf("eHealth header: %d assertions, Timestamp %v, %d UTs; want 1, none, 0", len(h.Assertions), h.Timestamp, len(h.UsernameTokens))
	}
	a := h.Assertions[0]
	const id = "Assertion_dbce1232740fcad9e020f927fd25a5d04779b4cc"
	if a.Version != SAML20 || a.ID != id {
		t.Errorf("assertion = version %d id %q", a.Version, a.ID)
	}
	// A KeyIdentifier carries the bare id, a Reference "#id"; both resolve.
	for _, ref := range []string{id, "#" + id, " #" + id + "\n"} {
		if tok, ok := h.Lookup(ref); !ok || tok.TokenElement() != a.Element {
			t.Errorf("Lookup(%q) = %v, %v", ref, tok, ok)
		}
	}
	if len(h.Signatures) != 0 {
		t.Error("the assertion's own signature was taken for a message signature")
	}

	h, err = ParseHeader(parseRoot(t, security(`<saml:Assertion xmlns:saml="`+NSSAML11+`" AssertionID="_s11" MajorVersion="1" MinorVersion="1"/>`)))
	if err != nil {
		t.Fatal(err)
	}
	if tok, ok := h.Lookup("_s11"); !ok || tok.(*Assertion).Version != SAML11 {
		t.Errorf("SAML 1.1 AssertionID lookup = %v, %v", tok, ok)
	}
}

func TestLookupOtherChildren(t *testing.T) {
	const nsSC = "http://schemas.xmlsoap.org/ws/2005/02/sc"
	h, err := ParseHeader(parseRoot(t, security(
		`<wsu:Timestamp wsu:Id="TS"><wsu:Created>2024-05-01T12:00:00Z</wsu:Created></wsu:Timestamp>`+
			`<wsc:SecurityContextToken xmlns:wsc="`+nsSC+`" wsu:Id="sct"><wsc:Identifier>uuid:1</wsc:Identifier></wsc:SecurityContextToken>`+
			`<xenc:EncryptedKey xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" Id="EK-1"/>`+
			`<ds:Signature xmlns:ds="`+NSDSig+`" Id="SIG"/>`)))
	if err != nil {
		t.Fatal(err)
	}
	// CancelTarget / ValidateTarget reference "#sct" (CXF unit tests).
	tok, ok := h.Lookup("#sct")
	if raw, isRaw := tok.(*RawToken); !ok || !isRaw || raw.Element.Tag != "SecurityContextToken" {
		t.Errorf("Lookup(#sct) = %T %v, %v", tok, tok, ok)
	}
	if _, ok := h.Lookup("#EK-1"); !ok {
		t.Error("EncryptedKey Id not indexed")
	}
	// The Timestamp and signatures are reachable as elements, not tokens.
	if _, ok := h.Lookup("#TS"); ok {
		t.Error("the Timestamp was returned as a token")
	}
	if el, ok := h.ElementByID("#TS"); !ok || el != h.Timestamp.Element {
		t.Error("ElementByID(#TS) does not return the Timestamp")
	}
	if el, ok := h.ElementByID("SIG"); !ok || len(h.Signatures) != 1 || el != h.Signatures[0] {
		t.Error("ElementByID(SIG) does not return the signature")
	}
	for _, ref := range []string{"", "#", "#nope"} {
		if _, ok := h.Lookup(ref); ok {
			t.Errorf("Lookup(%q) resolved", ref)
		}
		if _, ok := h.ElementByID(ref); ok {
			t.Errorf("ElementByID(%q) resolved", ref)
		}
	}
}

func TestParseHeaderInsideEnvelope(t *testing.T) {
	// Namespace declarations on the envelope apply to the header: ADAL
	// declares wsu on s:Envelope, not on wsse:Security.
	doc := `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" ` + declWSU + `><s:Header>` +
		`<wsse:Security ` + declWSSE + `><wsu:Timestamp wsu:Id="_0"><wsu:Created>2024-05-01T12:00:00Z</wsu:Created></wsu:Timestamp></wsse:Security>` +
		`</s:Header><s:Body/></s:Envelope>`
	d := etree.NewDocument()
	if err := d.ReadFromString(doc); err != nil {
		t.Fatal(err)
	}
	h, err := ParseHeader(findSecurity(t, d.Root()))
	if err != nil {
		t.Fatal(err)
	}
	if h.Timestamp == nil || h.Timestamp.ID != "_0" {
		t.Errorf("Timestamp with inherited namespace not read: %+v", h.Timestamp)
	}
}
