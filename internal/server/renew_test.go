package server_test

import (
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/client"
	"github.com/trustbroker/trustbroker/internal/devkeys"
	"github.com/trustbroker/trustbroker/internal/testfixture"
)

// renewableClaim marks tokens issued with wst:Renewing Allow="false".
const renewableClaim = "http://trustbroker.io/claims/renewable"

// shiftedClock lets a test move the STS's clock (and its requests') ahead.
type shiftedClock struct{ offset atomic.Int64 }

func (c *shiftedClock) now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

func (c *shiftedClock) set(d time.Duration) { c.offset.Store(int64(d)) }

// startClockedSTS starts an STS whose clock the test moves.
func startClockedSTS(t *testing.T, manifests map[string]string) (*testfixture.STS, *shiftedClock) {
	t.Helper()
	sts := testfixture.StartSTS(t, manifests)
	clock := &shiftedClock{}
	sts.Server.Now = clock.now
	return sts, clock
}

// send posts r to the STS at the clock's time.
func send(t *testing.T, sts *testfixture.STS, clock *shiftedClock, r client.Request) (int, []byte) {
	t.Helper()
	r.Endpoint, r.Now = sts.URL, clock.now()
	status, body, err := r.Do(http.DefaultClient)
	if err != nil {
		t.Fatal(err)
	}
	return status, body
}

// renewal is r asking to renew token; ok sends wst:Renewing OK="true".
func renewal(r client.Request, token string, ok bool) client.Request {
	r.RequestType, r.Target, r.RenewExpired = "Renew", token, ok
	return r
}

// sendOK posts r to the STS at the clock's time and returns the token of
// the answer, which must not be a fault.
func sendOK(t *testing.T, sts *testfixture.STS, clock *shiftedClock, r client.Request) string {
	t.Helper()
	status, body := send(t, sts, clock, r)
	return tokenOf(t, status, body)
}

// tokenOf takes the token out of a successful answer.
func tokenOf(t *testing.T, status int, body []byte) string {
	t.Helper()
	if status != http.StatusOK {
		t.Fatalf("status %d:\n%s", status, body)
	}
	token, err := client.Token(body)
	if err != nil {
		t.Fatal(err)
	}
	return token
}

var (
	aliceRequest  = client.Request{Username: "alice", Password: "alice-password", AppliesTo: echoService}
	daveRequest   = client.Request{Username: "dave", Password: "dave-password", AppliesTo: echoService}
	portalRequest = client.Request{Username: "portal", Password: "portal-password", AppliesTo: echoService}
)

// TestRenewByAnotherUserRefused: dave, an administrator who got hold of
// alice's token, cannot renew it; alice and the sample's allowed
// requestor can.
func TestRenewByAnotherUserRefused(t *testing.T) {
	sts, clock := startClockedSTS(t, nil)
	token := sendOK(t, sts, clock, aliceRequest)
	status, body := send(t, sts, clock, renewal(daveRequest, token, false))
	expectFault(t, status, body, "1.2", nsTrust13, "UnableToRenew", "Only the token's subject, or a requestor listed in spec.onBehalfOf.allowedRequestors, may renew it.")
	for _, who := range []client.Request{aliceRequest, portalRequest} {
		renewed := parseToken(t, sendOK(t, sts, clock, renewal(who, token, false)))
		if renewed.Subject.NameID != "alice@example.com" {
			t.Errorf("%s renewed a token for %q, want alice's", who.Username, renewed.Subject.NameID)
		}
	}
}

// TestRenewAfterExpiry: an expired token is not renewed by default, even
// with Renewing OK="true"; with renewal.allowAfterExpiry it is, until
// maxLifetime after its first issue.
func TestRenewAfterExpiry(t *testing.T) {
	sts, clock := startClockedSTS(t, nil)
	token := sendOK(t, sts, clock, aliceRequest)
	clock.set(2 * time.Hour)
	status, body := send(t, sts, clock, renewal(aliceRequest, token, true))
	expectFault(t, status, body, "1.2", nsTrust13, "UnableToRenew", "renews only tokens that are still valid")

	sts, clock = startClockedSTS(t, stsManifest(t, "    allowAfterExpiry: false\n", "    allowAfterExpiry: true\n"))
	token = sendOK(t, sts, clock, aliceRequest)
	clock.set(2 * time.Hour)
	status, body = send(t, sts, clock, renewal(aliceRequest, token, false))
	expectFault(t, status, body, "1.2", nsTrust13, "RenewNeeded", `OK="true"`)
	renewed := parseToken(t, sendOK(t, sts, clock, renewal(aliceRequest, token, true)))
	if !renewed.NotOnOrAfter.After(clock.now().Add(59 * time.Minute)) {
		t.Errorf("renewed until %v, want an hour from the shifted now %v", renewed.NotOnOrAfter, clock.now())
	}
	clock.set(8*time.Hour + time.Minute)
	status, body = send(t, sts, clock, renewal(aliceRequest, token, true))
	expectFault(t, status, body, "1.2", nsTrust13, "UnableToRenew", "first issued more than 8h0m0s ago")
}

