// Package kdc runs a throw-away MIT Kerberos KDC (Debian krb5-kdc,
// krb5-admin-server and krb5-user) for tests: its database, configuration,
// keytabs and credential caches live in a temporary folder, it listens on a
// free loopback port, and it stops when the test ends. Nothing under /etc is
// read or written: every program gets KRB5_CONFIG and KRB5_KDC_PROFILE.
package kdc

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trustbroker/trustbroker/internal/testtools"
)

// DefaultRealm is the realm Start creates unless told otherwise.
const DefaultRealm = "EXAMPLE.COM"

// Options change the KDC that Start creates.
type Options struct {
	// Realm defaults to DefaultRealm.
	Realm string
	// MaxLife is the longest ticket lifetime the KDC grants (the realm's
	// max_life); zero means 10 hours, MIT's default.
	MaxLife time.Duration
}

// KDC is a running KDC with its realm.
type KDC struct {
	// Realm is the realm the KDC serves.
	Realm string
	// Addr is the KDC's loopback address (host:port), for TCP and UDP.
	Addr string
	// Dir is the temporary folder holding database, configuration and
	// log.
	Dir string
	// Krb5Conf is the client configuration (krb5.conf contents) pointing
	// at this KDC only; gokrb5's config.NewFromString reads it too.
	Krb5Conf string

	confPath, kdcConfPath, logPath string
}

// Start creates a realm and runs krb5kdc for it until the test ends. When
// the MIT programs are missing it skips the test, or fails it under CI=true.
func Start(t testing.TB, opts Options) *KDC {
	t.Helper()
	krb5kdc := tool(t, "krb5kdc")
	tool(t, "kdb5_util")
	tool(t, "kadmin.local")
	if opts.Realm == "" {
		opts.Realm = DefaultRealm
	}
	if opts.MaxLife == 0 {
		opts.MaxLife = 10 * time.Hour
	}
	dir := t.TempDir()
	k := &KDC{
		Realm:       opts.Realm,
		Addr:        testtools.FreePort(t),
		Dir:         dir,
		confPath:    filepath.Join(dir, "krb5.conf"),
		kdcConfPath: filepath.Join(dir, "kdc.conf"),
		logPath:     filepath.Join(dir, "kdc.log"),
	}
	k.Krb5Conf = k.clientConfig()
	write(t, k.confPath, k.Krb5Conf)
	write(t, k.kdcConfPath, k.kdcConfig(opts.MaxLife))
	write(t, filepath.Join(dir, "kadm5.acl"), "")

	k.Run(t, "kdb5_util", "create", "-s", "-r", k.Realm, "-P", randomPassword(t))

	cmd := exec.Command(krb5kdc, "-n", "-r", k.Realm)
	cmd.Env = k.Env()
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting krb5kdc: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	k.waitListening(t, done, &out)
	return k
}

// waitListening polls the TCP port until krb5kdc accepts connections.
func (k *KDC) waitListening(t testing.TB, done <-chan struct{}, out *bytes.Buffer) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case <-done:
			t.Fatalf("krb5kdc exited: %s\n%s", out.String(), k.Log())
		default:
		}
		if c, err := net.DialTimeout("tcp", k.Addr, time.Second); err == nil {
			c.Close()
			return
		}
	}
	t.Fatalf("krb5kdc did not listen on %s: %s\n%s", k.Addr, out.String(), k.Log())
}

// clientConfig is a krb5.conf for kinit, kvno and gokrb5. TCP only
// (udp_preference_limit = 1): gokrb5 and MIT agree on it, and the test
// port was reserved for TCP. DNS is never asked.
func (k *KDC) clientConfig() string {
	return fmt.Sprintf(`[libdefaults]
	default_realm = %[1]s
	dns_lookup_kdc = false
	dns_lookup_realm = false
	dns_canonicalize_hostname = false
	rdns = false
	udp_preference_limit = 1
	noaddresses = true
	forwardable = false
	default_tkt_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96
	default_tgs_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96
	permitted_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96

[realms]
	%[1]s = {
		kdc = %[2]s
	}

[domain_realm]
	localhost = %[1]s
`, k.Realm, k.Addr)
}

func (k *KDC) kdcConfig(maxLife time.Duration) string {
	_, port, _ := net.SplitHostPort(k.Addr)
	return fmt.Sprintf(`[kdcdefaults]
	kdc_listen = 127.0.0.1:%[2]s
	kdc_tcp_listen = 127.0.0.1:%[2]s

[realms]
	%[1]s = {
		database_name = %[3]s
		key_stash_file = %[4]s
		acl_file = %[5]s
		max_life = %[6]ds
		max_renewable_life = %[6]ds
		supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
	}

[logging]
	kdc = FILE:%[7]s
	admin_server = FILE:%[7]s
	default = FILE:%[7]s
`, k.Realm, port, filepath.Join(k.Dir, "principal"), filepath.Join(k.Dir, "stash"),
		filepath.Join(k.Dir, "kadm5.acl"), int(maxLife/time.Second), k.logPath)
}

