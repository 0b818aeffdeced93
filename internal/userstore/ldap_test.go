package userstore

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"

	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/testtools"
	"github.com/trustbroker/trustbroker/internal/testtools/slapd"
)

const directory = `dn: ou=people,dc=example,dc=com
objectClass: organizationalUnit
ou: people

dn: ou=contractors,ou=people,dc=example,dc=com
objectClass: organizationalUnit
ou: contractors

dn: ou=groups,dc=example,dc=com
objectClass: organizationalUnit
ou: groups

dn: ou=services,dc=example,dc=com
objectClass: organizationalUnit
ou: services

dn: cn=sts,ou=services,dc=example,dc=com
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: sts
userPassword: sts-pw

dn: uid=alice,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
uid: alice
cn: Alice Liddell
sn: Liddell
mail: alice@example.com
mail: a.liddell@example.com
userPassword: alice-pw

dn: uid=bob,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
uid: bob
cn: Bob
sn: Builder
userPassword: bob-pw

dn: uid=twin,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
uid: twin
cn: Twin
sn: One
userPassword: twin-pw

dn: uid=twin,ou=contractors,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
uid: twin
cn: Twin
sn: Two
userPassword: twin-pw

dn: cn=admins,ou=groups,dc=example,dc=com
objectClass: groupOfNames
cn: admins
member: uid=alice,ou=people,dc=example,dc=com

dn: cn=readers,ou=groups,dc=example,dc=com
objectClass: groupOfNames
cn: readers
cn: viewers
member: uid=alice,ou=people,dc=example,dc=com
member: uid=bob,ou=people,dc=example,dc=com

dn: cn=others,ou=groups,dc=example,dc=com
objectClass: groupOfNames
cn: others
member: uid=twin,ou=people,dc=example,dc=com
`

const (
	peopleDN  = "ou=people,dc=example,dc=com"
	groupsDN  = "ou=groups,dc=example,dc=com"
	serviceDN = "cn=sts,ou=services,dc=example,dc=com"
)

// config returns a store configuration for the server with the service
// account, the groups and the mail and cn attributes.
func config(s *slapd.Server) LDAPConfig {
	return LDAPConfig{
		URL: s.URL, BindDN: serviceDN, BindPassword: "sts-pw",
		UserBaseDN: peopleDN, GroupBaseDN: groupsDN, Attributes: []string{"mail", "cn", "telephoneNumber"},
		Timeout: 5 * time.Second,
	}
}

func newLDAP(t *testing.T, cfg LDAPConfig) *LDAP {
	t.Helper()
	l, err := NewLDAP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l
}

// userBinds counts the binds slapd saw as the user (not as the service
// account).
func userBinds(t *testing.T, s *slapd.Server, uid string) int {
	t.Helper()
	return s.Binds(t, "uid="+uid+","+peopleDN)
}

func TestLDAPAuthenticate(t *testing.T) {
	s := slapd.Start(t, slapd.Options{LDIF: directory})
	l := newLDAP(t, config(s))
	ctx := context.Background()

	u, err := l.Authenticate(ctx, "alice", "alice-pw")
	if err != nil {
		t.Fatal(err)
	}
	if u.Name != "alice" || !slices.Equal(u.Roles, []string{"admins", "readers"}) {
		t.Errorf("alice = %+v, want roles [admins readers] (the RDN's cn, not the second cn viewers)", u)
	}
	if !slices.Equal(u.Attributes["mail"], []string{"alice@example.com", "a.liddell@example.com"}) ||
		!slices.Equal(u.Attributes["cn"], []string{"Alice Liddell"}) {
		t.Errorf("alice's attributes = %v", u.Attributes)
	}
	if _, ok := u.Attributes["telephoneNumber"]; ok || len(u.Attributes) != 2 {
		t.Errorf("attributes = %v, want only mail and cn (alice has no telephoneNumber)", u.Attributes)
	}
	if u, err := l.Authenticate(ctx, "bob", "bob-pw"); err != nil || !slices.Equal(u.Roles, []string{"readers"}) {
		t.Errorf("bob = %+v, %v", u, err)
	}

	refused := []struct{ name, user, password string }{
		{"wrong password", "alice", "bob-pw"},
		{"password with a trailing space", "alice", "alice-pw "},
		{"unknown user", "nobody", "alice-pw"},
		{"empty password", "alice", ""},
		{"empty user", "", "alice-pw"},
		{"user name too long", strings.Repeat("a", 300), "alice-pw"},
		{"several entries", "twin", "twin-pw"},
		{"filter injection", "*)(uid=*", "alice-pw"},
		{"wildcard", "ali*", "alice-pw"},
		{"match everything", "*", "alice-pw"},
		{"closing parenthesis", "alice)", "alice-pw"},
		{"NUL", "alice\x00", "alice-pw"},
		{"or injection", "alice)(|(uid=bob", "alice-pw"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			u, err := l.Authenticate(ctx, tc.user, tc.password)
			if !errors.Is(err, policy.ErrBadCredentials) || errors.Is(err, ErrDirectoryUnavailable) {
				t.Fatalf("Authenticate(%q) = %+v, %v; want ErrBadCredentials", tc.user, u, err)
			}
			if tc.password != "" && strings.Contains(err.Error(), tc.password) {
				t.Fatalf("the error shows the password: %v", err)
			}
		})
	}
	if n := userBinds(t, s, "alice"); n != 3 {
		t.Errorf("slapd saw %d binds as alice, want 3 (right, wrong and trailing space; none for the empty password)", n)
	}
}

