package soap

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/trustbroker/trustbroker/internal/testtools"
)

// marker stands for request content no fault may quote: it is the password,
// and the value of whatever a case makes wrong.
const marker = "s3cr3t-marker"

// rstDoc is a SOAP envelope carrying a WS-Trust 1.3 Issue request with a
// UsernameToken whose password is the marker.
type rstDoc struct {
	v        Version
	wsa      string // WS-Addressing namespace of the a: prefix; "" is 1.0
	envAttrs string // on the Envelope
	security string // inside wsse:Security, after the UsernameToken
	header   string // after the Security header
	rstAttrs string // on the RequestSecurityToken
}

func (d rstDoc) String() string {
	ns, wsa := NamespaceSOAP12, NamespaceWSA10
	if d.v == V11 {
		ns = NamespaceSOAP11
	}
	if d.wsa != "" {
		wsa = d.wsa
	}
	return `<s:Envelope xmlns:s="` + ns + `" xmlns:a="` + wsa + `" xmlns:u="` + NamespaceUtility + `"` + d.envAttrs + `>` +
		`<s:Header><a:Action s:mustUnderstand="1">http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Issue</a:Action>` +
		`<o:Security s:mustUnderstand="1" xmlns:o="` + NamespaceSecext + `"><o:UsernameToken u:Id="uuid-1">` +
		`<o:Username>alice</o:Username><o:Password>` + marker + `</o:Password></o:UsernameToken>` + d.security + `</o:Security>` +
		d.header + `</s:Header>` +
		`<s:Body><wst:RequestSecurityToken xmlns:wst="http://docs.oasis-open.org/ws-sx/ws-trust/200512"` + d.rstAttrs + `>` +
		`<wsp:AppliesTo xmlns:wsp="http://schemas.xmlsoap.org/ws/2004/09/policy"><a:EndpointReference><a:Address>urn:rp</a:Address></a:EndpointReference></wsp:AppliesTo>` +
		`<wst:RequestType>http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue</wst:RequestType>` +
		`</wst:RequestSecurityToken></s:Body></s:Envelope>`
}

// timestamp is a wsu:Timestamp with attrs.
func timestamp(attrs string) string {
	return `<u:Timestamp` + attrs + `><u:Created>2030-01-01T00:00:00Z</u:Created></u:Timestamp>`
}

// assertion is a signed SAML 2.0 assertion with attrs on its root.
func assertion(attrs string) string {
	return `<saml2:Assertion xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion"` + attrs + ` IssueInstant="2030-01-01T00:00:00Z" Version="2.0">` +
		`<saml2:Issuer>https://idp.example.test</saml2:Issuer>` +
		`<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:Reference URI="#_a1"/></ds:SignedInfo></ds:Signature>` +
		`</saml2:Assertion>`
}

// manyAttrs returns n distinct unqualified attributes, enough to take the
// duplicate check past its pairwise comparison.
func manyAttrs(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(` n` + string(rune('a'+i%26)) + string(rune('a'+i/26)) + `="v"`)
	}
	return b.String()
}

// manyPrefixes declares prefixes p0... bound to urn:p0..., enough to take
// the scan's prefix lookup past its linear search.
func manyPrefixes(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, ` xmlns:p%d="urn:p%d"`, i, i)
	}
	return b.String()
}

