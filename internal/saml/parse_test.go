package saml

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/testtools"
)

// corpusAssertion returns the first Assertion element of a corpus file.
func corpusAssertion(t *testing.T, file string) *etree.Element {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testtools.CorpusDir(t), file))
	if err != nil {
		t.Skipf("corpus file missing: %v", err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(data); err != nil {
		t.Fatal(err)
	}
	el := doc.FindElement("//Assertion")
	if el == nil {
		t.Fatalf("%s has no Assertion", file)
	}
	return el
}

func TestParseCorpus(t *testing.T) {
	tests := []struct {
		file      string
		version   Version
		id        string
		issuer    string
		nameID    string
		method    ConfirmationMethod
		audiences []string
		authn     AuthnKind
		noAuthn   bool
		attrs     int
		firstAttr Attribute
	}{
		{
			file: "adfs-rstr2005-saml11-bearer-usystech.xml", version: SAML11,
			id: "_f8ce7751-1854-4c97-bb4e-5393d730bb46", issuer: "http://sts.usystech.net/adfs/services/trust",
			nameID: "y7TujD6J60uo1eFddnNJ1g==", audiences: []string{"urn:federation:MicrosoftOnline"},
			authn: AuthnPassword, attrs: 2,
			firstAttr: Attribute{Name: "UPN", Namespace: "http://schemas.xmlsoap.org/claims", Values: []string{"weji@usystech.net"}},
		},
		{
			file: "aad-wsfed-rstr2005-saml2-wresult.xml", version: SAML20,
			id: "_edc15efd-1117-4bf9-89da-28b1663fb890", issuer: "https://sts.windows.net/add29489-7269-41f4-8841-b63c95564420/",
			nameID: "RrX3SPSxDw6z4KHaKB2V_mnv0G-LbRZdYvo1RQa1L7s", audiences: []string{"spn:fe78e0b4-6fe7-47e6-812c-fb75cee266a4"},
			authn: AuthnPassword, attrs: 8,
			firstAttr: Attribute{Name: "http://schemas.microsoft.com/identity/claims/tenantid", Values: []string{"add29489-7269-41f4-8841-b63c95564420"}},
		},
		{
			// Re-indented by its publisher: values carry newlines and spaces.
			file: "cxfsts-rstrc13-saml2-bearer-fediz-wresult.xml", version: SAML20,
			id: "_93FDCC53AC1D5AE3EB131849544559910", issuer: "DoubleItSTSIssuer",
			nameID: "alice", audiences: []string{"http://localhost:8080/wsfedhelloworld/"},
			noAuthn: true, attrs: 4,
			firstAttr: Attribute{Name: "givenname", Namespace: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims", Values: []string{"Alice"}},
		},
		{
			// XUA: typed values (xsd:string, anyURI, token) and complex
			// HL7 values, which read as empty text.
			file: "ehealthsuisse-rstrc13-soap12-saml2-icoserve-projectathon.xml", version: SAML20,
			id: "_96189571-c72c-4a10-8f1c-6d5b27efa797", issuer: "http://ith-icoserve.com/eHealthSolutionsSTS",
			nameID: "9801000050702", audiences: []string{"urn:e-health-suisse:token-audience:all-communities"},
			authn: AuthnPassword, attrs: 7,
			firstAttr: Attribute{Name: "urn:oasis:names:tc:xspa:1.0:subject:organization", Values: []string{"Post CH AG"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			a, err := Parse(corpusAssertion(t, tt.file))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if a.Version != tt.version || a.ID != tt.id || a.Issuer != tt.issuer {
				t.Errorf("header = %v %q %q", a.Version, a.ID, a.Issuer)
			}
			if a.Subject.NameID != tt.nameID || a.Confirmation.Method != tt.method {
				t.Errorf("subject = %q %v", a.Subject.NameID, a.Confirmation.Method)
			}
			if strings.Join(a.Audiences, " ") != strings.Join(tt.audiences, " ") {
				t.Errorf("audiences = %q, want %q", a.Audiences, tt.audiences)
			}
			switch {
			case tt.noAuthn && a.Authn != nil:
				t.Errorf("authn = %+v, want none", a.Authn)
			case !tt.noAuthn && (a.Authn == nil || AuthnKindOf(a.Authn.Method) != tt.authn || a.Authn.Instant.IsZero()):
				t.Errorf("authn = %+v, want kind %d", a.Authn, tt.authn)
			}
			if a.IssueInstant.IsZero() || a.NotBefore.IsZero() || !a.NotBefore.Before(a.NotOnOrAfter) {
				t.Errorf("times = %v %v..%v", a.IssueInstant, a.NotBefore, a.NotOnOrAfter)
			}
			if len(a.Attributes) != tt.attrs {
				t.Fatalf("%d attributes, want %d", len(a.Attributes), tt.attrs)
			}
			got := a.Attributes[0]
			if got.Name != tt.firstAttr.Name || got.Namespace != tt.firstAttr.Namespace || strings.Join(got.Values, "|") != strings.Join(tt.firstAttr.Values, "|") {
				t.Errorf("first attribute = %+v, want %+v", got, tt.firstAttr)
			}
		})
	}
}

func TestParseSubjectConfirmationData(t *testing.T) {
	a, err := Parse(corpusAssertion(t, "ehealthsuisse-rstrc13-soap12-saml2-icoserve-projectathon.xml"))
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2020, 9, 21, 13, 54, 23, 200e6, time.UTC)
	if a.Confirmation.Recipient != "https://sp.communilty.ch" || !a.Confirmation.NotOnOrAfter.Equal(want) {
		t.Errorf("confirmation data = %q %v", a.Confirmation.Recipient, a.Confirmation.NotOnOrAfter)
	}
	if a.Subject.Format != NameIDPersistent || a.Subject.NameQualifier != "urn:gs1:gln" {
		t.Errorf("subject = %+v", a.Subject)
	}
}

const (
	min20 = `<A:Assertion xmlns:A="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a" IssueInstant="2026-03-01T12:00:00Z" Version="2.0"><A:Issuer>iss</A:Issuer><A:Subject><A:NameID>bob</A:NameID><A:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"/></A:Subject>%s</A:Assertion>`
	min11 = `<Assertion xmlns="urn:oasis:names:tc:SAML:1.0:assertion" MajorVersion="1" MinorVersion="1" AssertionID="_a" Issuer="iss" IssueInstant="2026-03-01T12:00:00.1234567Z">%s<AuthenticationStatement AuthenticationMethod="urn:ietf:rfc:1510" AuthenticationInstant="2026-03-01T12:00:00Z"><Subject><NameIdentifier>bob</NameIdentifier><SubjectConfirmation><ConfirmationMethod>urn:oasis:names:tc:SAML:1.0:cm:bearer</ConfirmationMethod></SubjectConfirmation></Subject></AuthenticationStatement>%s</Assertion>`
)

func fill(format string, parts ...any) []byte {
	s := format
	for _, p := range parts {
		s = strings.Replace(s, "%s", p.(string), 1)
	}
	return []byte(s)
}

func TestParseAudienceRestrictionsIntersect(t *testing.T) {
	el := parseXML(t, fill(min20, `<A:Conditions><A:AudienceRestriction><A:Audience>urn:a</A:Audience><A:Audience> urn:b
	</A:Audience></A:AudienceRestriction><A:AudienceRestriction><A:Audience>urn:b</A:Audience><A:Audience>urn:c</A:Audience></A:AudienceRestriction></A:Conditions>`))
	a, err := Parse(el)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(a.Audiences, " ") != "urn:b" {
		t.Errorf("audiences = %q, want only urn:b (named by every restriction)", a.Audiences)
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name string
		xml  []byte
		want string
	}{
		{"not an assertion", []byte(`<Response xmlns="urn:oasis:names:tc:SAML:2.0:protocol"/>`), "not a SAML assertion"},
		{"wrong namespace", []byte(`<Assertion xmlns="urn:example"/>`), "not a SAML assertion"},
		{"SAML 2.0 wrong version", []byte(strings.Replace(string(fill(min20, "")), `Version="2.0"`, `Version="1.1"`, 1)), "Version"},
		{"SAML 2.0 no issuer", []byte(strings.Replace(string(fill(min20, "")), `<A:Issuer>iss</A:Issuer>`, ``, 1)), "no Issuer"},
		{"SAML 2.0 two issuers", []byte(strings.Replace(string(fill(min20, "")), `<A:Issuer>iss</A:Issuer>`, `<A:Issuer>iss</A:Issuer><A:Issuer>evil</A:Issuer>`, 1)), "more than one Issuer"},
		{"SAML 2.0 bad time", []byte(strings.Replace(string(fill(min20, "")), `2026-03-01T12:00:00Z`, `yesterday`, 1)), "bad IssueInstant"},
		{"SAML 2.0 time without zone", []byte(strings.Replace(string(fill(min20, "")), `2026-03-01T12:00:00Z`, `2026-03-01T12:00:00`, 1)), "bad IssueInstant"},
		{"unknown confirmation", []byte(strings.Replace(string(fill(min20, "")), `cm:bearer`, `cm:magic`, 1)), "confirmation method"},
		{"holder-of-key without key", []byte(strings.Replace(string(fill(min20, "")), `cm:bearer`, `cm:holder-of-key`, 1)), "without KeyInfo"},
		{"unknown condition", fill(min20, `<A:Conditions><A:OneTimeUse/></A:Conditions>`), "unsupported condition"},
		{"disjoint audiences", fill(min20, `<A:Conditions><A:AudienceRestriction><A:Audience>urn:a</A:Audience></A:AudienceRestriction><A:AudienceRestriction><A:Audience>urn:b</A:Audience></A:AudienceRestriction></A:Conditions>`), "in common"},
		{"empty audience restriction", fill(min20, `<A:Conditions><A:AudienceRestriction/></A:Conditions>`), "audiences"},
		{"encrypted attribute", fill(min20, `<A:AttributeStatement><A:EncryptedAttribute/></A:AttributeStatement>`), "encrypted"},
		{"attribute without name", fill(min20, `<A:AttributeStatement><A:Attribute/></A:AttributeStatement>`), "attribute without Name"},
		{"two authn statements", fill(min20, `<A:AuthnStatement AuthnInstant="2026-03-01T12:00:00Z"><A:AuthnContext/></A:AuthnStatement><A:AuthnStatement AuthnInstant="2026-03-01T12:00:00Z"><A:AuthnContext/></A:AuthnStatement>`), "more than one AuthnStatement"},
		{"SAML 1.1 major version 2", []byte(strings.Replace(string(fill(min11, "", "")), `MajorVersion="1"`, `MajorVersion="2"`, 1)), "MajorVersion"},
		{"SAML 1.1 no issuer", []byte(strings.Replace(string(fill(min11, "", "")), `Issuer="iss"`, ``, 1)), "no Issuer"},
		{"SAML 1.1 no statements", []byte(`<Assertion xmlns="urn:oasis:names:tc:SAML:1.0:assertion" MajorVersion="1" MinorVersion="1" AssertionID="_a" Issuer="iss" IssueInstant="2026-03-01T12:00:00Z"/>`), "no statement"},
		{"SAML 1.1 two subjects", fill(min11, "", `<AttributeStatement><Subject><NameIdentifier>mallory</NameIdentifier><SubjectConfirmation><ConfirmationMethod>urn:oasis:names:tc:SAML:1.0:cm:bearer</ConfirmationMethod></SubjectConfirmation></Subject></AttributeStatement>`), "different subjects"},
		{"SAML 1.1 two methods", []byte(strings.Replace(string(fill(min11, "", "")), `<ConfirmationMethod>`, `<ConfirmationMethod>urn:oasis:names:tc:SAML:1.0:cm:sender-vouches</ConfirmationMethod><ConfirmationMethod>`, 1)), "exactly one ConfirmationMethod"},
		{"SAML 1.1 unknown condition", fill(min11, `<Conditions><Whatever/></Conditions>`, ""), "unsupported condition"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(parseXML(t, tt.xml))
			var f *soap.Fault
			if !errors.As(err, &f) || f.Code != soap.InvalidSecurityToken || !strings.Contains(f.Error(), tt.want) {
				t.Fatalf("Parse error = %v, want InvalidSecurityToken mentioning %q", err, tt.want)
			}
		})
	}
}

func TestParseAcceptsVariants(t *testing.T) {
	tests := []struct {
		name string
		xml  []byte
	}{
		{"SAML 1.1 with 7 fractional digits and DoNotCache", fill(min11, `<Conditions><DoNotCacheCondition/></Conditions>`, "")},
		{"SAML 1.0 minor version", []byte(strings.Replace(string(fill(min11, "", "")), `MinorVersion="1"`, `MinorVersion="0"`, 1))},
		{"SAML 2.0 whitespace around URIs", []byte(strings.Replace(string(fill(min20, "")), `Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"`, `Method="
		urn:oasis:names:tc:SAML:2.0:cm:bearer "`, 1))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Parse(parseXML(t, tt.xml))
			if err != nil {
				t.Fatal(err)
			}
			if a.Subject.NameID != "bob" || a.Confirmation.Method != Bearer {
				t.Errorf("subject = %+v %v", a.Subject, a.Confirmation.Method)
			}
		})
	}
}
