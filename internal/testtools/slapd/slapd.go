// Package slapd runs a private OpenLDAP server for tests: a generated
// slapd.conf with the mdb backend and the core, cosine and inetOrgPerson
// schemas, on free loopback ports, loaded with an LDIF, optionally serving
// ldaps:// and StartTLS with a certificate from a CA the test generates. The
// server stops when the test ends.
package slapd

import (
	"crypto/x509"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trustbroker/trustbroker/internal/testtools"
)

// Defaults for Options.
const (
	DefaultSuffix       = "dc=example,dc=com"
	DefaultRootPassword = "root-secret"
	schemaDir           = "/etc/ldap/schema"
	moduleDir           = "/usr/lib/ldap"
)

// Options configure a server. The zero value is a plain ldap:// server for
// dc=example,dc=com with only the suffix entry.
type Options struct {
	// Suffix is the naming context, DefaultSuffix when empty. Its entry is
	// created (a dcObject) unless the LDIF creates it.
	Suffix string
	// RootPassword is the password of the root DN "cn=admin,<suffix>".
	RootPassword string
	// LDIF holds the entries to add after start, in ldapadd's format.
	LDIF string
	// TLS generates a CA and a server certificate for 127.0.0.1 and
	// localhost, serves ldaps:// on a second port and offers StartTLS.
	TLS bool
}

// Server is a running slapd.
type Server struct {
	// URL is the ldap:// address.
	URL string
	// LDAPSURL is the ldaps:// address, empty without Options.TLS.
	LDAPSURL string
	// CA verifies the server's certificate; nil without Options.TLS.
	CA *x509.CertPool
	// Suffix, RootDN and RootPassword are the naming context and the
	// directory manager's credentials.
	Suffix, RootDN, RootPassword string
	// Dir holds slapd.conf, the database, the certificates and slapd.log.
	Dir string

	t       testing.TB
	bin     string
	args    []string
	cmd     *exec.Cmd
	waitFor chan struct{} // closed when cmd has exited
}

// Start runs slapd until the test ends. It skips the test when slapd or the
// ldap-utils are not installed, and fails it under CI=true.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	bin := testtools.Tool(t, "slapd")
	testtools.Tool(t, "ldapadd")
	if _, err := os.Stat(filepath.Join(schemaDir, "inetorgperson.schema")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the OpenLDAP schemas are not in %s (install slapd)", schemaDir)
		}
		t.Skipf("the OpenLDAP schemas are not in %s (install slapd)", schemaDir)
	}
	s := &Server{Suffix: opts.Suffix, RootPassword: opts.RootPassword, Dir: t.TempDir(), t: t, bin: bin}
	if s.Suffix == "" {
		s.Suffix = DefaultSuffix
	}
	if s.RootPassword == "" {
		s.RootPassword = DefaultRootPassword
	}
	s.RootDN = "cn=admin," + s.Suffix
	if err := os.Mkdir(filepath.Join(s.Dir, "db"), 0o700); err != nil {
		t.Fatal(err)
	}

	urls := []string{}
	s.URL = "ldap://" + testtools.FreePort(t)
	urls = append(urls, s.URL)
	var tlsConf string
	if opts.TLS {
		s.CA, tlsConf = s.writeCertificates()
		s.LDAPSURL = "ldaps://" + testtools.FreePort(t)
		urls = append(urls, s.LDAPSURL)
	}
	conf := filepath.Join(s.Dir, "slapd.conf")
	if err := os.WriteFile(conf, []byte(s.config(tlsConf)), 0o600); err != nil {
		t.Fatal(err)
	}
	// -d stats keeps slapd in the foreground and logs every connection,
	// which Connections counts.
	s.args = []string{"-f", conf, "-h", strings.Join(urls, " "), "-d", "stats"}
	t.Cleanup(s.Stop)
	s.start()

	ldif := opts.LDIF
	if !strings.Contains(strings.ToLower(ldif), "dn: "+strings.ToLower(s.Suffix)+"\n") {
		ldif = s.suffixEntry() + "\n" + ldif
	}
	s.Add(t, ldif)
	return s
}

func (s *Server) config(tlsConf string) string {
	var b strings.Builder
	for _, schema := range []string{"core", "cosine", "inetorgperson"} {
		fmt.Fprintf(&b, "include %s\n", filepath.Join(schemaDir, schema+".schema"))
	}
	fmt.Fprintf(&b, "pidfile %s\nargsfile %s\n", filepath.Join(s.Dir, "slapd.pid"), filepath.Join(s.Dir, "slapd.args"))
	fmt.Fprintf(&b, "modulepath %s\nmoduleload back_mdb\n", moduleDir)
	b.WriteString(tlsConf)
	fmt.Fprintf(&b, "database mdb\nmaxsize 16777216\nsuffix %q\nrootdn %q\nrootpw %s\ndirectory %s\n",
		s.Suffix, s.RootDN, s.RootPassword, filepath.Join(s.Dir, "db"))
	b.WriteString("index objectClass eq\nindex uid,cn,member eq\n")
	// Passwords are only compared by binds; everything else is readable,
	// anonymously too, so that tests can search without a service account.
	b.WriteString("access to attrs=userPassword by self write by anonymous auth by * none\n")
	b.WriteString("access to * by * read\n")
	return b.String()
}

