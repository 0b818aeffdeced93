package server_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

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
	ls.expect(t, password("alice", "alice-password"), attacker, false)
	ls.expect(t, password("alice", "alice-password"), neighbour, true)
	if audit := ls.auditLog(); !strings.Contains(audit, "too many failed sign-ins from this address") {
		t.Errorf("the audit log does not say the address was throttled:\n%s", audit)
	}
	clock.Advance(time.Second)
	ls.expect(t, password("alice", "alice-password"), attacker, true)
}
