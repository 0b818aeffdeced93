package server_test

import (
	"bytes"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/trustbroker/trustbroker/internal/client"
	"github.com/trustbroker/trustbroker/internal/devkeys"
	"github.com/trustbroker/trustbroker/internal/server"
	"github.com/trustbroker/trustbroker/internal/testfixture"
	"github.com/trustbroker/trustbroker/internal/testtools"
)

// lockoutManifests is the sample STS with lockout after threshold failures
// within 15 minutes, and extra text added to spec.authentication.
func lockoutManifests(t *testing.T, threshold string, extra string) map[string]string {
	return stsManifest(t, "    allowedRoles: [admin]\n", "    allowedRoles: [admin]\n    lockout: {threshold: "+threshold+", window: 15m}\n"+extra)
}

// settableClock is the time of the server under test, moved by the test.
type settableClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *settableClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *settableClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// lockoutServer is an STS replica behind a trusted proxy (so tests choose
// the client address with X-Forwarded-For), with its audit lines and
// metrics kept.
type lockoutServer struct {
	url      string
	clock    *settableClock
	registry *prometheus.Registry

	mu    sync.Mutex
	audit []string
}

// startLockoutServer serves sts's policy with the given clock and replay
// stores.
func startLockoutServer(t *testing.T, sts *testfixture.STS, clock *settableClock, replay *server.ReplayStores) *lockoutServer {
	t.Helper()
	ls := &lockoutServer{clock: clock, registry: prometheus.NewRegistry()}
	base, _ := serveAlso(t, sts, false, func(s *server.Server) {
		s.Now = clock.Now
		s.Replay = replay
		s.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
		s.Metrics = server.NewMetrics(ls.registry, sts.Server.Policy)
		s.Audit = funcr.NewJSON(func(obj string) {
			ls.mu.Lock()
			defer ls.mu.Unlock()
			ls.audit = append(ls.audit, obj)
		}, funcr.Options{})
	})
	ls.url = base + "/sts"
	return ls
}

// attempt signs in as user from the client address from, and returns the
// HTTP status and body.
func (ls *lockoutServer) attempt(t *testing.T, r client.Request, from string) (int, []byte) {
	t.Helper()
	r.Endpoint, r.Now = ls.url, ls.clock.Now()
	if r.AppliesTo == "" {
		r.AppliesTo = echoService
	}
	envelope, contentType, err := r.Envelope()
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, ls.url, bytes.NewReader(envelope))
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("X-Forwarded-For", from)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

func password(user, pw string) client.Request { return client.Request{Username: user, Password: pw} }

// expect signs in and checks the outcome; refused attempts must look
// exactly like a wrong password.
func (ls *lockoutServer) expect(t *testing.T, r client.Request, from string, wantOK bool) {
	t.Helper()
	status, body := ls.attempt(t, r, from)
	if wantOK {
		if status != http.StatusOK {
			t.Fatalf("%s from %s: status %d, want a token:\n%s", r.Username, from, status, body)
		}
		return
	}
	expectFault(t, status, body, "1.2", nsSecExt, "FailedAuthentication", "Access denied: the credentials could not be verified.")
}

func (ls *lockoutServer) lockouts(t *testing.T, user, address int) {
	t.Helper()
	expected := "# HELP trustbroker_lockouts_total Lockouts engaged after repeated failed sign-ins, by scope (user or address).\n" +
		"# TYPE trustbroker_lockouts_total counter\n"
	if address > 0 {
		expected += "trustbroker_lockouts_total{scope=\"address\"} " + strconv.Itoa(address) + "\n"
	}
	if user > 0 {
		expected += "trustbroker_lockouts_total{scope=\"user\"} " + strconv.Itoa(user) + "\n"
	}
	if user == 0 && address == 0 {
		expected = ""
	}
	if err := testutil.GatherAndCompare(ls.registry, strings.NewReader(expected), "trustbroker_lockouts_total"); err != nil {
		t.Error(err)
	}
}

func (ls *lockoutServer) auditLog() string {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return strings.Join(ls.audit, "\n")
}

// TestLockout: three failures within the window lock out the user (from
// any address) and the address (for any user), with the answer of a wrong
// password; other users and addresses are unaffected; a success elsewhere
// resets nothing; everything is released when the window has passed.
func TestLockout(t *testing.T) {
	sts := testfixture.StartSTS(t, lockoutManifests(t, "3", ""))
	clock := &settableClock{now: time.Now()}
	ls := startLockoutServer(t, sts, clock, &server.ReplayStores{Memory: server.NewMemoryStores(1000, clock.Now)})
	alice, dave := password("alice", "alice-password"), password("dave", "dave-password")

	// The user: three wrong passwords from three addresses.
	for _, from := range []string{"198.51.100.1", "198.51.100.2", "198.51.100.3"} {
		ls.expect(t, password("alice", "guess"), from, false)
	}
	ls.expect(t, alice, "198.51.100.4", false) // the right password, but locked out
	ls.expect(t, dave, "198.51.100.1", true)   // other users, from those addresses, are not
	ls.lockouts(t, 1, 0)

	// The address: three failures for three users (two unknown).
	for _, user := range []string{"mallory", "trent", "dave"} {
		ls.expect(t, password(user, "guess"), "203.0.113.9", false)
	}
	ls.expect(t, dave, "203.0.113.9", false) // locked out from there
	ls.expect(t, dave, "203.0.113.10", true) // but not from elsewhere
	ls.lockouts(t, 1, 1)

	// A success from another address does not reset an address's count.
	ls.expect(t, password("x1", "guess"), "192.0.2.7", false)
	ls.expect(t, password("x2", "guess"), "192.0.2.7", false)
	ls.expect(t, dave, "192.0.2.8", true)
	ls.expect(t, password("x3", "guess"), "192.0.2.7", false)
	ls.expect(t, dave, "192.0.2.7", false)
	ls.lockouts(t, 1, 2)

	// After the window everyone is let in again.
	clock.Advance(15*time.Minute + time.Second)
	ls.expect(t, alice, "198.51.100.4", true)
	ls.expect(t, dave, "203.0.113.9", true)
	ls.expect(t, dave, "192.0.2.7", true)

	audit := ls.auditLog()
	for _, want := range []string{`"msg":"lockout","scope":"user","user":"alice"`, `"msg":"lockout","scope":"address","address":"203.0.113.9"`,
		`"cause":"lockout: user \"alice\" is locked out`, `"cause":"lockout: address \"203.0.113.9\" is locked out`} {
		if !strings.Contains(audit, want) {
			t.Errorf("the audit log lacks %s:\n%s", want, audit)
		}
	}
	if strings.Contains(audit, "alice-password") || strings.Contains(audit, "guess") {
		t.Error("a password is in the audit log")
	}
}

