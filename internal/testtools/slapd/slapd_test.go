package slapd

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const people = `dn: ou=people,dc=example,dc=com
objectClass: organizationalUnit
ou: people

dn: uid=alice,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
uid: alice
cn: Alice
sn: Liddell
userPassword: alice-pw
`

// search runs ldapsearch with extra arguments and returns its output.
func search(t *testing.T, s *Server, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("ldapsearch", append([]string{"-x", "-LLL", "-o", "nettimeout=5"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestStartLoadsTheLDIFAndChecksPasswords(t *testing.T) {
	s := Start(t, Options{LDIF: people})
	out, err := search(t, s, nil, "-H", s.URL, "-b", s.Suffix, "(uid=alice)", "cn")
	if err != nil || !strings.Contains(out, "cn: Alice") {
		t.Fatalf("ldapsearch: %v\n%s", err, out)
	}
	dn := "uid=alice,ou=people," + s.Suffix
	if out, err := search(t, s, nil, "-H", s.URL, "-D", dn, "-w", "alice-pw", "-b", dn, "-s", "base", "1.1"); err != nil {
		t.Fatalf("bind with the right password: %v\n%s", err, out)
	}
	if out, err := search(t, s, nil, "-H", s.URL, "-D", dn, "-w", "wrong", "-b", dn, "-s", "base", "1.1"); err == nil || !strings.Contains(out, "Invalid credentials") {
		t.Fatalf("bind with a wrong password: err = %v\n%s", err, out)
	}
	if out, _ := search(t, s, nil, "-H", s.URL, "-b", s.Suffix, "(uid=alice)", "userPassword"); strings.Contains(out, "userPassword") {
		t.Fatalf("userPassword is readable anonymously:\n%s", out)
	}
	if n := s.Connections(t); n < 4 {
		t.Fatalf("Connections = %d, want at least the 4 of ldapadd and the searches", n)
	}
}

func TestTLSWithTheGeneratedCA(t *testing.T) {
	s := Start(t, Options{LDIF: people, TLS: true})
	caFile := filepath.Join(s.Dir, "ca.crt")
	trust := []string{"LDAPTLS_CACERT=" + caFile, "LDAPTLS_REQCERT=demand"}
	if out, err := search(t, s, trust, "-H", s.LDAPSURL, "-b", s.Suffix, "(uid=alice)", "1.1"); err != nil {
		t.Fatalf("ldaps: %v\n%s", err, out)
	}
	if out, err := search(t, s, trust, "-ZZ", "-H", s.URL, "-b", s.Suffix, "(uid=alice)", "1.1"); err != nil {
		t.Fatalf("StartTLS: %v\n%s", err, out)
	}
	other := filepath.Join(t.TempDir(), "other.crt")
	certPEM, _ := NewCA(t, "other").Issue(t, "localhost")
	if err := os.WriteFile(other, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	distrust := []string{"LDAPTLS_CACERT=" + other, "LDAPTLS_REQCERT=demand"}
	if out, err := search(t, s, distrust, "-H", s.LDAPSURL, "-b", s.Suffix, "(uid=alice)", "1.1"); err == nil {
		t.Fatalf("ldaps trusted a certificate from another CA:\n%s", out)
	}
}

func TestStopAndRestart(t *testing.T) {
	s := Start(t, Options{LDIF: people})
	addr := strings.TrimPrefix(s.URL, "ldap://")
	s.Stop()
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatal("slapd still listens after Stop")
	}
	s.Restart(t)
	out, err := search(t, s, nil, "-H", s.URL, "-b", s.Suffix, "(uid=alice)", "cn")
	if err != nil || !strings.Contains(out, "cn: Alice") {
		t.Fatalf("after Restart the data is gone: %v\n%s", err, out)
	}
}