func TestLDAPAnonymousSearchAndNoGroups(t *testing.T) {
	s := slapd.Start(t, slapd.Options{LDIF: directory})
	cfg := config(s)
	cfg.BindDN, cfg.BindPassword, cfg.GroupBaseDN, cfg.Attributes = "", "", "", nil
	cfg.UserFilter = "(&(objectClass=inetOrgPerson)(uid={0}))"
	l := newLDAP(t, cfg)
	u, err := l.Authenticate(context.Background(), "alice", "alice-pw")
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Roles) != 0 || len(u.Attributes) != 0 {
		t.Errorf("alice = %+v, want no roles and no attributes", u)
	}
	if s.Binds(t, serviceDN) != 0 {
		t.Error("the store bound as the service account though none is configured")
	}
}

func TestLDAPGroupFilterWithUserName(t *testing.T) {
	s := slapd.Start(t, slapd.Options{LDIF: directory + `
dn: cn=by-name,ou=groups,dc=example,dc=com
objectClass: groupOfNames
cn: by-name
member: cn=nobody
description: bob
`})
	cfg := config(s)
	cfg.GroupFilter = "(|(member={0})(description={1}))"
	l := newLDAP(t, cfg)
	u, err := l.Authenticate(context.Background(), "bob", "bob-pw")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(u.Roles, []string{"by-name", "readers"}) {
		t.Errorf("bob's roles = %v, want [by-name readers]", u.Roles)
	}
}

func TestLDAPCacheSavesBindsUntilThePasswordChanges(t *testing.T) {
	s := slapd.Start(t, slapd.Options{LDIF: directory})
	l := newLDAP(t, config(s))
	ctx := context.Background()
	for range 5 {
		if _, err := l.Authenticate(ctx, "alice", "alice-pw"); err != nil {
			t.Fatal(err)
		}
	}
	if n := userBinds(t, s, "alice"); n != 1 {
		t.Fatalf("slapd saw %d binds as alice for 5 logins, want 1", n)
	}
	if _, err := l.Authenticate(ctx, "alice", "wrong"); !errors.Is(err, policy.ErrBadCredentials) {
		t.Fatalf("a wrong password after a cached login: %v", err)
	}

	// modifyTimestamp has a resolution of one second.
	time.Sleep(1100 * time.Millisecond)
	s.Modify(t, "dn: uid=alice,"+peopleDN+"\nchangetype: modify\nreplace: userPassword\nuserPassword: new-pw\n")
	if _, err := l.Authenticate(ctx, "alice", "alice-pw"); !errors.Is(err, policy.ErrBadCredentials) {
		t.Fatalf("the old password still works after the change: %v", err)
	}
	if _, err := l.Authenticate(ctx, "alice", "new-pw"); err != nil {
		t.Fatalf("the new password: %v", err)
	}
}

