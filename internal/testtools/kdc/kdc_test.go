package kdc

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestKDCIssuesTickets proves the helper gives a working realm: kinit logs
// a user in, kvno gets a service ticket, and the keytab export and key
// rotation change the key version as kadmin reports it.
func TestKDCIssuesTickets(t *testing.T) {
	k := Start(t, Options{Realm: "TEST.LOCAL", MaxLife: time.Hour})
	k.AddUser(t, "alice", "alice-secret")
	kt := k.AddService(t, "HTTP/sts.test.local", 0)
	if len(kt) < 2 || kt[0] != 5 || kt[1] != 2 {
		t.Fatalf("keytab does not start with the version 0x0502: % x", kt[:min(len(kt), 4)])
	}
	cache := k.Kinit(t, "alice", "alice-secret", "HTTP/sts.test.local")
	if st, err := os.Stat(cache); err != nil || st.Size() == 0 {
		t.Fatalf("credential cache %s missing or empty: %v", cache, err)
	}
	out := k.Run(t, "klist", "-c", "FILE:"+cache)
	for _, want := range []string{"alice@TEST.LOCAL", "krbtgt/TEST.LOCAL@TEST.LOCAL", "HTTP/sts.test.local@TEST.LOCAL"} {
		if !strings.Contains(out, want) {
			t.Errorf("klist does not list %s:\n%s", want, out)
		}
	}
	before := k.Run(t, "kadmin.local", "-r", k.Realm, "-q", "getprinc HTTP/sts.test.local")
	k.RotateKey(t, "HTTP/sts.test.local")
	after := k.Run(t, "kadmin.local", "-r", k.Realm, "-q", "getprinc HTTP/sts.test.local")
	if !strings.Contains(before, "vno 1") || !strings.Contains(after, "vno 2") {
		t.Errorf("key version did not go from 1 to 2:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// TestKinitWrongPasswordFails checks that the realm really checks
// passwords (a KDC that accepted anything would make every test pass).
func TestKinitWrongPasswordFails(t *testing.T) {
	k := Start(t, Options{})
	k.AddUser(t, "bob", "right")
	out, err := k.run(t, []string{"KRB5CCNAME=FILE:" + k.Dir + "/bob"}, "wrong\n", "kinit", "bob@"+k.Realm)
	if err == nil {
		t.Fatalf("kinit with a wrong password succeeded: %s", out)
	}
	if !strings.Contains(out, "Password incorrect") && !strings.Contains(out, "Preauthentication failed") {
		t.Fatalf("kinit failed, but not for the password: %s", out)
	}
}