// TestRenewBeyondMaxLifetime: a renewed token ends at maxLifetime after the
// first issue, and a token first issued longer ago is not renewed even
// while it is still valid.
func TestRenewBeyondMaxLifetime(t *testing.T) {
	sts, clock := startClockedSTS(t, stsManifest(t, "    maxLifetime: 8h\n", "    maxLifetime: 30m\n"))
	token := sendOK(t, sts, clock, aliceRequest) // valid for an hour
	clock.set(20 * time.Minute)
	renewedXML := sendOK(t, sts, clock, renewal(aliceRequest, token, false))
	renewed, original := parseToken(t, renewedXML), parseToken(t, token)
	if !renewed.NotOnOrAfter.Equal(original.IssueInstant.Add(30*time.Minute)) || !renewed.IssueInstant.Equal(original.IssueInstant) {
		t.Errorf("renewed until %v, issued %v; want maxLifetime after the first IssueInstant %v, and that instant", renewed.NotOnOrAfter, renewed.IssueInstant, original.IssueInstant)
	}
	clock.set(40 * time.Minute)
	for name, target := range map[string]string{"the original, still valid": token, "the renewed one": renewedXML} {
		status, body := send(t, sts, clock, renewal(aliceRequest, target, false))
		if status == http.StatusOK {
			t.Errorf("%s was renewed beyond maxLifetime", name)
			continue
		}
		expectFault(t, status, body, "1.2", nsTrust13, "UnableToRenew", "first issued more than 30m0s ago")
	}
}

// TestRenewingAllowFalseHonoured: a token asked for with
// wst:Renewing Allow="false" says so and is not renewed.
func TestRenewingAllowFalseHonoured(t *testing.T) {
	sts := testfixture.StartSTS(t, nil)
	status, body := postEdited(t, sts, aliceRequest, func(rst *etree.Element) {
		rst.CreateElement("t:Renewing").CreateAttr("Allow", "false")
	})
	token := tokenOf(t, status, body)
	if got := claims(parseToken(t, token))[renewableClaim]; !slices.Equal(got, []string{"false"}) {
		t.Errorf("%s = %v, want false", renewableClaim, got)
	}
	r := renewal(aliceRequest, token, false)
	r.Endpoint, r.Now = sts.URL, time.Now()
	status, body, err := r.Do(http.DefaultClient)
	if err != nil {
		t.Fatal(err)
	}
	expectFault(t, status, body, "1.2", nsTrust13, "UnableToRenew", `Renewing Allow="false"`)
}

// TestRenewHolderOfKeyNeedsProof: a token bound to the orders service's
// certificate is renewed for a request signed with it, not for the sample's
// allowed requestor without the key; a token bound to a symmetric key
// (which the STS cannot check a request against) is not renewed at all.
func TestRenewHolderOfKeyNeedsProof(t *testing.T) {
	registered, err := devkeys.NewRSA("orders-service", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	sts := x509STS(t, registered, newRelyingPartyKeys(t))
	signed := func(r client.Request) client.Request {
		r.SigningKey, r.SigningCert = registered.Key, registered.Cert
		return r
	}
	clock := &shiftedClock{}
	bound := sendOK(t, sts, clock, signed(client.Request{AppliesTo: "urn:example:hok", KeyType: "PublicKey"}))
	status, body := send(t, sts, clock, renewal(client.Request{Username: "portal", Password: "portal-password", AppliesTo: "urn:example:hok"}, bound, false))
	expectFault(t, status, body, "1.2", nsTrust13, "UnableToRenew", "renewed only for a request signed with its proof key")
	sendOK(t, sts, clock, renewal(signed(client.Request{AppliesTo: "urn:example:hok"}), bound, false))

	symmetric := sendOK(t, sts, clock, signed(client.Request{AppliesTo: "urn:example:hok", KeyType: "SymmetricKey"}))
	status, body = send(t, sts, clock, renewal(signed(client.Request{AppliesTo: "urn:example:hok"}), symmetric, false))
	expectFault(t, status, body, "1.2", nsTrust13, "UnableToRenew", "symmetric proof key cannot be renewed")
}