func TestLDAPTLS(t *testing.T) {
	s := slapd.Start(t, slapd.Options{LDIF: directory, TLS: true})
	other := slapd.NewCA(t, "another CA").Pool()
	cases := []struct {
		name     string
		url      string
		startTLS bool
		ca       bool // trust the server's CA; else another one
		ok       bool
	}{
		{"ldaps", s.LDAPSURL, false, true, true},
		{"StartTLS", s.URL, true, true, true},
		{"ldaps, another CA", s.LDAPSURL, false, false, false},
		{"StartTLS, another CA", s.URL, true, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config(s)
			cfg.URL, cfg.StartTLS, cfg.CA = tc.url, tc.startTLS, s.CA
			if !tc.ca {
				cfg.CA = other
			}
			l := newLDAP(t, cfg)
			u, err := l.Authenticate(context.Background(), "alice", "alice-pw")
			if tc.ok {
				if err != nil || !slices.Equal(u.Roles, []string{"admins", "readers"}) {
					t.Fatalf("Authenticate = %+v, %v", u, err)
				}
				return
			}
			if !errors.Is(err, ErrDirectoryUnavailable) || errors.Is(err, policy.ErrBadCredentials) {
				t.Fatalf("err = %v, want ErrDirectoryUnavailable", err)
			}
			var certErr *tls.CertificateVerificationError
			if !errors.As(err, &certErr) && !strings.Contains(err.Error(), "certificate signed by unknown authority") {
				t.Fatalf("err = %v, want a certificate verification error", err)
			}
		})
	}
	// Without a CA the system roots are used, which do not know the test CA.
	cfg := config(s)
	cfg.URL = s.LDAPSURL
	if _, err := newLDAP(t, cfg).Authenticate(context.Background(), "alice", "alice-pw"); !errors.Is(err, ErrDirectoryUnavailable) {
		t.Fatalf("system roots: err = %v, want ErrDirectoryUnavailable", err)
	}
	if n := userBinds(t, s, "alice"); n != 2 {
		t.Errorf("alice bound %d times, want 2 (only over verified TLS)", n)
	}
}

func TestLDAPDirectoryFailuresAreNotBadCredentials(t *testing.T) {
	s := slapd.Start(t, slapd.Options{LDIF: directory})
	down := "ldap://" + testtools.FreePort(t)
	cases := map[string]func(*LDAPConfig){
		"nothing listens":             func(c *LDAPConfig) { c.URL = down },
		"wrong service password":      func(c *LDAPConfig) { c.BindPassword = "wrong" },
		"user base DN does not exist": func(c *LDAPConfig) { c.UserBaseDN = "ou=nowhere,dc=example,dc=com" },
	}
	for name, change := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := config(s)
			change(&cfg)
			_, err := newLDAP(t, cfg).Authenticate(context.Background(), "alice", "alice-pw")
			if !errors.Is(err, ErrDirectoryUnavailable) || errors.Is(err, policy.ErrBadCredentials) {
				t.Fatalf("err = %v, want ErrDirectoryUnavailable", err)
			}
			if !strings.Contains(err.Error(), cfg.URL) {
				t.Fatalf("err = %v, want it to name %s", err, cfg.URL)
			}
			if strings.Contains(err.Error(), "alice-pw") || strings.Contains(err.Error(), "sts-pw") {
				t.Fatalf("the error shows a password: %v", err)
			}
		})
	}
}

func TestLDAPDownThenBackRedialsBrokenConnections(t *testing.T) {
	s := slapd.Start(t, slapd.Options{LDIF: directory})
	cfg := config(s)
	cfg.Cache = NewVerifiedCache(10, time.Nanosecond) // bind every time
	l := newLDAP(t, cfg)
	ctx := context.Background()
	if _, err := l.Authenticate(ctx, "alice", "alice-pw"); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	if _, err := l.Authenticate(ctx, "alice", "alice-pw"); !errors.Is(err, ErrDirectoryUnavailable) {
		t.Fatalf("directory stopped: err = %v, want ErrDirectoryUnavailable", err)
	}
	s.Restart(t)
	if _, err := l.Authenticate(ctx, "alice", "alice-pw"); err != nil {
		t.Fatalf("directory back: %v", err)
	}
}