func (s *Server) suffixEntry() string {
	rdn := strings.SplitN(s.Suffix, ",", 2)[0]
	attr, value, _ := strings.Cut(rdn, "=")
	if !strings.EqualFold(attr, "dc") {
		s.t.Fatalf("slapd: suffix %q does not start with dc=; give its entry in the LDIF", s.Suffix)
	}
	return fmt.Sprintf("dn: %s\nobjectClass: dcObject\nobjectClass: organization\ndc: %s\no: %s\n", s.Suffix, value, value)
}

func (s *Server) start() {
	s.t.Helper()
	logFile, err := os.OpenFile(s.logPath(), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		s.t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command(s.bin, s.args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.cmd = cmd
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	s.waitFor = exited
	ports := []string{s.URL}
	if s.LDAPSURL != "" {
		ports = append(ports, s.LDAPSURL)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		select {
		case <-exited:
			s.cmd = nil
			s.t.Fatalf("slapd exited at start:\n%s", s.tail())
		default:
		}
		if listening(s.t, ports) {
			return
		}
	}
	s.Stop()
	s.t.Fatalf("slapd did not start listening:\n%s", s.tail())
}

// listening reports whether all the URLs' ports listen on 127.0.0.1. It
// reads the kernel's socket table rather than connecting, so that the check
// adds no connection to the ones tests count.
func listening(t testing.TB, urls []string) bool {
	table, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Fatalf("slapd: cannot tell whether slapd listens: %v", err)
	}
	for _, u := range urls {
		_, port, _ := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(u, "ldaps://"), "ldap://"), ":")
		n, err := strconv.Atoi(port)
		if err != nil {
			t.Fatalf("slapd: port of %s: %v", u, err)
		}
		// 0100007F is 127.0.0.1 in the table's byte order; state 0A is LISTEN.
		if !strings.Contains(string(table), fmt.Sprintf(" 0100007F:%04X 00000000:0000 0A ", n)) {
			return false
		}
	}
	return true
}

// Stop ends slapd; the directory is then down, its ports refuse
// connections. Stopping twice is harmless.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.waitFor:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.waitFor
	}
	s.cmd = nil
}

// Restart stops slapd and starts it again on the same ports with the same
// data: every connection open to it breaks.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	s.start()
}

// Add adds the entries of an LDIF as the root DN.
func (s *Server) Add(t testing.TB, ldif string) {
	t.Helper()
	s.run(t, "ldapadd", ldif)
}

// Modify applies an LDIF of changes (changetype: modify, ...) as the root DN.
func (s *Server) Modify(t testing.TB, ldif string) {
	t.Helper()
	s.run(t, "ldapmodify", ldif)
}

func (s *Server) run(t testing.TB, tool, ldif string) {
	t.Helper()
	bin := testtools.Tool(t, tool)
	pwFile := filepath.Join(s.Dir, "rootpw")
	if err := os.WriteFile(pwFile, []byte(s.RootPassword), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-x", "-H", s.URL, "-D", s.RootDN, "-y", pwFile)
	cmd.Stdin = strings.NewReader(ldif)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", tool, err, out)
	}
}

// Connections returns how many connections slapd has accepted so far, on
// all its ports, counted from its log.
func (s *Server) Connections(t testing.TB) int {
	t.Helper()
	return strings.Count(s.Log(t), " ACCEPT from ")
}

// Binds returns how many simple binds as dn slapd has seen so far,
// successful or not.
func (s *Server) Binds(t testing.TB, dn string) int {
	t.Helper()
	return strings.Count(s.Log(t), fmt.Sprintf(` BIND dn=%q method=128`, dn))
}

// Log returns slapd's log so far (its "stats" level: connections,
// operations and their results).
func (s *Server) Log(t testing.TB) string {
	t.Helper()
	log, err := os.ReadFile(s.logPath())
	if err != nil {
		t.Fatal(err)
	}
	return string(log)
}

func (s *Server) logPath() string { return filepath.Join(s.Dir, "slapd.log") }

// tailAll is the whole log, empty when it cannot be read.
func (s *Server) tailAll() string {
	log, _ := os.ReadFile(s.logPath())
	return string(log)
}

func (s *Server) tail() string {
	log := s.tailAll()
	if len(log) > 4000 {
		log = log[len(log)-4000:]
	}
	return string(log)
}