func TestParseRefusesWhatXMLForbids(t *testing.T) {
	const wsu = ` xmlns:w="` + NamespaceUtility + `"`
	longName := strings.Repeat("n", 10000)
	tests := []struct {
		name    string
		doc     string
		wantErr error  // the cause, when the pre-scan refuses
		reason  string // substring of the reason
	}{
		{"the same qualified attribute twice on a header block",
			rstDoc{v: V12, security: timestamp(` u:Id="_0" u:Id="` + marker + `"`)}.String(),
			ErrDuplicateAttr, "same attribute twice"},
		{"the same unqualified attribute twice on the RST",
			rstDoc{v: V11, rstAttrs: ` Context="uuid-1" Context="` + marker + `"`}.String(),
			ErrDuplicateAttr, "same attribute twice"},
		{"two prefixes bound to one namespace on the element",
			rstDoc{v: V12, security: timestamp(wsu + ` u:Id="_0" w:Id="` + marker + `"`)}.String(),
			ErrDuplicateAttr, "same attribute twice"},
		{"two prefixes bound to one namespace on different ancestors",
			rstDoc{v: V11, envAttrs: wsu, security: timestamp(` w:Id="` + marker + `" u:Id="_0"`)}.String(),
			ErrDuplicateAttr, "same attribute twice"},
		{"a prefix rebound on the element to the namespace of another",
			rstDoc{v: V12, header: `<x:H xmlns:x="urn:x" xmlns:y="urn:y"><x:C xmlns:y="urn:x" x:k="1" y:k="` + marker + `"/></x:H>`}.String(),
			ErrDuplicateAttr, "same attribute twice"},
		{"ID twice on a signed SAML assertion",
			rstDoc{v: V12, security: assertion(` ID="_a1" ID="` + marker + `"`)}.String(),
			ErrDuplicateAttr, "same attribute twice"},
		{"ID twice on a SAML assertion in SOAP 1.1",
			rstDoc{v: V11, security: assertion(` ID="` + marker + `" ID="_a1"`)}.String(),
			ErrDuplicateAttr, "same attribute twice"},
		{"the same attribute twice among many",
			rstDoc{v: V12, rstAttrs: manyAttrs(30) + ` Context="` + marker + `"` + ` Context="x"`}.String(),
			ErrDuplicateAttr, "same attribute twice"},
		{"two prefixes bound to one namespace among many",
			rstDoc{v: V12, security: timestamp(manyAttrs(30) + wsu + ` u:Id="_0" w:Id="` + marker + `"`)}.String(),
			ErrDuplicateAttr, "same attribute twice"},
		{"two prefixes bound to one namespace among many declarations",
			rstDoc{v: V12, envAttrs: manyPrefixes(40), header: `<p1:H xmlns:p3="urn:other"/><p1:H xmlns:q="urn:p3" p3:k="1" q:k="` + marker + `"/>`}.String(),
			ErrDuplicateAttr, "same attribute twice"},
		{"a prefix declared twice",
			rstDoc{v: V12, rstAttrs: ` xmlns:x="urn:x" xmlns:x="urn:` + marker + `"`}.String(),
			ErrDuplicateAttr, "same attribute twice"},
		{"the default namespace declared twice",
			rstDoc{v: V11, header: `<H xmlns="urn:x" xmlns="urn:` + marker + `"/>`}.String(),
			ErrDuplicateAttr, "same attribute twice"},
		{"an attribute with a very long name twice",
			rstDoc{v: V12, rstAttrs: ` ` + longName + `="` + marker + `" ` + longName + `="x"`}.String(),
			ErrDuplicateAttr, "same attribute twice"},

		{"the xml prefix bound to another namespace",
			rstDoc{v: V12, envAttrs: ` xmlns:xml="urn:` + marker + `"`}.String(),
			ErrReservedNamespace, "reserved xml or xmlns"},
		{"the xml prefix rebound on a header block",
			rstDoc{v: V11, security: timestamp(` xmlns:xml="http://example.test/` + marker + `" xml:lang="en"`)}.String(),
			ErrReservedNamespace, "reserved xml or xmlns"},
		{"another prefix bound to the xml namespace",
			rstDoc{v: V12, rstAttrs: ` xmlns:x="http://www.w3.org/XML/1998/namespace"`}.String(),
			ErrReservedNamespace, "reserved xml or xmlns"},
		{"the default namespace set to the xml namespace",
			rstDoc{v: V12, header: `<H xmlns="http://www.w3.org/XML/1998/namespace">` + marker + `</H>`}.String(),
			ErrReservedNamespace, "reserved xml or xmlns"},
		{"the xmlns prefix declared",
			rstDoc{v: V12, envAttrs: ` xmlns:xmlns="urn:` + marker + `"`}.String(),
			ErrReservedNamespace, "reserved xml or xmlns"},
		{"a prefix bound to the xmlns namespace",
			rstDoc{v: V11, rstAttrs: ` xmlns:p="http://www.w3.org/2000/xmlns/"`}.String(),
			ErrReservedNamespace, "reserved xml or xmlns"},

		{"text between header blocks",
			rstDoc{v: V12, header: marker + `<x:H xmlns:x="urn:x"/>`}.String(),
			nil, "text is not allowed directly inside the Header"},
		{"text after the last header block in SOAP 1.1",
			rstDoc{v: V11, header: "\n " + marker + "\n"}.String(),
			nil, "text is not allowed directly inside the Header"},
		{"text in a CDATA section in the Header",
			rstDoc{v: V12, header: `<![CDATA[` + marker + `]]>`}.String(),
			nil, "text is not allowed directly inside the Header"},
		{"a no-break space in the Header",
			rstDoc{v: V12, header: "\u00a0"}.String(),
			nil, "text is not allowed directly inside the Header"},

		{"ReplyTo with two Addresses",
			rstDoc{v: V12, header: `<a:ReplyTo><a:Address>` + AnonymousWSA10 + `</a:Address><a:Address>https://` + marker + `.test/</a:Address></a:ReplyTo>`}.String(),
			nil, "wsa:ReplyTo has more than one wsa:Address"},
		{"FaultTo with two Addresses in SOAP 1.1",
			rstDoc{v: V11, header: `<a:FaultTo><a:Address>https://` + marker + `.test/</a:Address><a:Address>` + AnonymousWSA10 + `</a:Address></a:FaultTo>`}.String(),
			nil, "wsa:FaultTo has more than one wsa:Address"},
		{"From with three Addresses in WS-Addressing 2004/08",
			rstDoc{v: V12, wsa: NamespaceWSA200408, header: `<a:From><a:Address>urn:a</a:Address><a:Address>urn:b</a:Address><a:Address>` + marker + `</a:Address></a:From>`}.String(),
			nil, "wsa:From has more than one wsa:Address"},
		{"ReplyTo with two Addresses in WS-Addressing 2004/08, SOAP 1.1",
			rstDoc{v: V11, wsa: NamespaceWSA200408, header: `<a:ReplyTo><a:Address>` + AnonymousWSA200408 + `</a:Address><a:Address>` + marker + `</a:Address></a:ReplyTo>`}.String(),
			nil, "wsa:ReplyTo has more than one wsa:Address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := Parse([]byte(tt.doc), "", Limits{})
			if env != nil {
				t.Fatal("document accepted")
			}
			f := mustFault(t, err, InvalidRequest)
			if tt.wantErr != nil && !errors.Is(f, tt.wantErr) {
				t.Errorf("cause = %v, want %v", f.Cause, tt.wantErr)
			}
			if !strings.Contains(f.Reason, tt.reason) {
				t.Errorf("reason %q does not contain %q", f.Reason, tt.reason)
			}
			if strings.Contains(f.Reason, marker) || strings.Contains(f.Error(), marker) {
				t.Errorf("fault quotes the request: %v", f)
			}
			if len(f.Error()) > 300 {
				t.Errorf("fault is %d bytes long: a name in it is not bounded", len(f.Error()))
			}
		})
	}
}