// TestLDAPRestartUnderIdleConnections checks that connections the pool holds
// when the server goes away are replaced without failing the next requests.
func TestLDAPRestartUnderIdleConnections(t *testing.T) {
	s := slapd.Start(t, slapd.Options{LDIF: directory})
	cfg := config(s)
	cfg.PoolSize = 3
	cfg.Cache = NewVerifiedCache(10, time.Nanosecond)
	l := newLDAP(t, cfg)
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			if _, err := l.Authenticate(ctx, "alice", "alice-pw"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	s.Restart(t)
	before := s.Connections(t)
	for range 3 {
		if _, err := l.Authenticate(ctx, "alice", "alice-pw"); err != nil {
			t.Fatalf("after a restart: %v", err)
		}
	}
	if n := s.Connections(t) - before; n != 2 {
		t.Errorf("%d new connections after the restart, want 2 (a search and a bind connection, then reused)", n)
	}
}

// blackholeProxy forwards connections to a server until cut, after which
// the connections open at that time stay open but carry nothing, as when
// a firewall forgets idle connections; new connections work.
type blackholeProxy struct {
	mu    sync.Mutex
	conns []net.Conn
	dead  []*atomic.Bool
}

func startBlackholeProxy(t *testing.T, target string) (addr string, p *blackholeProxy) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p = &blackholeProxy{}
	go func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", target)
			if err != nil {
				client.Close()
				continue
			}
			dead := new(atomic.Bool)
			p.mu.Lock()
			p.conns = append(p.conns, client, server)
			p.dead = append(p.dead, dead)
			p.mu.Unlock()
			go forward(server, client, dead)
			go forward(client, server, dead)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range p.conns {
			c.Close()
		}
	})
	return ln.Addr().String(), p
}

func forward(dst, src net.Conn, dead *atomic.Bool) {
	buf := make([]byte, 32*1024)
	for {
		n, err := src.Read(buf)
		if err != nil {
			return
		}
		if !dead.Load() {
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
	}
}

// cut makes the open connections silent.
func (p *blackholeProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, d := range p.dead {
		d.Store(true)
	}
}

// TestLDAPSilentlyDeadConnectionsAreRedialled checks that a pooled
// connection that no longer answers costs one timeout, after which the
// request is retried on a new connection and succeeds.
func TestLDAPSilentlyDeadConnectionsAreRedialled(t *testing.T) {
	s := slapd.Start(t, slapd.Options{LDIF: directory})
	addr, proxy := startBlackholeProxy(t, strings.TrimPrefix(s.URL, "ldap://"))
	cfg := config(s)
	cfg.URL, cfg.Timeout = "ldap://"+addr, 400*time.Millisecond
	cfg.Cache = NewVerifiedCache(10, time.Nanosecond)
	l := newLDAP(t, cfg)
	ctx := context.Background()
	if _, err := l.Authenticate(ctx, "alice", "alice-pw"); err != nil {
		t.Fatal(err)
	}
	proxy.cut()
	before := s.Connections(t)
	start := time.Now()
	u, err := l.Authenticate(ctx, "alice", "alice-pw")
	if err != nil || !slices.Equal(u.Roles, []string{"admins", "readers"}) {
		t.Fatalf("after the cut: %+v, %v", u, err)
	}
	// The search and the bind connection each time out once.
	if took := time.Since(start); took < 2*cfg.Timeout || took > 5*cfg.Timeout {
		t.Errorf("Authenticate took %v, want about two timeouts of %v", took, cfg.Timeout)
	}
	// slapd writes its log behind the connections it accepts.
	n := s.Connections(t) - before
	for deadline := time.Now().Add(5 * time.Second); n < 2 && time.Now().Before(deadline); n = s.Connections(t) - before {
		time.Sleep(50 * time.Millisecond)
	}
	if n != 2 {
		t.Errorf("%d new connections, want 2", n)
	}
}

// silentServer accepts connections and never answers.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

func TestLDAPTimeout(t *testing.T) {
	addr := silentServer(t)
	const timeout = 300 * time.Millisecond
	cases := map[string]LDAPConfig{
		"ldap, service bind":     {URL: "ldap://" + addr, BindDN: serviceDN, BindPassword: "x"},
		"ldap, anonymous search": {URL: "ldap://" + addr},
		"ldaps handshake":        {URL: "ldaps://" + addr},
		"StartTLS":               {URL: "ldap://" + addr, StartTLS: true},
	}
	for name, cfg := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg.UserBaseDN, cfg.Timeout = peopleDN, timeout
			l := newLDAP(t, cfg)
			start := time.Now()
			_, err := l.Authenticate(context.Background(), "alice", "alice-pw")
			took := time.Since(start)
			if !errors.Is(err, ErrDirectoryUnavailable) || errors.Is(err, policy.ErrBadCredentials) {
				t.Fatalf("err = %v, want ErrDirectoryUnavailable", err)
			}
			if !strings.Contains(err.Error(), cfg.URL) {
				t.Errorf("err = %v, want it to name %s", err, cfg.URL)
			}
			// One dial (bounded by the timeout) and, for anonymous
			// searches, one request (bounded too); no retry on a fresh
			// connection, since the first one was not reused.
			if took > 3*timeout {
				t.Fatalf("Authenticate took %v with a timeout of %v", took, timeout)
			}
		})
	}
}

