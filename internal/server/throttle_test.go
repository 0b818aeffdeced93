package server_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/trustbroker/trustbroker/internal/server"
	"github.com/trustbroker/trustbroker/internal/testfixture"
)

// TestFailedSignInsThrottledPerAddress: a client spraying wrong passwords
// over random user names (which per-user lockout never catches, and with
// lockout off) gets 20 password checks, then is refused before any
// credential is checked, even with a right password, until its bucket
// refills at two failures a second; other addresses are not affected.
func TestFailedSignInsThrottledPerAddress(t *testing.T) {
	sts := testfixture.StartSTS(t, stsManifest(t, "    lockout: {threshold: 10, window: 15m}   # extranet lockout per user and per client address\n", ""))
	clock := &settableClock{now: time.Now()}
	ls := startLockoutServer(t, sts, clock, &server.ReplayStores{Memory: server.NewMemoryStores(1000, clock.Now)})
	const attacker, neighbour = "203.0.113.7", "203.0.113.8"
	for i := range 20 {
		ls.expect(t, password(fmt.Sprintf("user-%d", i), "guess"), attacker, false)
	}
	// Lockout is off: only the throttle can refuse the right password.
	ls.expect(t, password("alice", "alice-password"), attacker, false)
	ls.expect(t, password("alice", "alice-password"), neighbour, true)
	clock.Advance(time.Second)
	ls.expect(t, password("alice", "alice-password"), attacker, true)
}

// TestRefusalAuditLinesBounded: a client refused again and again writes
// ten audit lines, then one per ten seconds, which says how many were left
// out; trustbroker_audit_suppressed_total counts them. Another address is
// still logged.
func TestRefusalAuditLinesBounded(t *testing.T) {
	sts := testfixture.StartSTS(t, nil)
	clock := &settableClock{now: time.Now()}
	ls := startLockoutServer(t, sts, clock, &server.ReplayStores{Memory: server.NewMemoryStores(1000, clock.Now)})
	const noisy, other = "203.0.113.9", "203.0.113.10"
	for range 50 {
		ls.expect(t, password("alice", "wrong"), noisy, false)
	}
	if n := strings.Count(ls.auditLog(), `"remote"`); n != 10 {
		t.Errorf("%d audit lines for 50 refusals, want 10", n)
	}
	want := "# HELP trustbroker_audit_suppressed_total Audit lines of refused requests left out because their client address had too many; the next line from that address says how many.\n" +
		"# TYPE trustbroker_audit_suppressed_total counter\ntrustbroker_audit_suppressed_total 40\n"
	if err := testutil.GatherAndCompare(ls.registry, strings.NewReader(want), "trustbroker_audit_suppressed_total"); err != nil {
		t.Error(err)
	}
	ls.expect(t, password("alice", "wrong"), other, false)
	clock.Advance(10 * time.Second)
	ls.expect(t, password("alice", "wrong"), noisy, false)
	if log := ls.auditLog(); strings.Count(log, `"remote"`) != 12 || !strings.Contains(log, `"suppressedBefore":40`) {
		t.Errorf("after ten seconds: want a line saying 40 were left out, and the other address logged:\n%s", log)
	}
}
