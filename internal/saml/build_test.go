package saml

import (
	"flag"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/trustbroker/trustbroker/internal/testtools"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func fixedKeyInfo(t *testing.T) *etree.Element {
	return parseXML(t, []byte(`<ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:KeyName>proof-key-1</ds:KeyName></ds:KeyInfo>`))
}

func TestBuildGolden(t *testing.T) {
	advice := parseXML(t, []byte(`<x:Advice xmlns:x="urn:oasis:names:tc:SAML:1.0:assertion"><x:AssertionIDReference>_earlier</x:AssertionIDReference></x:Advice>`))
	tests := []struct {
		name    string
		version Version
		edit    func(a *Assertion)
	}{
		{"saml20-bearer", SAML20, nil},
		{"saml20-holder-of-key", SAML20, func(a *Assertion) {
			a.Confirmation = SubjectConfirmation{Method: HolderOfKey, KeyInfo: fixedKeyInfo(t)}
		}},
		{"saml20-sender-vouches-minimal", SAML20, func(a *Assertion) {
			a.Confirmation = SubjectConfirmation{Method: SenderVouches, NotOnOrAfter: testNow.Add(5 * time.Minute), Recipient: "https://app.example.test/"}
			a.Subject = Subject{NameID: "svc"}
			a.Audiences, a.NotBefore, a.NotOnOrAfter, a.Attributes = nil, time.Time{}, time.Time{}, nil
			a.Authn = &AuthnStatement{Instant: testNow, Method: AuthnMethodURI(SAML20, AuthnPreviousSession)}
		}},
		{"saml11-bearer", SAML11, nil},
		{"saml11-holder-of-key-advice", SAML11, func(a *Assertion) {
			a.Confirmation = SubjectConfirmation{Method: HolderOfKey, KeyInfo: fixedKeyInfo(t)}
			a.Advice = advice
			a.Authn = &AuthnStatement{Instant: testNow, Method: AuthnMethodURI(SAML11, AuthnKerberos)}
		}},
		{"saml11-sender-vouches-authn-only", SAML11, func(a *Assertion) {
			a.Confirmation = SubjectConfirmation{Method: SenderVouches}
			a.Attributes = []Attribute{{Name: "empty", Namespace: "urn:x", Values: nil}}
			a.Authn = &AuthnStatement{Instant: testNow, Method: AuthnMethodURI(SAML11, AuthnX509)}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := sampleAssertion(tt.version, Bearer)
			if tt.edit != nil {
				tt.edit(a)
			}
			el, err := Build(tt.version, a)
			if err != nil {
				t.Fatal(err)
			}
			got := testtools.Serialize(t, el)
			testtools.Golden(t, filepath.Join("testdata", tt.name+".golden.xml"), got, *update)

			// What was built reads back as what was asked for.
			back, err := Parse(parseXML(t, got))
			if err != nil {
				t.Fatalf("Parse of the built assertion: %v", err)
			}
			assertSameAssertion(t, back, a, tt.version)
		})
	}
}