func TestLDAPContextCancelsARequest(t *testing.T) {
	l := newLDAP(t, LDAPConfig{URL: "ldap://" + silentServer(t), UserBaseDN: peopleDN, Timeout: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := l.Authenticate(ctx, "alice", "alice-pw")
	if !errors.Is(err, ErrDirectoryUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrDirectoryUnavailable and the context's deadline", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("Authenticate took %v after its context ended", took)
	}
}

func TestLDAPPoolReusesConnections(t *testing.T) {
	s := slapd.Start(t, slapd.Options{LDIF: directory})
	cfg := config(s)
	cfg.Cache = NewVerifiedCache(10, time.Nanosecond) // bind every time
	l := newLDAP(t, cfg)
	before := s.Connections(t)
	for i := range 10 {
		user := []string{"alice", "bob"}[i%2]
		if _, err := l.Authenticate(context.Background(), user, user+"-pw"); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.Connections(t) - before; n != 2 {
		t.Errorf("10 logins opened %d connections, want 2: one for searches, one for binds", n)
	}
	if n := userBinds(t, s, "alice") + userBinds(t, s, "bob"); n != 10 {
		t.Errorf("slapd saw %d user binds, want 10", n)
	}
	if n := s.Binds(t, serviceDN); n != 1 {
		t.Errorf("the service account bound %d times, want once for the pooled connection", n)
	}
}

func TestLDAPConcurrentAuthenticate(t *testing.T) {
	s := slapd.Start(t, slapd.Options{LDIF: directory})
	cfg := config(s)
	cfg.PoolSize = 3
	cfg.Cache = NewVerifiedCache(10, time.Nanosecond)
	l := newLDAP(t, cfg)
	before := s.Connections(t)
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for g := range 20 {
		wg.Go(func() {
			for i := range 10 {
				user, password := "alice", "alice-pw"
				if (g+i)%3 == 0 {
					user, password = "bob", "bob-pw"
				}
				if (g+i)%5 == 0 {
					password = "wrong"
				}
				u, err := l.Authenticate(context.Background(), user, password)
				switch {
				case password == "wrong" && !errors.Is(err, policy.ErrBadCredentials):
					errs <- fmt.Errorf("%s with a wrong password: %+v, %v", user, u, err)
				case password != "wrong" && (err != nil || u.Name != user):
					errs <- fmt.Errorf("%s: %+v, %v", user, u, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := s.Connections(t) - before; n > 2*cfg.PoolSize {
		t.Errorf("%d connections for a pool size of %d (two pools)", n, cfg.PoolSize)
	}
}

func TestLDAPPlainPassword(t *testing.T) {
	l := newLDAP(t, LDAPConfig{URL: "ldap://127.0.0.1:1", UserBaseDN: peopleDN})
	if _, _, err := l.PlainPassword(context.Background(), "alice"); !errors.Is(err, policy.ErrNoPlainPassword) {
		t.Fatalf("err = %v, want ErrNoPlainPassword", err)
	}
}

func TestNewLDAPRefusesBadConfigurations(t *testing.T) {
	ok := LDAPConfig{URL: "ldap://ldap.example.com", UserBaseDN: peopleDN}
	cases := map[string]struct {
		change func(*LDAPConfig)
		want   string
	}{
		"http URL":            {func(c *LDAPConfig) { c.URL = "http://ldap.example.com" }, "must start with ldap:// or ldaps://"},
		"no host":             {func(c *LDAPConfig) { c.URL = "ldap://" }, "must be ldap[s]://host[:port]"},
		"URL with a DN":       {func(c *LDAPConfig) { c.URL = "ldap://h/dc=example?uid" }, "must be ldap[s]://host[:port]"},
		"URL with a user":     {func(c *LDAPConfig) { c.URL = "ldap://u:p@h" }, "must be ldap[s]://host[:port]"},
		"StartTLS on ldaps":   {func(c *LDAPConfig) { c.URL, c.StartTLS = "ldaps://h", true }, "ldaps:// is TLS already"},
		"no user base":        {func(c *LDAPConfig) { c.UserBaseDN = "" }, "user base DN"},
		"bad user base":       {func(c *LDAPConfig) { c.UserBaseDN = "people" }, "user base DN"},
		"bad group base":      {func(c *LDAPConfig) { c.GroupBaseDN = "groups" }, "group base DN"},
		"filter without {0}":  {func(c *LDAPConfig) { c.UserFilter = "(uid=alice)" }, "does not use {0}"},
		"broken user filter":  {func(c *LDAPConfig) { c.UserFilter = "(uid={0}" }, "user filter"},
		"broken group filter": {func(c *LDAPConfig) { c.GroupFilter = "member={0})" }, "group filter"},
		"all attributes":      {func(c *LDAPConfig) { c.Attributes = []string{"*"} }, "not an attribute name"},
		"operational":         {func(c *LDAPConfig) { c.Attributes = []string{"+"} }, "not an attribute name"},
		"password, no DN":     {func(c *LDAPConfig) { c.BindPassword = "x" }, "needs a bind DN"},
		"DN, no password":     {func(c *LDAPConfig) { c.BindDN = serviceDN }, "needs a password"},
		"negative timeout":    {func(c *LDAPConfig) { c.Timeout = -time.Second }, "timeout"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := ok
			tc.change(&cfg)
			_, err := NewLDAP(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
	l, err := NewLDAP(LDAPConfig{URL: " ldaps://ldap.example.com ", UserBaseDN: peopleDN, Attributes: []string{"mail", "cn;lang-en", "2.5.4.3"}})
	if err != nil {
		t.Fatal(err)
	}
	if l.addr != "ldap.example.com:636" || l.timeout != DefaultLDAPTimeout || l.cfg.UserFilter != DefaultLDAPUserFilter {
		t.Errorf("defaults: addr %s, timeout %v, filter %s", l.addr, l.timeout, l.cfg.UserFilter)
	}
}

// FuzzLDAPFilters checks that no user name or DN changes the shape of the
// filters: each compiles, and the values it asserts are exactly the ones
// given, in place.
func FuzzLDAPFilters(f *testing.F) {
	for _, s := range []string{"alice", "*)(uid=*", "*", `\`, `\2a`, "a)(|(b=c", "{0}", "{1}", "\x00", "é", "uid={1},dc=x"} {
		f.Add(s, "uid="+s+",ou=people,dc=example,dc=com")
	}
	f.Fuzz(func(t *testing.T, username, dn string) {
		if !utf8.ValidString(username) || !utf8.ValidString(dn) {
			t.Skip("Authenticate refuses names that are not UTF-8; DNs from a directory are UTF-8")
		}
		assertValues(t, userFilter("(&(objectClass=person)(uid={0}))", username), "person", username)
		assertValues(t, groupFilter("(|(member={0})(memberUid={1}))", dn, username), dn, username)
	})
}

// assertValues compiles the filter and checks that it is made of equality
// assertions only, whose values are want, in order.
func assertValues(t *testing.T, filter string, want ...string) {
	t.Helper()
	p, err := ldap.CompileFilter(filter)
	if err != nil {
		t.Fatalf("%q does not compile: %v", filter, err)
	}
	var got []string
	var walk func(p *ber.Packet)
	walk = func(p *ber.Packet) {
		switch p.Tag {
		case ldap.FilterAnd, ldap.FilterOr:
			for _, c := range p.Children {
				walk(c)
			}
		case ldap.FilterEqualityMatch:
			got = append(got, p.Children[1].Data.String())
		default:
			t.Fatalf("%q holds a %s", filter, ldap.FilterMap[uint64(p.Tag)])
		}
	}
	walk(p)
	if !slices.Equal(got, want) {
		t.Fatalf("%q asserts %q, want %q", filter, got, want)
	}
}

// TestLDAPLookup finds a user's groups and attributes without a password,
// for callers authenticated by certificate or ticket.
func TestLDAPLookup(t *testing.T) {
	s := slapd.Start(t, slapd.Options{LDIF: directory})
	store, err := NewLDAP(LDAPConfig{URL: s.URL, BindDN: s.RootDN, BindPassword: s.RootPassword, UserBaseDN: peopleDN, GroupBaseDN: groupsDN, Attributes: []string{"mail"}})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	u, err := store.Lookup(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(u.Roles, "admins") || len(u.Attributes["mail"]) != 2 {
		t.Errorf("alice = %+v, want the admins group and both mail values", u)
	}
	if _, err := store.Lookup(context.Background(), "nobody"); !errors.Is(err, policy.ErrBadCredentials) {
		t.Errorf("Lookup(nobody) err = %v, want ErrBadCredentials", err)
	}
}
