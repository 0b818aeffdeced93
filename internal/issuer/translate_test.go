package issuer

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/saml"
	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/wstrust"
)

func TestConvertAttribute(t *testing.T) {
	cases := []struct {
		name     string
		in       saml.Attribute
		from, to saml.Version
		want     saml.Attribute
	}{
		{"1.1 to 2.0 joins namespace and name", saml.Attribute{Name: "emailaddress", Namespace: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/", Values: []string{"a"}}, saml.SAML11, saml.SAML20,
			saml.Attribute{Name: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress", Namespace: saml.AttrNameFormatURI, Values: []string{"a"}}},
		{"2.0 to 1.1 splits at the last slash", saml.Attribute{Name: "http://schemas.microsoft.com/ws/2008/06/identity/claims/role", Namespace: saml.AttrNameFormatURI, Values: []string{"x", "y"}}, saml.SAML20, saml.SAML11,
			saml.Attribute{Name: "role", Namespace: "http://schemas.microsoft.com/ws/2008/06/identity/claims", Values: []string{"x", "y"}}},
		{"2.0 name without a slash gets the default namespace", saml.Attribute{Name: "department", Values: []string{"eng"}}, saml.SAML20, saml.SAML11,
			saml.Attribute{Name: "department", Namespace: defaultNamespace11, Values: []string{"eng"}}},
		{"same version is unchanged", saml.Attribute{Name: "n", Namespace: "ns", Values: []string{"v"}}, saml.SAML11, saml.SAML11,
			saml.Attribute{Name: "n", Namespace: "ns", Values: []string{"v"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := convertAttribute(tc.in, tc.from, tc.to, "")
			if got.Name != tc.want.Name || got.Namespace != tc.want.Namespace || !slices.Equal(got.Values, tc.want.Values) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestCheckRenewable(t *testing.T) {
	first := now.Add(-2 * time.Hour)
	a := &saml.Assertion{ID: "_a", IssueInstant: first, NotBefore: first, NotOnOrAfter: now.Add(-time.Hour)}
	ok := &wstrust.Renewing{Allow: true, OK: true}
	strict := policy.Renewal{MaxLifetime: 8 * time.Hour}
	lenient := policy.Renewal{AllowAfterExpiry: true, MaxLifetime: 8 * time.Hour}
	cases := []struct {
		name     string
		at       time.Time
		renewing *wstrust.Renewing
		renewal  policy.Renewal
		code     string
	}{
		{"still valid", now.Add(-90 * time.Minute), nil, strict, ""},
		{"expired, not allowed after expiry", now, ok, strict, "UnableToRenew"},
		{"expired, allowed, OK not given", now, nil, lenient, "RenewNeeded"},
		{"expired, allowed, OK given", now, ok, lenient, ""},
		{"expired beyond maxLifetime", first.Add(8 * time.Hour), ok, lenient, "UnableToRenew"},
		{"valid but first issued maxLifetime ago", first.Add(time.Hour), nil, policy.Renewal{MaxLifetime: time.Hour}, "UnableToRenew"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := checkRenewable(a, tc.renewing, tc.renewal, time.Minute, tc.at)
			if tc.code == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var f *soap.Fault
			if !errors.As(err, &f) || f.Code.Local != tc.code {
				t.Fatalf("got %v, want %s", err, tc.code)
			}
		})
	}
}

// lookupUsers is a user store that can look users up without a password.
type lookupUsers map[string]*policy.User

func (u lookupUsers) Authenticate(context.Context, string, string) (*policy.User, error) {
	return nil, policy.ErrBadCredentials
}

func (u lookupUsers) PlainPassword(context.Context, string) (string, *policy.User, error) {
	return "", nil, policy.ErrBadCredentials
}

func (u lookupUsers) Lookup(_ context.Context, name string) (*policy.User, error) {
	if user, ok := u[name]; ok {
		return user, nil
	}
	return nil, policy.ErrBadCredentials
}

func onBehalfOfUsername(name string) *wstrust.RST {
	return rst(func(r *wstrust.RST) {
		obo := etree.NewElement("wst:OnBehalfOf")
		ut := obo.CreateElement("wsse:UsernameToken")
		ut.CreateAttr("xmlns:wsse", "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd")
		ut.CreateElement("wsse:Username").SetText(name)
		r.OnBehalfOf = obo
	})
}

// TestUsernameTokenWithoutPassword: an allowed requestor may name a user
// without a password; the user store supplies the attributes. An anonymous
// requestor may not, whatever the STS's setting.
func TestUsernameTokenWithoutPassword(t *testing.T) {
	snap := snapshot(t, testRelyingParty())
	snap.Users = lookupUsers{"carol": {Name: "carol", Attributes: map[string][]string{"mail": {"carol@example.com"}}}}
	snap.STS.OnBehalfOf = policy.OnBehalfOf{AllowedTokenTypes: []string{"UsernameToken"}, RequireAuthenticatedRequestor: true, AllowedRequestors: policy.Requestors{Users: []string{"alice"}}}

	r, err := (&Issuer{}).Issue(snap, Request{Who: alice, RST: onBehalfOfUsername("carol"), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	a, err := saml.Parse(r.Token)
	if err != nil {
		t.Fatal(err)
	}
	if a.Subject.NameID != "carol@example.com" {
		t.Errorf("subject %q, want carol's mail from the user store", a.Subject.NameID)
	}

	for _, required := range []bool{true, false} {
		snap.STS.OnBehalfOf.RequireAuthenticatedRequestor = required
		_, err := (&Issuer{}).Issue(snap, Request{RST: onBehalfOfUsername("carol"), Now: now})
		var f *soap.Fault
		if !errors.As(err, &f) || f.Code != soap.TrustFailedAuthentication {
			t.Errorf("anonymous requestor (required=%v): got %v, want FailedAuthentication", required, err)
		}
	}

	snap.STS.OnBehalfOf.AllowedTokenTypes = []string{"SAML20"}
	_, err = (&Issuer{}).Issue(snap, Request{Who: alice, RST: onBehalfOfUsername("carol"), Now: now})
	if f := soap.AsFault(err); f.Code != soap.InvalidRequest {
		t.Errorf("UsernameToken not allowed: got %v, want InvalidRequest", err)
	}
}

// TestActAsInEitherNamespace: ActAs as WCF and CXF send it (WS-Trust 1.4
// namespace, beside their algorithm preferences) and in the request's own
// namespace give the same token: for the ActAs user, with the requestor
// recorded as the actor.
func TestActAsInEitherNamespace(t *testing.T) {
	snap := snapshot(t, testRelyingParty())
	snap.Users = lookupUsers{"carol": {Name: "carol", Attributes: map[string][]string{"mail": {"carol@example.com"}}}}
	snap.STS.OnBehalfOf = policy.OnBehalfOf{AllowedTokenTypes: []string{"UsernameToken"}, RequireAuthenticatedRequestor: true, AllowedRequestors: policy.Requestors{Roles: []string{"admin"}}}
	const carol = `<wsse:UsernameToken xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">` +
		`<wsse:Username>carol</wsse:Username></wsse:UsernameToken>`
	for _, actAs := range []string{
		`<tr:ActAs xmlns:tr="` + wstrust.Namespace14 + `">` + carol + `</tr:ActAs>`,
		`<t:ActAs>` + carol + `</t:ActAs>`,
	} {
		doc := etree.NewDocument()
		err := doc.ReadFromString(`<t:RequestSecurityToken xmlns:t="` + wstrust.Namespace13 + `">` +
			`<t:KeyType>` + wstrust.KeyTypeBearer13 + `</t:KeyType>` +
			`<t:SignWith>http://www.w3.org/2001/04/xmldsig-more#rsa-sha256</t:SignWith>` +
			`<t:EncryptWith>http://www.w3.org/2001/04/xmlenc#aes256-cbc</t:EncryptWith>` +
			`<t:KeyWrapAlgorithm>http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p</t:KeyWrapAlgorithm>` +
			actAs + `<t:RequestType>` + wstrust.RequestTypeIssue13 + `</t:RequestType></t:RequestSecurityToken>`)
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := wstrust.ParseRST(doc.Root())
		if err != nil {
			t.Fatalf("%s: %v", actAs, err)
		}
		parsed.AppliesTo = "urn:test:app"
		r, err := (&Issuer{}).Issue(snap, Request{Who: alice, RST: parsed, Now: now})
		if err != nil {
			t.Fatalf("%s: %v", actAs, err)
		}
		a, err := saml.Parse(r.Token)
		if err != nil {
			t.Fatal(err)
		}
		var actors []string
		for _, at := range a.Attributes {
			if at.Name == actorClaim {
				actors = at.Values
			}
		}
		if a.Subject.NameID != "carol@example.com" || !slices.Equal(actors, []string{"alice"}) {
			t.Errorf("%s: subject %q, actors %v; want carol, acted for by alice", actAs, a.Subject.NameID, actors)
		}
	}
}

func TestApplyClaims(t *testing.T) {
	rp := testRelyingParty()
	attrs := []saml.Attribute{{Name: "mail", Values: []string{"m"}}, {Name: "phone", Values: []string{"p"}}}
	claims := func(xml string) *wstrust.Claims {
		doc := etree.NewDocument()
		if err := doc.ReadFromString(`<wst:Claims xmlns:wst="x" xmlns:ic="http://schemas.xmlsoap.org/ws/2005/05/identity" Dialect="http://schemas.xmlsoap.org/ws/2005/05/identity">` + xml + `</wst:Claims>`); err != nil {
			t.Fatal(err)
		}
		return &wstrust.Claims{Dialect: IdentityClaimsDialect, Element: doc.Root()}
	}
	cases := []struct {
		name   string
		claims *wstrust.Claims
		want   []string
		fault  string
	}{
		{"no claims keeps all", nil, []string{"mail", "phone"}, ""},
		{"other dialect is ignored", &wstrust.Claims{Dialect: "urn:other", Element: etree.NewElement("Claims")}, []string{"mail", "phone"}, ""},
		{"restricts", claims(`<ic:ClaimType Uri="phone"/>`), []string{"phone"}, ""},
		{"optional missing is fine", claims(`<ic:ClaimType Uri="mail"/><ic:ClaimType Uri="urn:x" Optional="true"/>`), []string{"mail"}, ""},
		{"required unmapped", claims(`<ic:ClaimType Uri="urn:x"/>`), nil, "urn:x"},
		{"bad Optional", claims(`<ic:ClaimType Uri="mail" Optional="maybe"/>`), nil, "not a boolean"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := applyClaims(discard, tc.claims, rp, attrs, saml.SAML20)
			if tc.fault != "" {
				if f := soap.AsFault(err); err == nil || f.Code != soap.InvalidRequest || !contains(f.Reason, tc.fault) {
					t.Fatalf("got %v, want InvalidRequest naming %q", err, tc.fault)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, at := range got {
				names = append(names, at.Name)
			}
			if !slices.Equal(names, tc.want) {
				t.Errorf("attributes %v, want %v", names, tc.want)
			}
		})
	}
}

func FuzzParseClaims(f *testing.F) {
	f.Add(`<ic:ClaimType Uri="http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress" Optional="true"/>`)
	f.Add(`<ic:ClaimType Uri=" "/>`)
	f.Add(`<ic:ClaimType/><x/>`)
	f.Fuzz(func(t *testing.T, inner string) {
		doc := etree.NewDocument()
		if doc.ReadFromString(`<c xmlns:ic="http://schemas.xmlsoap.org/ws/2005/05/identity">`+inner+`</c>`) != nil || doc.Root() == nil {
			return
		}
		claims, ok, err := ParseClaims(&wstrust.Claims{Dialect: IdentityClaimsDialect, Element: doc.Root()})
		if !ok {
			t.Fatal("identity dialect not recognised")
		}
		if err != nil {
			if soap.AsFault(err).Code != soap.InvalidRequest {
				t.Fatalf("error is not InvalidRequest: %v", err)
			}
			return
		}
		for _, c := range claims {
			if c.URI == "" || len(claims) > maxClaimTypes {
				t.Fatalf("bad claims %+v", claims)
			}
		}
	})
}

// failingUsers is a user store whose password checks fail with err.
type failingUsers struct{ err error }

func (u failingUsers) Authenticate(context.Context, string, string) (*policy.User, error) {
	return nil, u.err
}

func (u failingUsers) PlainPassword(context.Context, string) (string, *policy.User, error) {
	return "", nil, u.err
}

// TestPresentedPasswordStoreFailures: a presented UsernameToken's password
// is checked as a caller's own: a store that is busy or unreachable is
// answered as such, not as wrong credentials, which the requestor would
// report to its user as a wrong password.
func TestPresentedPasswordStoreFailures(t *testing.T) {
	withPassword := rst(func(r *wstrust.RST) {
		obo := etree.NewElement("wst:OnBehalfOf")
		ut := obo.CreateElement("wsse:UsernameToken")
		ut.CreateAttr("xmlns:wsse", "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd")
		ut.CreateElement("wsse:Username").SetText("carol")
		ut.CreateElement("wsse:Password").SetText("carol-password")
		r.OnBehalfOf = obo
	})
	for _, tc := range []struct {
		err    error
		code   soap.FaultCode
		reason string
	}{
		{policy.ErrBadCredentials, soap.TrustFailedAuthentication, "could not be verified"},
		{policy.ErrBusy, soap.RequestFailed, "busy checking passwords"},
		{errors.New("ldap: connection refused"), soap.RequestFailed, "user directory cannot be reached"},
	} {
		snap := snapshot(t, testRelyingParty())
		snap.Users = failingUsers{tc.err}
		snap.STS.UsernameToken.AllowText = true
		snap.STS.OnBehalfOf = policy.OnBehalfOf{AllowedTokenTypes: []string{"UsernameToken"}, RequireAuthenticatedRequestor: true, AllowedRequestors: policy.Requestors{Users: []string{"alice"}}}
		_, err := (&Issuer{}).Issue(snap, Request{Who: alice, RST: withPassword, Now: now})
		if f := soap.AsFault(err); f.Code != tc.code || !strings.Contains(f.Reason, tc.reason) {
			t.Errorf("store error %v: got %v, want %v saying %q", tc.err, err, tc.code, tc.reason)
		}
	}
}