// assertSameAssertion compares what Parse read with the model that was
// built, ignoring what a version cannot carry.
func assertSameAssertion(t *testing.T, got, want *Assertion, v Version) {
	t.Helper()
	if got.Version != v || got.ID != want.ID || got.Issuer != want.Issuer || !got.IssueInstant.Equal(want.IssueInstant) {
		t.Errorf("header = %v %q %q %v, want %v %q %q %v", got.Version, got.ID, got.Issuer, got.IssueInstant, v, want.ID, want.Issuer, want.IssueInstant)
	}
	if got.Subject != want.Subject {
		t.Errorf("Subject = %+v, want %+v", got.Subject, want.Subject)
	}
	if got.Confirmation.Method != want.Confirmation.Method || (got.Confirmation.KeyInfo == nil) != (want.Confirmation.KeyInfo == nil) {
		t.Errorf("Confirmation = %v (KeyInfo %v), want %v", got.Confirmation.Method, got.Confirmation.KeyInfo != nil, want.Confirmation.Method)
	}
	if v == SAML20 && (got.Confirmation.Recipient != want.Confirmation.Recipient || !got.Confirmation.NotOnOrAfter.Equal(want.Confirmation.NotOnOrAfter)) {
		t.Errorf("SubjectConfirmationData = %q %v, want %q %v", got.Confirmation.Recipient, got.Confirmation.NotOnOrAfter, want.Confirmation.Recipient, want.Confirmation.NotOnOrAfter)
	}
	if !got.NotBefore.Equal(want.NotBefore) || !got.NotOnOrAfter.Equal(want.NotOnOrAfter) {
		t.Errorf("validity = %v..%v, want %v..%v", got.NotBefore, got.NotOnOrAfter, want.NotBefore, want.NotOnOrAfter)
	}
	if strings.Join(got.Audiences, " ") != strings.Join(want.Audiences, " ") {
		t.Errorf("Audiences = %q, want %q", got.Audiences, want.Audiences)
	}
	if (got.Authn == nil) != (want.Authn == nil) || (got.Authn != nil && (*got.Authn != *want.Authn)) {
		t.Errorf("Authn = %+v, want %+v", got.Authn, want.Authn)
	}
	var wantAttrs []Attribute
	for _, at := range want.Attributes {
		if v == SAML11 && len(at.Values) == 0 {
			continue // SAML 1.1 cannot carry it
		}
		wantAttrs = append(wantAttrs, at)
	}
	if len(got.Attributes) != len(wantAttrs) {
		t.Fatalf("Attributes = %+v, want %+v", got.Attributes, wantAttrs)
	}
	for i := range wantAttrs {
		g, w := got.Attributes[i], wantAttrs[i]
		if g.Name != w.Name || g.Namespace != w.Namespace || strings.Join(g.Values, "|") != strings.Join(w.Values, "|") {
			t.Errorf("Attribute %d = %+v, want %+v", i, g, w)
		}
	}
	if (got.Advice == nil) != (want.Advice == nil) {
		t.Errorf("Advice present = %v, want %v", got.Advice != nil, want.Advice != nil)
	}
}

func TestBuildRejects(t *testing.T) {
	tests := []struct {
		name    string
		version Version
		edit    func(a *Assertion)
		want    string
	}{
		{"ID not an NCName", SAML20, func(a *Assertion) { a.ID = "1abc" }, "NCName"},
		{"no issuer", SAML20, func(a *Assertion) { a.Issuer = "" }, "no Issuer"},
		{"no subject", SAML11, func(a *Assertion) { a.Subject.NameID = "" }, "NameID"},
		{"holder-of-key without key", SAML20, func(a *Assertion) { a.Confirmation.Method = HolderOfKey }, "KeyInfo"},
		{"unknown method", SAML20, func(a *Assertion) { a.Confirmation.Method = 7 }, "confirmation method"},
		{"inverted validity", SAML20, func(a *Assertion) { a.NotOnOrAfter = a.NotBefore }, "NotBefore"},
		{"SAML 1.1 attribute without namespace", SAML11, func(a *Assertion) { a.Attributes[0].Namespace = "" }, "needs a namespace"},
		{"SAML 1.1 without statements", SAML11, func(a *Assertion) { a.Attributes, a.Authn = nil, nil }, "needs an attribute"},
		{"authn without method", SAML20, func(a *Assertion) { a.Authn.Method = "" }, "authentication statement"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := sampleAssertion(tt.version, Bearer)
			tt.edit(a)
			_, err := Build(tt.version, a)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Build error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id := NewID()
		if len(id) != 33 || id[0] != '_' || !isNCName(id) {
			t.Fatalf("NewID() = %q, want _ and 32 hex digits", id)
		}
		if seen[id] {
			t.Fatalf("NewID repeated %q", id)
		}
		seen[id] = true
	}
}

func TestMethodURIs(t *testing.T) {
	for _, m := range []ConfirmationMethod{Bearer, HolderOfKey, SenderVouches} {
		for _, v := range []Version{SAML20, SAML11} {
			got, ok := confirmationMethodByURI(" " + m.URI(v) + "\n")
			if !ok || got != m {
				t.Errorf("%s %s: URI %q reads back as %v", v, m, m.URI(v), got)
			}
		}
	}
	for _, k := range []AuthnKind{AuthnPassword, AuthnX509, AuthnKerberos, AuthnUnspecified, AuthnPreviousSession} {
		if got := AuthnKindOf(AuthnMethodURI(SAML20, k)); got != k {
			t.Errorf("SAML 2.0 kind %d reads back as %d", k, got)
		}
		want := k
		if k == AuthnPreviousSession {
			want = AuthnUnspecified // SAML 1.1 has no previous-session method
		}
		if got := AuthnKindOf(AuthnMethodURI(SAML11, k)); got != want {
			t.Errorf("SAML 1.1 kind %d reads back as %d", k, got)
		}
	}
}
