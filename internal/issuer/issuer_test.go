package issuer

import (
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/trustbroker/trustbroker/internal/devkeys"
	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/saml"
	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/wstrust"
)

var now = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func snapshot(t *testing.T, rp *policy.RelyingParty) *policy.Snapshot {
	t.Helper()
	pair, err := devkeys.NewRSA("issuer-test", now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return &policy.Snapshot{
		Generation: 1,
		STS: policy.STS{
			Issuer:  "urn:test:sts",
			Signing: policy.SigningKey{Signer: pair.Key, Chain: []*x509.Certificate{pair.Cert}, SignatureAlgorithm: "rsa-sha256", DigestAlgorithm: "sha256"},
		},
		RelyingParties: []*policy.RelyingParty{rp},
	}
}

func testRelyingParty() *policy.RelyingParty {
	return &policy.RelyingParty{
		Name: "app", Endpoint: "urn:test:app", Audiences: []string{"urn:test:app"}, TokenType: policy.SAML20,
		AllowedKeyTypes: []policy.KeyType{policy.Bearer}, TokenLifetime: time.Hour,
		NameID:     policy.NameID{Attribute: "mail"},
		Attributes: []policy.AttributeMapping{{Name: "mail", From: "mail"}, {Name: "phone", From: "phone"}},
	}
}

var alice = Principal{User: &policy.User{Name: "alice", Roles: []string{"admin"}, Attributes: map[string][]string{"mail": {"alice@example.com"}}}, Method: saml.AuthnPassword}

func rst(mutate func(*wstrust.RST)) *wstrust.RST {
	r := &wstrust.RST{Version: wstrust.V13, RequestType: wstrust.RequestIssue, AppliesTo: "urn:test:app"}
	if mutate != nil {
		mutate(r)
	}
	return r
}

func TestIssueShapesTheToken(t *testing.T) {
	cases := []struct {
		name  string
		rp    func(*policy.RelyingParty)
		rst   func(*wstrust.RST)
		check func(t *testing.T, a *saml.Assertion, r *wstrust.RSTR)
	}{
		{"defaults", nil, nil, func(t *testing.T, a *saml.Assertion, r *wstrust.RSTR) {
			if a.Subject.NameID != "alice@example.com" || a.Subject.Format != saml.NameIDUnspecified {
				t.Errorf("subject %+v", a.Subject)
			}
			if len(a.Attributes) != 1 || a.Attributes[0].Namespace != saml.AttrNameFormatBasic {
				t.Errorf("attributes %+v: want only mail (alice has no phone), NameFormat basic", a.Attributes)
			}
			if r.KeyType != wstrust.KeyBearer || r.TokenType != "urn:oasis:names:tc:SAML:2.0:assertion" {
				t.Errorf("RSTR key type %v token type %q", r.KeyType, r.TokenType)
			}
			if !a.NotBefore.Equal(now) || !a.NotOnOrAfter.Equal(now.Add(time.Hour)) {
				t.Errorf("validity %v..%v", a.NotBefore, a.NotOnOrAfter)
			}
		}},
		{"shorter lifetime asked", nil, func(r *wstrust.RST) { r.Lifetime = &wstrust.Lifetime{Expires: now.Add(10 * time.Minute)} },
			func(t *testing.T, a *saml.Assertion, _ *wstrust.RSTR) {
				if !a.NotOnOrAfter.Equal(now.Add(10 * time.Minute)) {
					t.Errorf("NotOnOrAfter %v, want the asked 10m", a.NotOnOrAfter)
				}
			}},
		{"longer lifetime asked", nil, func(r *wstrust.RST) { r.Lifetime = &wstrust.Lifetime{Expires: now.Add(48 * time.Hour)} },
			func(t *testing.T, a *saml.Assertion, _ *wstrust.RSTR) {
				if !a.NotOnOrAfter.Equal(now.Add(time.Hour)) {
					t.Errorf("NotOnOrAfter %v, want the policy's 1h", a.NotOnOrAfter)
				}
			}},
		{"attribute statement only", func(rp *policy.RelyingParty) { rp.AttributeStatementOnly = true }, nil,
			func(t *testing.T, a *saml.Assertion, _ *wstrust.RSTR) {
				if a.Authn != nil {
					t.Error("an authentication statement was issued")
				}
			}},
		{"SAML 1.1 asked with the token profile URI", nil, func(r *wstrust.RST) {
			r.TokenKind, r.TokenType = wstrust.TokenSAML11, "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV1.1"
		}, func(t *testing.T, a *saml.Assertion, r *wstrust.RSTR) {
			if a.Version != saml.SAML11 || r.TokenType != "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV1.1" {
				t.Errorf("version %v, TokenType %q: want SAML 1.1 echoed in the asked form", a.Version, r.TokenType)
			}
			if a.Attributes[0].Namespace != defaultNamespace11 {
				t.Errorf("SAML 1.1 attribute namespace %q", a.Attributes[0].Namespace)
			}
		}},
		{"memberships", func(rp *policy.RelyingParty) { rp.IncludeMemberships = true }, nil,
			func(t *testing.T, a *saml.Assertion, _ *wstrust.RSTR) {
				last := a.Attributes[len(a.Attributes)-1]
				if last.Name != roleClaim20 || len(last.Values) != 1 || last.Values[0] != "admin" {
					t.Errorf("role attribute %+v", last)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rp := testRelyingParty()
			if tc.rp != nil {
				tc.rp(rp)
			}
			r, err := (&Issuer{}).Issue(snapshot(t, rp), Request{Who: alice, RST: rst(tc.rst), Now: now})
			if err != nil {
				t.Fatal(err)
			}
			a, err := saml.Parse(r.Token)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, a, r)
		})
	}
}

func TestIssueRefusals(t *testing.T) {
	cases := []struct {
		name   string
		rp     func(*policy.RelyingParty)
		rst    func(*wstrust.RST)
		who    func(*Principal)
		code   soap.FaultCode
		reason string
	}{
		{"bearer not allowed", func(rp *policy.RelyingParty) { rp.AllowedKeyTypes = []policy.KeyType{policy.SymmetricKey} },
			func(r *wstrust.RST) { r.KeyType = wstrust.KeyBearer }, nil,
			soap.InvalidRequest, "does not accept Bearer tokens; it accepts SymmetricKey"},
		{"symmetric key without a relying party certificate", func(rp *policy.RelyingParty) { rp.AllowedKeyTypes = []policy.KeyType{policy.SymmetricKey} }, nil, nil,
			soap.RequestFailed, "has no certificate to encrypt the holder-of-key proof key for"},
		{"public key without UseKey or a signature", func(rp *policy.RelyingParty) { rp.AllowedKeyTypes = []policy.KeyType{policy.PublicKey} },
			func(r *wstrust.RST) { r.KeyType = wstrust.KeyPublic }, nil,
			soap.InvalidRequest, "KeyType PublicKey needs wst:UseKey"},
		{"role missing", func(rp *policy.RelyingParty) { rp.AllowedRoles = []string{"finance"} }, nil, nil,
			soap.TrustFailedAuthentication, "Access denied"},
		{"no NameID attribute", nil, nil, func(p *Principal) { p.User = &policy.User{Name: "bob"} },
			soap.RequestFailed, `no "mail" attribute`},
		{"unknown token type", nil, func(r *wstrust.RST) { r.TokenKind, r.TokenType = wstrust.TokenOther, "urn:jwt" }, nil,
			soap.InvalidRequest, `TokenType "urn:jwt" is not issued`},
		{"validate", nil, func(r *wstrust.RST) {
			r.RequestType, r.RequestTypeURI = wstrust.RequestValidate, wstrust.RequestTypeValidate13
		}, nil,
			soap.InvalidRequest, "is not supported"},
		{"unknown relying party", nil, func(r *wstrust.RST) { r.AppliesTo = "urn:test:other" }, nil,
			soap.InvalidRequest, `No relying party is registered for AppliesTo "urn:test:other"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rp := testRelyingParty()
			if tc.rp != nil {
				tc.rp(rp)
			}
			who := alice
			if tc.who != nil {
				tc.who(&who)
			}
			_, err := (&Issuer{}).Issue(snapshot(t, rp), Request{Who: who, RST: rst(tc.rst), Now: now})
			var f *soap.Fault
			if !errors.As(err, &f) || f.Code != tc.code || !strings.Contains(f.Reason, tc.reason) {
				t.Fatalf("err = %v, want %s fault with %q", err, tc.code.Local, tc.reason)
			}
		})
	}
}
