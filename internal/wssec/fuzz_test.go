package wssec

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/testtools"
)

// FuzzParseHeader checks that no input panics, that every refusal is an
// InvalidSecurity or InvalidSecurityToken fault that does not repeat the
// password, and that every token of an accepted header resolves by its id.
func FuzzParseHeader(f *testing.F) {
	for _, b := range testtools.ReadFiles(f, filepath.Join("testdata", "*.xml")) {
		f.Add(b)
	}
	for _, s := range []string{
		security(`<wsu:Timestamp wsu:Id="_0"><wsu:Created>2018-10-02T10:15:30.068Z</wsu:Created><wsu:Expires>2018-10-02T10:25:30.068Z</wsu:Expires></wsu:Timestamp>` +
			`<wsse:UsernameToken wsu:Id="u"><wsse:Username>the_username</wsse:Username><wsse:Password>the_password</wsse:Password></wsse:UsernameToken>`),
		security(`<wsse:BinarySecurityToken wsu:Id="x509" ValueType="` + ValueTypeX509v3 + `" EncodingType="` + EncodingBase64Binary + `">AAEC</wsse:BinarySecurityToken>`),
		security(`<saml2:Assertion xmlns:saml2="` + NSSAML20 + `" ID="_a"/><saml:Assertion xmlns:saml="` + NSSAML11 + `" AssertionID="_b"/>`),
		security(`<wsse:UsernameToken><wsse:Username>a</wsse:Username><wsse:Password Type="` + PasswordDigest + `">AA==</wsse:Password><wsse:Nonce>AQ==</wsse:Nonce><wsu:Created>2024-05-01T12:00:00Z</wsu:Created></wsse:UsernameToken>`),
		security(`<ds:Signature xmlns:ds="` + NSDSig + `" Id="s"><ds:SignedInfo><ds:Reference URI="#_0"><ds:DigestValue>AA==</ds:DigestValue></ds:Reference></ds:SignedInfo></ds:Signature>`),
		`<Security xmlns="` + NSSecExt + `"><Timestamp xmlns="` + NSUtility + `"><Created>2024-05-01T12:00:00+02:00</Created></Timestamp></Security>`,
	} {
		f.Add([]byte(s))
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		doc := etree.NewDocument()
		if err := doc.ReadFromBytes(data); err != nil || doc.Root() == nil {
			return
		}
		h, err := ParseHeader(doc.Root())
		if err != nil {
			checkRefusal(t, data, doc.Root(), err)
			return
		}
		checkAccepted(t, h)
		// Deriving replay keys from any accepted header must not panic.
		MessageReplayKey(h)
		for _, ut := range h.UsernameTokens {
			UsernameTokenReplayKey(ut)
			VerifyDigest(ut, "password")
		}
	})
}

func checkRefusal(t *testing.T, data []byte, root *etree.Element, err error) {
	var f *soap.Fault
	if !errors.As(err, &f) {
		t.Fatalf("error is not a fault: %v", err)
	}
	if f.Code != soap.InvalidSecurity && f.Code != soap.InvalidSecurityToken {
		t.Fatalf("fault code %s", f.Code.Local)
	}
	if f.Reason == "" {
		t.Fatal("fault without reason")
	}
	// A password that occurs nowhere else in the input must not reach the
	// error text.
	for _, pw := range root.FindElements("//Password") {
		s := pw.Text()
		if len(s) >= 8 && bytes.Count(data, []byte(s)) == 1 && bytes.Contains([]byte(err.Error()), []byte(s)) {
			t.Fatalf("error reveals a password: %v", err)
		}
	}
}

func checkAccepted(t *testing.T, h *Header) {
	for _, ut := range h.UsernameTokens {
		if ut.Username == "" {
			t.Fatal("UsernameToken accepted without Username")
		}
		if ut.ID != "" {
			if tok, ok := h.Lookup("#" + ut.ID); !ok || tok != Token(ut) {
				t.Fatalf("UsernameToken %q does not resolve to itself", ut.ID)
			}
		}
	}
	for _, b := range h.BinarySecurityTokens {
		if len(b.Value) == 0 || len(b.Value) > MaxBinaryTokenSize {
			t.Fatalf("BinarySecurityToken of %d bytes accepted", len(b.Value))
		}
		if b.ID != "" {
			if tok, ok := h.Lookup(b.ID); !ok || tok != Token(b) {
				t.Fatalf("BinarySecurityToken %q does not resolve to itself", b.ID)
			}
		}
	}
	for _, a := range h.Assertions {
		if tok, ok := h.Lookup(a.ID); !ok || tok != Token(a) {
			t.Fatalf("Assertion %q does not resolve to itself", a.ID)
		}
	}
	if ts := h.Timestamp; ts != nil && !ts.Expires.IsZero() && !ts.Expires.After(ts.Created) {
		t.Fatal("Timestamp accepted with Expires not after Created")
	}
}