// TestParseAcceptsWhatXMLAllows pins the near misses of the refusals above.
func TestParseAcceptsWhatXMLAllows(t *testing.T) {
	tests := []struct {
		name string
		doc  string
	}{
		{"the xml prefix declared with its own namespace",
			rstDoc{v: V12, envAttrs: ` xmlns:xml="http://www.w3.org/XML/1998/namespace"`, rstAttrs: ` xml:lang="en" lang="de"`}.String()},
		{"one local name in different namespaces",
			rstDoc{v: V12, security: timestamp(` xmlns:x="urn:x" u:Id="_0" Id="_1" x:Id="_2" xml:Id="_3"`)}.String()},
		{"a prefix rebound only inside a closed sibling",
			rstDoc{v: V11, header: `<x:H xmlns:x="urn:x" xmlns:y="urn:y"><x:B xmlns:y="urn:x"/><x:C x:k="1" y:k="2"/></x:H>`}.String()},
		{"a prefix rebound to another namespace on a child",
			rstDoc{v: V12, envAttrs: ` xmlns:w="urn:other"`, security: timestamp(` xmlns:w="urn:inner" u:Id="_0" w:Id="_1"`)}.String()},
		{"a prefix shadowed among many declarations",
			rstDoc{v: V12, envAttrs: manyPrefixes(40), header: `<p1:H xmlns:p3="urn:other"><p1:C xmlns:q="urn:p3" p3:k="1" q:k="2"/></p1:H>`}.String()},
		{"many attributes, all different",
			rstDoc{v: V12, security: timestamp(manyAttrs(30) + ` xmlns:x="urn:x" u:Id="_0" x:Id="_1" Id="_2"`)}.String()},
		{"a signed SAML assertion with one ID",
			rstDoc{v: V11, security: assertion(` ID="_a1"`)}.String()},
		{"whitespace and comments between header blocks",
			rstDoc{v: V12, header: "\r\n\t <!-- " + marker + " --> <x:H xmlns:x=\"urn:x\"/>\n"}.String()},
		{"ReplyTo and FaultTo with one Address each",
			rstDoc{v: V12, header: `<a:ReplyTo><a:Address>` + AnonymousWSA10 + `</a:Address></a:ReplyTo><a:FaultTo><a:Address>urn:f</a:Address></a:FaultTo>`}.String()},
		{"ReplyTo with an Address of the other WS-Addressing namespace as an extension",
			rstDoc{v: V12, header: `<a:ReplyTo><a:Address>` + AnonymousWSA10 + `</a:Address><w:Address xmlns:w="` + NamespaceWSA200408 + `">urn:x</w:Address></a:ReplyTo>`}.String()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := Parse([]byte(tt.doc), "", Limits{})
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if env.Body.Tag != "RequestSecurityToken" {
				t.Errorf("body is %s", env.Body.Tag)
			}
		})
	}
}

// BenchmarkScan measures the check-only pass (decrypted content goes
// through it), on real requests with and without a SAML assertion in the
// header.
func BenchmarkScan(b *testing.B) {
	benchRequests(b, func(data []byte) error { return Scan(data, Limits{}) })
}

// BenchmarkReadTree measures the one pass every request goes through: the
// checks and the tree, on the same requests as BenchmarkScan.
func BenchmarkReadTree(b *testing.B) {
	benchRequests(b, func(data []byte) error {
		_, err := ReadTree(data, Limits{})
		return err
	})
}

func benchRequests(b *testing.B, read func([]byte) error) {
	for _, file := range []string{
		"msalnet-rst13-usernamemixed.xml",
		"ehealthsuisse-rst13-soap12-saml2-bearer-claims-projectathon.xml",
		"adfs-rstrc13-saml11-bearer-richardrandall.xml",
	} {
		data := testtools.ReadCorpus(b, file)
		b.Run(file, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if err := read(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