const noSecurityHeader = `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><t:RequestSecurityToken xmlns:t="` +
	nsTrust13 + `"><t:RequestType>` + nsTrust13 + `/Issue</t:RequestType></t:RequestSecurityToken></s:Body></s:Envelope>`

// TestLockoutCountsOnlyBadCredentials: refusals that are not wrong
// credentials (a refused role, an expired message, an anonymous request)
// do not count.
func TestLockoutCountsOnlyBadCredentials(t *testing.T) {
	sts := testfixture.StartSTS(t, lockoutManifests(t, "2", ""))
	clock := &settableClock{now: time.Now()}
	ls := startLockoutServer(t, sts, clock, &server.ReplayStores{Memory: server.NewMemoryStores(1000, clock.Now)})
	const from = "198.51.100.20"
	for range 3 {
		// bob's password is right; he lacks the allowed role.
		status, body := ls.attempt(t, password("bob", "bob-password"), from)
		expectFault(t, status, body, "1.2", nsTrust13, "FailedAuthentication", "Access denied")
		// No credentials: a Security header with only a Timestamp, and none.
		status, body = ls.attempt(t, client.Request{}, from)
		expectFault(t, status, body, "1.2", nsSecExt, "UnsupportedSecurityToken", "")
		req, _ := http.NewRequest(http.MethodPost, ls.url, strings.NewReader(noSecurityHeader))
		req.Header.Set("Content-Type", "application/soap+xml")
		req.Header.Set("X-Forwarded-For", from)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		// An expired message.
		expired := password("alice", "alice-password")
		expired.Now = clock.Now().Add(-time.Hour)
		expired.Endpoint = ls.url
		envelope, contentType, _ := expired.Envelope()
		req, _ = http.NewRequest(http.MethodPost, ls.url, bytes.NewReader(envelope))
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("X-Forwarded-For", from)
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	ls.expect(t, password("alice", "alice-password"), from, true)
	ls.lockouts(t, 0, 0)
}

// TestLockoutCountsFailedCertificates: signatures by an untrusted
// certificate count against the address.
func TestLockoutCountsFailedCertificates(t *testing.T) {
	trusted, err := devkeys.NewRSA("orders-service", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	untrusted, err := devkeys.NewRSA("intruder", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	sts := testfixture.StartSTS(t, lockoutManifests(t, "2", "    x509:\n      enabled: true\n      clientCertificates:\n        pem: |\n          "+
		strings.ReplaceAll(strings.TrimSpace(string(trusted.CertPEM)), "\n", "\n          ")+"\n"))
	clock := &settableClock{now: time.Now()}
	ls := startLockoutServer(t, sts, clock, &server.ReplayStores{Memory: server.NewMemoryStores(1000, clock.Now)})
	const from = "198.51.100.30"
	for range 2 {
		status, body := ls.attempt(t, client.Request{SigningKey: untrusted.Key, SigningCert: untrusted.Cert}, from)
		expectFault(t, status, body, "1.2", nsSecExt, "FailedAuthentication", "")
	}
	ls.expect(t, password("alice", "alice-password"), from, false)
	ls.expect(t, password("alice", "alice-password"), "198.51.100.31", true)
	ls.lockouts(t, 0, 1)
}

// TestLockoutSharedByReplicas: with the Redis store, failures on one replica
// lock the user out on the other.
func TestLockoutSharedByReplicas(t *testing.T) {
	addr := testtools.StartRedis(t, "")
	manifests := lockoutManifests(t, "2", "")
	manifests["sts.yaml"] = strings.Replace(manifests["sts.yaml"], "    store:\n      memory: {maxEntries: 100000}\n", "    store:\n      redis: {address: '"+addr+"'}\n", 1)
	first, second := testfixture.StartSTS(t, manifests), testfixture.StartSTS(t, manifests)
	clock := &settableClock{now: time.Now()}
	a := startLockoutServer(t, first, clock, first.Server.Replay)
	b := startLockoutServer(t, second, clock, second.Server.Replay)

	a.expect(t, password("alice", "guess"), "198.51.100.40", false)
	b.expect(t, password("alice", "guess"), "198.51.100.41", false)
	a.expect(t, password("alice", "alice-password"), "198.51.100.42", false)
	b.expect(t, password("alice", "alice-password"), "198.51.100.43", false)
	b.expect(t, password("dave", "dave-password"), "198.51.100.40", true)
	// The replica whose failure reached the threshold engaged the lockout.
	b.lockouts(t, 1, 0)
	a.lockouts(t, 0, 0)
}