// Env is the environment that points MIT programs at this KDC (and at a
// credential cache in its folder unless KRB5CCNAME is set after it).
func (k *KDC) Env() []string {
	env := []string{
		"KRB5_CONFIG=" + k.confPath,
		"KRB5_KDC_PROFILE=" + k.kdcConfPath,
		"KRB5CCNAME=FILE:" + filepath.Join(k.Dir, "ccache"),
		"KRB5RCACHEDIR=" + k.Dir,
		"KRB5_TRACE=/dev/null",
	}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KRB5") {
			env = append(env, kv)
		}
	}
	return env
}

// Log returns the KDC's log so far, for failure messages.
func (k *KDC) Log() string {
	b, _ := os.ReadFile(k.logPath)
	return string(b)
}

// Run runs one of the MIT programs against this realm and returns its
// output; a failure fails the test.
func (k *KDC) Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := k.run(t, nil, "", name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

func (k *KDC) run(t testing.TB, extraEnv []string, stdin, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, tool(t, name), args...)
	cmd.Env = append(k.Env(), extraEnv...)
	cmd.Dir = k.Dir
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// kadmin runs one kadmin.local query.
func (k *KDC) kadmin(t testing.TB, query string) string {
	t.Helper()
	out := k.Run(t, "kadmin.local", "-r", k.Realm, "-q", query)
	// kadmin.local exits 0 even when the query fails; its errors name
	// the failing call ("add_principal: ...", "ktadd: ...").
	if strings.Contains(out, " while ") {
		t.Fatalf("kadmin.local -q %q: %s", query, out)
	}
	return out
}

// AddUser creates a user principal (name without realm, e.g. "alice") with
// a password.
func (k *KDC) AddUser(t testing.TB, name, password string) {
	t.Helper()
	k.kadmin(t, fmt.Sprintf("addprinc -pw %s %s", password, name))
}

// AddService creates a service principal (e.g. "HTTP/sts.example.com")
// with a random key and returns its keytab. maxLife, when not zero, caps
// the lifetime of tickets for it.
func (k *KDC) AddService(t testing.TB, name string, maxLife time.Duration) []byte {
	t.Helper()
	query := "addprinc -randkey"
	if maxLife > 0 {
		query += fmt.Sprintf(" -maxlife \"%d seconds\"", int(maxLife/time.Second))
	}
	k.kadmin(t, query+" "+name)
	return k.Keytab(t, name)
}

// Keytab exports the current keys of one or more principals, without
// changing them, into one keytab.
func (k *KDC) Keytab(t testing.TB, names ...string) []byte {
	t.Helper()
	return k.exportKeytab(t, strings.Join(names, " "), "-norandkey")
}

// RotateKey gives a principal a new random key (the key version number goes
// up by one) and returns a keytab with the new key only. Keytabs exported
// before no longer decrypt new tickets.
func (k *KDC) RotateKey(t testing.TB, name string) []byte {
	t.Helper()
	k.kadmin(t, "cpw -randkey "+name)
	return k.Keytab(t, name)
}

func (k *KDC) exportKeytab(t testing.TB, name, flag string) []byte {
	t.Helper()
	path := filepath.Join(k.Dir, fmt.Sprintf("kt-%s.keytab", randomPassword(t)[:8]))
	k.kadmin(t, fmt.Sprintf("ktadd -k %s %s %s", path, flag, name))
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading exported keytab: %v", err)
	}
	return b
}

// Kinit logs a user in with MIT kinit into a fresh file credential cache,
// asks for service tickets for the given principals with kvno, and returns
// the cache's path.
func (k *KDC) Kinit(t testing.TB, user, password string, services ...string) string {
	t.Helper()
	tool(t, "kinit")
	cache := filepath.Join(k.Dir, fmt.Sprintf("ccache-%s", randomPassword(t)[:8]))
	env := []string{"KRB5CCNAME=FILE:" + cache}
	if out, err := k.run(t, env, password+"\n", "kinit", user+"@"+k.Realm); err != nil {
		t.Fatalf("kinit %s: %v\n%s\n%s", user, err, out, k.Log())
	}
	for _, svc := range services {
		if out, err := k.run(t, env, "", "kvno", svc+"@"+k.Realm); err != nil {
			t.Fatalf("kvno %s: %v\n%s\n%s", svc, err, out, k.Log())
		}
	}
	return cache
}

// tool finds an MIT program on the PATH or in /usr/sbin, which is not on
// every user's PATH; missing, it skips or fails as testtools.Tool does.
func tool(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	return testtools.Tool(t, name)
}

func write(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// randomPassword is a throw-away secret for the master key and file names.
func randomPassword(t testing.TB) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
