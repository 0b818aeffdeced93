package issuer

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/devkeys"
	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/saml"
	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/wstrust"
)

// delegationSnapshot is an STS that translates UsernameTokens, with a user
// store that knows alice, an administrator.
func delegationSnapshot(t *testing.T, allowed policy.Requestors) *policy.Snapshot {
	t.Helper()
	snap := snapshot(t, testRelyingParty())
	snap.Users = lookupUsers{"alice": {Name: "alice", Roles: []string{"admin"}, Attributes: map[string][]string{"mail": {"alice@example.com"}}}}
	snap.STS.OnBehalfOf = policy.OnBehalfOf{AllowedTokenTypes: []string{"UsernameToken"}, RequireAuthenticatedRequestor: true, AllowedRequestors: allowed}
	return snap
}

// delegating wraps a password-less UsernameToken of user in OnBehalfOf or
// ActAs: the attacker's request, which names a user it cannot sign in as.
func delegating(container, user string) *wstrust.RST {
	return rst(func(r *wstrust.RST) {
		el := etree.NewElement("wst:" + container)
		ut := el.CreateElement("wsse:UsernameToken")
		ut.CreateAttr("xmlns:wsse", "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd")
		ut.CreateElement("wsse:Username").SetText(user)
		if container == "ActAs" {
			r.ActAs = el
		} else {
			r.OnBehalfOf = el
		}
	})
}

func certificateCaller(t *testing.T, name string) Principal {
	t.Helper()
	pair, err := devkeys.NewRSA(name, now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return Principal{User: &policy.User{Name: name}, Method: saml.AuthnX509, Instant: now, Certificate: pair.Cert}
}

func fingerprint(p Principal) string {
	sum := sha256.Sum256(p.Certificate.Raw)
	return hex.EncodeToString(sum[:])
}

// TestDelegationNeedsAnAllowedRequestor: a requestor that
// onBehalfOf.allowedRequestors does not list gets no token for alice, the
// administrator, by sending her name without a password in OnBehalfOf or
// ActAs; the log names the requestor, the fault does not quote the
// request. Nobody is listed by default, and an anonymous requestor never
// is.
func TestDelegationNeedsAnAllowedRequestor(t *testing.T) {
	mallory := Principal{User: &policy.User{Name: "mallory", Roles: []string{"staff"}}, Method: saml.AuthnPassword, Instant: now}
	stranger := certificateCaller(t, "stranger")
	for _, tc := range []struct {
		name    string
		allowed policy.Requestors
		who     Principal
	}{
		{"nobody listed", policy.Requestors{}, mallory},
		{"another user listed", policy.Requestors{Users: []string{"frontend"}}, mallory},
		{"another role listed", policy.Requestors{Roles: []string{"delegate"}}, mallory},
		{"another certificate listed", policy.Requestors{Certificates: []policy.RequestorCertificate{{Subject: "CN=frontend,O=trustbroker development"}}}, stranger},
		{"a subject that is only part of the caller's", policy.Requestors{Certificates: []policy.RequestorCertificate{{Subject: "CN=stranger"}}}, stranger},
	} {
		for _, container := range []string{"OnBehalfOf", "ActAs"} {
			t.Run(tc.name+"/"+container, func(t *testing.T) {
				_, err := (&Issuer{}).Issue(delegationSnapshot(t, tc.allowed), Request{Who: tc.who, RST: delegating(container, "alice"), Now: now})
				var f *soap.Fault
				if !errors.As(err, &f) || f.Code != soap.RequestFailed || f.Reason != delegationRefused {
					t.Fatalf("got %v, want RequestFailed: %s", err, delegationRefused)
				}
				if f.Cause == nil || !strings.Contains(f.Cause.Error(), `"`+tc.who.User.Name+`"`) {
					t.Errorf("the log line does not name the requestor: %v", f.Cause)
				}
				if strings.Contains(f.Reason, "alice") {
					t.Errorf("the fault quotes the request: %s", f.Reason)
				}
			})
		}
	}

	t.Run("anonymous", func(t *testing.T) {
		snap := delegationSnapshot(t, policy.Requestors{Users: []string{""}, Roles: []string{""}})
		for _, required := range []bool{true, false} {
			snap.STS.OnBehalfOf.RequireAuthenticatedRequestor = required
			_, err := (&Issuer{}).Issue(snap, Request{RST: delegating("OnBehalfOf", "alice"), Now: now})
			if f := soap.AsFault(err); err == nil || f.Code != soap.TrustFailedAuthentication {
				t.Errorf("requireAuthenticatedRequestor=%v: got %v, want FailedAuthentication", required, err)
			}
		}
	})

	t.Run("refused before the token is read", func(t *testing.T) {
		r := rst(func(r *wstrust.RST) {
			r.OnBehalfOf = etree.NewElement("wst:OnBehalfOf")
			r.OnBehalfOf.CreateElement("not-a-token")
		})
		_, err := (&Issuer{}).Issue(delegationSnapshot(t, policy.Requestors{Users: []string{"frontend"}}), Request{Who: mallory, RST: r, Now: now})
		if f := soap.AsFault(err); err == nil || f.Code != soap.RequestFailed {
			t.Errorf("got %v, want RequestFailed: an unlisted requestor learns nothing about the token", err)
		}
	})
}

// TestDelegationByAllowedRequestors: a requestor listed by user name, by
// role, or by its certificate's subject (compared as a DN, ignoring case
// and spaces) or fingerprint gets alice's token through OnBehalfOf and
// ActAs.
func TestDelegationByAllowedRequestors(t *testing.T) {
	frontend := Principal{User: &policy.User{Name: "frontend", Roles: []string{"staff"}}, Method: saml.AuthnPassword, Instant: now}
	gateway := Principal{User: &policy.User{Name: "gateway", Roles: []string{"staff", "delegate"}}, Method: saml.AuthnKerberos, Instant: now}
	orders := certificateCaller(t, "orders-service")
	for _, tc := range []struct {
		name    string
		allowed policy.Requestors
		who     Principal
	}{
		{"user", policy.Requestors{Users: []string{"someone", "frontend"}}, frontend},
		{"role", policy.Requestors{Roles: []string{"delegate"}}, gateway},
		{"certificate subject", policy.Requestors{Certificates: []policy.RequestorCertificate{{Subject: "cn=Orders-Service, o=TrustBroker Development"}}}, orders},
		{"certificate fingerprint", policy.Requestors{Certificates: []policy.RequestorCertificate{{SHA256: fingerprint(orders)}}}, orders},
	} {
		for _, container := range []string{"OnBehalfOf", "ActAs"} {
			t.Run(tc.name+"/"+container, func(t *testing.T) {
				r, err := (&Issuer{}).Issue(delegationSnapshot(t, tc.allowed), Request{Who: tc.who, RST: delegating(container, "alice"), Now: now})
				if err != nil {
					t.Fatal(err)
				}
				a, err := saml.Parse(r.Token)
				if err != nil {
					t.Fatal(err)
				}
				if a.Subject.NameID != "alice@example.com" {
					t.Errorf("subject %q, want alice's", a.Subject.NameID)
				}
			})
		}
	}
}
