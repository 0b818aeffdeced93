package server_test

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trustbroker/trustbroker/internal/client"
	"github.com/trustbroker/trustbroker/internal/server"
	"github.com/trustbroker/trustbroker/internal/testfixture"
)

// TestReplayStoreCannotBeFlushed is the flush attack: bob, who may sign in
// but gets no token, sends request after request with fresh nonces until
// the replay store is full, then replays a PasswordDigest request of dave's
// he captured. A full store refuses new records (and counts it) rather than
// forget dave's, so the replay is still refused; so are requests that need
// a new record, until records expire.
func TestReplayStoreCannotBeFlushed(t *testing.T) {
	const size = 20
	sts := testfixture.StartSTS(t, nil)
	reg := prometheus.NewRegistry()
	base, _ := serveAlso(t, sts, false, func(s *server.Server) {
		s.Replay = &server.ReplayStores{Memory: server.NewMemoryStores(size, time.Now)}
		s.Metrics = server.NewMetrics(reg, s.Policy)
	})
	url := base + "/sts"

	dave := client.Request{Endpoint: url, Username: "dave", Password: "dave-password", Digest: true, AppliesTo: "urn:example:portal", Now: time.Now()}
	captured, contentType, err := dave.Envelope()
	if err != nil {
		t.Fatal(err)
	}
	if status, body := post(t, url, contentType, captured); status != http.StatusOK {
		t.Fatalf("dave's request: status %d\n%s", status, body)
	}

	for i := range 2 * size {
		bob := client.Request{Endpoint: url, Username: "bob", Password: "bob-password", AppliesTo: "urn:example:portal", Now: time.Now()}
		envelope, _, err := bob.Envelope()
		if err != nil {
			t.Fatal(err)
		}
		status, body := post(t, url, contentType, withNonce(t, envelope))
		if status == http.StatusOK {
			t.Fatalf("bob's request %d got a token:\n%s", i, body)
		}
	}
	if storeFull(t, reg, "replay") == 0 {
		t.Error("trustbroker_replay_store_full_total{store=\"replay\"} did not count the refused records")
	}

	status, body := post(t, url, contentType, captured)
	expectFault(t, status, body, "1.2", nsSecExt, "InvalidSecurity", "nonce was already used")
}

// withNonce adds a fresh wsse:Nonce and a Created to a PasswordText
// UsernameToken, as clients may: each makes the request a new record.
func withNonce(t *testing.T, envelope []byte) []byte {
	t.Helper()
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		t.Fatal(err)
	}
	extra := `<o:Nonce>` + base64.StdEncoding.EncodeToString(nonce) + `</o:Nonce><u:Created>` + time.Now().UTC().Format("2006-01-02T15:04:05.000Z") + `</u:Created></o:UsernameToken>`
	out := strings.Replace(string(envelope), "</o:UsernameToken>", extra, 1)
	if out == string(envelope) {
		t.Fatal("no UsernameToken to extend")
	}
	return []byte(out)
}

// storeFull is the value of trustbroker_replay_store_full_total{store}.
func storeFull(t *testing.T, reg *prometheus.Registry, store string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if f.GetName() == "trustbroker_replay_store_full_total" && l.GetName() == "store" && l.GetValue() == store {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// TestFailedSignInsCannotPushOutCancellations: with lockout on, a flood of
// failed sign-ins from many names fills the lockout store, and a token
// cancelled before stays cancelled.
func TestFailedSignInsCannotPushOutCancellations(t *testing.T) {
	const size = 10
	sts := testfixture.StartSTS(t, stsManifest(t, "    lockout: {threshold: 10, window: 15m}   # extranet lockout per user and per client address\n", "    lockout: {threshold: 1000, window: 15m}\n"))
	clock := &settableClock{now: time.Now()}
	ls := startLockoutServer(t, sts, clock, &server.ReplayStores{Memory: server.NewMemoryStores(size, clock.Now)})
	const aliceAt = "203.0.113.50"

	alice := password("alice", "alice-password")
	status, body := ls.attempt(t, alice, aliceAt)
	if status != http.StatusOK {
		t.Fatalf("issue: status %d\n%s", status, body)
	}
	token, err := client.Token(body)
	if err != nil {
		t.Fatal(err)
	}
	cancel := alice
	cancel.RequestType, cancel.Target = "Cancel", token
	if status, body := ls.attempt(t, cancel, aliceAt); status != http.StatusOK {
		t.Fatalf("cancel: status %d\n%s", status, body)
	}

	// Many names from many addresses: neither the throttle nor the lockout
	// stops the flood before it fills the lockout store.
	for i := range 3 * size {
		if status, _ := ls.attempt(t, password(fmt.Sprintf("guess-%d", i), "wrong"), fmt.Sprintf("198.51.100.%d", i+1)); status == http.StatusOK {
			t.Fatal("a wrong password got a token")
		}
	}
	if storeFull(t, ls.registry, "lockout") == 0 {
		t.Error("the failed sign-ins did not fill the lockout store: the test proves nothing")
	}

	validate := alice
	validate.RequestType, validate.Target, validate.TokenType = "Validate", token, "status"
	status, body = ls.attempt(t, validate, aliceAt)
	if code := parse(t, body).FindElement("//Status/Code"); status != http.StatusOK || code == nil || code.Text() != nsTrust13+"/status/invalid" {
		t.Fatalf("the cancelled token after the flood: status %d\n%s", status, body)
	}
}
