package issuer

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/devkeys"
	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/saml"
	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/tokenreview"
	"github.com/trustbroker/trustbroker/internal/wstrust"
)

const emailClaim = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"

// hmacWebhook is a token review webhook for HMAC tokens, as a partner
// would run one: it reads the TokenReview, checks the token's MAC and
// answers whom it names.
func hmacWebhook(t *testing.T, key []byte, seen *tokenreview.Request) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req tokenreview.Request
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, "bad review", http.StatusBadRequest)
			return
		}
		if seen != nil {
			*seen = req
		}
		doc := etree.NewDocument()
		if err := doc.ReadFromBytes(req.Token); err != nil || doc.Root() == nil {
			http.Error(w, "bad token", http.StatusBadRequest)
			return
		}
		answer := tokenreview.Response{APIVersion: tokenreview.APIVersion, Kind: tokenreview.Kind}
		id, err := (&HMACTokenHandler{Key: key, MaxSkew: time.Minute}).Validate(r.Context(), doc.Root(), now)
		if err != nil {
			answer.Reason = err.Error()
		} else {
			answer.Authenticated, answer.Subject = true, id.Subject.NameID
			answer.Attributes = map[string][]string{}
			for _, a := range id.Attributes {
				answer.Attributes[a.Name] = a.Values
			}
			expires, _ := time.Parse(time.RFC3339, doc.Root().SelectAttrValue("Expires", ""))
			answer.Expires = &expires
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(answer)
	}
}

// webhookSnapshot is a snapshot whose trusted issuer hands HMAC tokens to
// the webhook at url, trusting cas.
func webhookSnapshot(t *testing.T, url string, cas []*x509.Certificate) *policy.Snapshot {
	t.Helper()
	snap := snapshot(t, testRelyingParty())
	snap.STS.AllowedRoles = []string{"admin"}
	snap.STS.OnBehalfOf = policy.OnBehalfOf{AllowedTokenTypes: []string{NamespaceHMACToken}}
	snap.TrustedIssuers = []*policy.TrustedIssuer{{
		Namespace: "default", Name: "hmac-partner", Issuer: "urn:partner:hmac",
		AllowedUsages: []string{policy.UsageOnBehalfOf, policy.UsageActAs, policy.UsageValidate},
		TokenTypes:    []policy.TokenType{NamespaceHMACToken},
		Webhook:       &policy.Webhook{URL: url, CAs: cas, Timeout: time.Second, TokenTypes: []string{NamespaceHMACToken}},
	}}
	return snap
}

// validateRequest asks to exchange el for a SAML 2.0 token (or, with
// status, for its status alone).
func validateRequest(el *etree.Element, status bool) Request {
	return Request{Who: alice, Now: now, RST: rst(func(r *wstrust.RST) {
		r.RequestType, r.RequestTypeURI = wstrust.RequestValidate, wstrust.RequestTypeValidate13
		r.TokenKind, r.TokenType = wstrust.TokenSAML20, wstrust.TokenSAML20.DefaultURI(wstrust.V13)
		if status {
			r.TokenKind, r.TokenType = wstrust.TokenStatus, wstrust.TokenStatus.DefaultURI(wstrust.V13)
		}
		target := etree.NewElement("wst:ValidateTarget")
		target.AddChild(el.Copy())
		r.ValidateTarget = target
	})}
}

// TestWebhookTokenReview: a custom token is valid when the trusted
// issuer's webhook says so, and the exchanged token carries the subject
// and attributes the webhook answered with.
func TestWebhookTokenReview(t *testing.T) {
	key := []byte("partner key")
	var seen tokenreview.Request
	hook := httptest.NewTLSServer(hmacWebhook(t, key, &seen))
	t.Cleanup(hook.Close)
	snap := webhookSnapshot(t, hook.URL, []*x509.Certificate{hook.Certificate()})
	is := &Issuer{}
	// The note's CR, LF and tab reach the webhook as the MAC covers them.
	good := NewHMACToken(key, "erin", []saml.Attribute{{Name: emailClaim, Values: []string{"erin@partner.example"}}, {Name: "note", Values: []string{"line\r\n\tnext"}}}, now.Add(-time.Minute), now.Add(time.Hour))

	r, err := is.Validate(snap, validateRequest(good, false))
	if err != nil {
		t.Fatal(err)
	}
	if r.Status == nil || r.Status.Code != wstrust.StatusValid {
		t.Fatalf("status %+v, want valid", r.Status)
	}
	a, err := saml.Parse(r.Token)
	if err != nil {
		t.Fatal(err)
	}
	if a.Subject.NameID != "erin" {
		t.Errorf("subject %q, want the webhook's erin", a.Subject.NameID)
	}
	if got := attributeValues(a, emailClaim); !slices.Equal(got, []string{"erin@partner.example"}) {
		t.Errorf("attributes %+v, want the webhook's e-mail address", a.Attributes)
	}
	if seen.APIVersion != tokenreview.APIVersion || seen.Kind != tokenreview.Kind || seen.TokenType != NamespaceHMACToken || seen.Usage != policy.UsageValidate ||
		!slices.Contains(seen.Audiences, "urn:test:sts") {
		t.Errorf("the webhook was asked %+v", seen)
	}
	if !strings.Contains(string(seen.Token), `xmlns:ht="urn:trustbroker:token:hmac"`) {
		t.Errorf("the token sent is not standalone XML: %s", seen.Token)
	}

	forged := NewHMACToken([]byte("another key"), "erin", nil, now.Add(-time.Minute), now.Add(time.Hour))
	r, err = is.Validate(snap, validateRequest(forged, true))
	if err != nil {
		t.Fatal(err)
	}
	if r.Status == nil || r.Status.Code != wstrust.StatusInvalid {
		t.Fatalf("a forged token's status is %+v, want invalid", r.Status)
	}
	if strings.Contains(r.Status.Reason, "MAC") {
		t.Errorf("the webhook's reason %q reaches the requestor", r.Status.Reason)
	}
}

// TestWebhookFailsClosed: whatever keeps the webhook from answering
// clearly refuses the token with a receiver fault, never a valid status.
func TestWebhookFailsClosed(t *testing.T) {
	key := []byte("partner key")
	good := NewHMACToken(key, "erin", nil, now.Add(-time.Minute), now.Add(time.Hour))
	other, err := devkeys.NewRSA("other-ca", now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	slow := make(chan struct{})
	t.Cleanup(func() { close(slow) })
	cases := []struct {
		name    string
		handler http.HandlerFunc
		// cas overrides the webhook's CA bundle when set.
		cas []*x509.Certificate
		// cause is a pattern the logged cause must match, case aside.
		cause string
	}{
		{"status 500", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "erin", http.StatusInternalServerError) }, nil, "status 500"},
		{"redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://example.com/", http.StatusTemporaryRedirect)
		}, nil, "status 307"},
		{"timeout", func(w http.ResponseWriter, r *http.Request) {
			// Reading the body lets the server notice the client leaving.
			_, _ = io.Copy(io.Discard, r.Body)
			select {
			case <-slow:
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}, nil, "deadline exceeded|timeout"}, // a busy machine may time out in the TLS handshake
		{"certificate not in the CA bundle", hmacWebhook(t, key, nil), []*x509.Certificate{other.Cert}, "certificate"},
		{"not JSON", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("<ok/>")) }, nil, "not a TokenReview"},
		{"authenticated without a subject", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{"authenticated": true}`)) }, nil, "must name a subject"},
		{"another kind", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(`{"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "authenticated": true, "subject": "erin"}`))
		}, nil, "is not a sts.trustbroker.io/v1alpha1 TokenReview"},
		{"too long", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(`{"authenticated": true, "subject": "erin", "reason": "` + strings.Repeat("x", tokenreview.MaxResponseBytes) + `"}`))
		}, nil, "longer than"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hook := httptest.NewTLSServer(tc.handler)
			t.Cleanup(hook.Close)
			cas := []*x509.Certificate{hook.Certificate()}
			if tc.cas != nil {
				cas = tc.cas
			}
			snap := webhookSnapshot(t, hook.URL, cas)
			snap.TrustedIssuers[0].Webhook.Timeout = 300 * time.Millisecond
			_, err := (&Issuer{}).Validate(snap, validateRequest(good, true))
			var f *soap.Fault
			if !errors.As(err, &f) || f.Code != soap.RequestFailed {
				t.Fatalf("got %v, want a RequestFailed fault", err)
			}
			if !strings.Contains(f.Reason, "cannot be checked at the moment") || !regexp.MustCompile("(?i)"+tc.cause).MatchString(f.Error()) {
				t.Errorf("reason %q, cause %v; want the cause to say %q", f.Reason, f.Cause, tc.cause)
			}
			if strings.Contains(f.Error(), "HMACToken") || strings.Contains(f.Error(), "erin") {
				t.Errorf("the logged cause quotes the token or the answer: %v", f.Error())
			}
		})
	}
}

// TestCustomTokenTypeRefusals: a type nobody validates, a type not
// allowed, a use the issuer does not allow and an expired answer are
// refused, each with its fault.
func TestCustomTokenTypeRefusals(t *testing.T) {
	key := []byte("partner key")
	hook := httptest.NewTLSServer(hmacWebhook(t, key, nil))
	t.Cleanup(hook.Close)
	good := NewHMACToken(key, "erin", nil, now.Add(-time.Minute), now.Add(time.Hour))
	cases := []struct {
		name   string
		edit   func(*policy.Snapshot)
		el     *etree.Element
		code   soap.FaultCode
		reason string
	}{
		{"allowed, but no webhook validates it", func(s *policy.Snapshot) { s.TrustedIssuers = nil }, good,
			soap.RequestFailed, "is of type urn:trustbroker:token:hmac, which no trusted issuer of this STS validates"},
		{"not in allowedTokenTypes", func(s *policy.Snapshot) { s.STS.OnBehalfOf.AllowedTokenTypes = []string{"SAML20"} }, good,
			soap.InvalidRequest, "is of a kind this STS does not accept"},
		{"the issuer's usages exclude Validate", func(s *policy.Snapshot) { s.TrustedIssuers[0].AllowedUsages = []string{policy.UsageOnBehalfOf} }, good,
			soap.InvalidRequest, "may not be used for Validate"},
		{"expired", nil, NewHMACToken(key, "erin", nil, now.Add(-2*time.Hour), now.Add(-time.Hour)),
			soap.InvalidSecurityToken, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			snap := webhookSnapshot(t, hook.URL, []*x509.Certificate{hook.Certificate()})
			if tc.edit != nil {
				tc.edit(snap)
			}
			_, err := (&Issuer{}).pluginIdentity(context.Background(), snap, tc.el, &Request{Now: now}, tokenUse{usage: policy.UsageValidate, what: "The token"})
			var f *soap.Fault
			if !errors.As(err, &f) || f.Code != tc.code || !strings.Contains(f.Reason, tc.reason) {
				t.Fatalf("got %v, want %v %q", err, tc.code, tc.reason)
			}
		})
	}
}

// TestWebhookClientsFollowThePolicy: a webhook keeps its client while the
// policy keeps it, and gets a new one when its CA bundle changes.
func TestWebhookClientsFollowThePolicy(t *testing.T) {
	snap := webhookSnapshot(t, "https://hook.example/review", nil)
	var w webhookClients
	a, err := w.client(snap, snap.TrustedIssuers[0])
	if err != nil {
		t.Fatal(err)
	}
	next := webhookSnapshot(t, "https://hook.example/review", nil)
	next.Generation = snap.Generation + 1
	if b, _ := w.client(next, next.TrustedIssuers[0]); b != a {
		t.Error("an unchanged webhook got a new client on reload")
	}
	pair, err := devkeys.NewRSA("new-ca", now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	changed := webhookSnapshot(t, "https://hook.example/review", []*x509.Certificate{pair.Cert})
	changed.Generation = next.Generation + 1
	if c, _ := w.client(changed, changed.TrustedIssuers[0]); c == a {
		t.Error("a webhook with a new CA bundle kept its old client")
	}
	if len(w.clients) != 1 {
		t.Errorf("%d clients kept, want only the live one", len(w.clients))
	}
}

func attributeValues(a *saml.Assertion, name string) []string {
	for _, at := range a.Attributes {
		if at.Name == name {
			return at.Values
		}
	}
	return nil
}
