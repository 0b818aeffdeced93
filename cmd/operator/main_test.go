package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/trustbroker/trustbroker/internal/testtools"
	"github.com/trustbroker/trustbroker/internal/testtools/apiserver"
)

// The operator's ServiceAccount, as config/default installs it.
const operatorSA = "system:serviceaccount:trustbroker-system:trustbroker-operator"

// TestOperatorInACluster installs config/default into a real API server and
// runs the operator binary as its ServiceAccount: /readyz turns ready once
// the caches have synced, and /metrics is served over HTTPS with the given
// certificate, only to a caller whose token is bound to the metrics-reader
// ClusterRole. So the installed RBAC also suffices for the metrics filter's
// TokenReviews and SubjectAccessReviews; leader election gets its lease in
// the operator's namespace and nowhere else.
func TestOperatorInACluster(t *testing.T) {
	api := apiserver.Start(t)
	root := testtools.RepoRoot(t)
	kubectl(t, api, "apply", "-k", filepath.Join(root, "config", "default"))
	bin := buildOperator(t, root)
	cs, err := kubernetes.NewForConfig(api.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	certDir := t.TempDir()
	ca := writeServingCert(t, certDir)
	metrics, probes := testtools.FreePort(t), testtools.FreePort(t)
	startOperator(t, bin, impersonating(t, api, operatorSA),
		"--metrics-bind-address="+metrics, "--health-probe-bind-address="+probes, "--metrics-cert-path="+certDir)
	waitStatus(t, "http://"+probes+"/readyz", http.StatusOK, time.Minute)

	// The certificate given is the one served: verification succeeds.
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	https := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	url := "https://" + metrics + "/metrics"

	if code, _ := get(t, https, url, ""); code != http.StatusUnauthorized {
		t.Errorf("/metrics without a token: %d, want 401", code)
	}
	outsider := serviceAccountToken(t, ctx, cs, "outsider")
	if code, _ := get(t, https, url, outsider); code != http.StatusForbidden {
		t.Errorf("/metrics with a token not bound to the metrics reader: %d, want 403", code)
	}
	scraper := serviceAccountToken(t, ctx, cs, "scraper")
	_, err = cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "scraper-metrics-reader"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "trustbroker-metrics-reader"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: "default", Name: "scraper"}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The controllers' series appear once they start, after the leader
	// election that /readyz does not wait for.
	wants := []string{`controller_runtime_reconcile_total{controller="securitytokenservice"`, `controller_runtime_reconcile_total{controller="relyingparty"`}
	deadline := time.Now().Add(time.Minute)
	for {
		code, body := get(t, https, url, scraper)
		if code != http.StatusOK {
			t.Fatalf("/metrics with the metrics reader's token: %d, want 200\n%s", code, body)
		}
		missing := slices.DeleteFunc(slices.Clone(wants), func(w string) bool { return strings.Contains(body, w) })
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics lacks %s a minute after the operator was ready", strings.Join(missing, ", "))
		}
		time.Sleep(200 * time.Millisecond)
	}

	// Leader election may take its lease in the operator's namespace only.
	for _, c := range []struct {
		ns, verb, group, resource string
		want                      bool
	}{
		{"trustbroker-system", "create", "coordination.k8s.io", "leases", true},
		{"trustbroker-system", "update", "coordination.k8s.io", "leases", true},
		{"trustbroker-system", "create", "", "events", true},
		{"trustbroker-system", "delete", "coordination.k8s.io", "leases", false},
		{"default", "update", "coordination.k8s.io", "leases", false},
		{"default", "create", "", "events", false},
	} {
		sar, err := cs.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User: operatorSA, Groups: []string{"system:serviceaccounts", "system:serviceaccounts:trustbroker-system", "system:authenticated"},
			ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: c.ns, Verb: c.verb, Group: c.group, Resource: c.resource},
		}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if sar.Status.Allowed != c.want {
			t.Errorf("may %s %s in %s: %v, want %v", c.verb, c.resource, c.ns, sar.Status.Allowed, c.want)
		}
	}
}

// TestNotReadyUntilCachesSync runs the operator as a user that may read
// nothing: it is alive, but its caches never sync, so it is not ready. With
// no certificate given, /metrics still speaks TLS with a self-signed one.
func TestNotReadyUntilCachesSync(t *testing.T) {
	api := apiserver.Start(t)
	bin := buildOperator(t, testtools.RepoRoot(t))
	metrics, probes := testtools.FreePort(t), testtools.FreePort(t)
	startOperator(t, bin, impersonating(t, api, "system:serviceaccount:default:nobody"),
		"--metrics-bind-address="+metrics, "--health-probe-bind-address="+probes)
	waitStatus(t, "http://"+probes+"/healthz", http.StatusOK, time.Minute)
	for i := 0; i < 10; i++ {
		if code, body := get(t, http.DefaultClient, "http://"+probes+"/readyz", ""); code == http.StatusOK {
			t.Fatalf("/readyz is %d without synced caches: %s", code, body)
		}
		time.Sleep(300 * time.Millisecond)
	}

	conn, err := tls.Dial("tcp", metrics, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("TLS to the metrics port: %v", err)
	}
	chain := conn.ConnectionState().PeerCertificates
	conn.Close()
	// A certificate for 127.0.0.1 from a CA generated with it.
	roots := x509.NewCertPool()
	for _, c := range chain[1:] {
		roots.AddCert(c)
	}
	if _, err := chain[0].Verify(x509.VerifyOptions{Roots: roots, DNSName: "127.0.0.1"}); err != nil {
		t.Errorf("the generated metrics certificate: %v", err)
	}
	insecure := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	if code, _ := get(t, insecure, "https://"+metrics+"/metrics", ""); code != http.StatusUnauthorized {
		t.Errorf("/metrics without a token: %d, want 401", code)
	}
}

var built struct {
	once sync.Once
	path string
	err  error
	out  []byte
}

// buildOperator builds the operator binary once per test run.
func buildOperator(t *testing.T, root string) string {
	t.Helper()
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "operator-test-")
		if err != nil {
			built.err = err
			return
		}
		built.path = filepath.Join(dir, "operator")
		cmd := exec.Command("go", "build", "-o", built.path, "./cmd/operator")
		cmd.Dir = root
		built.out, built.err = cmd.CombinedOutput()
	})
	if built.err != nil {
		t.Fatalf("go build ./cmd/operator: %v\n%s", built.err, built.out)
	}
	return built.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.path != "" {
		os.RemoveAll(filepath.Dir(built.path))
	}
	os.Exit(code)
}

// startOperator runs the operator with the kubeconfig until the test ends;
// its log is shown when the test fails.
func startOperator(t *testing.T, bin, kubeconfig string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, append([]string{"--kubeconfig=" + kubeconfig, "--sts-image=registry.example.com/sts:test"}, args...)...)
	var log syncBuffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			out := log.String()
			if len(out) > 8000 {
				out = "..." + out[len(out)-8000:]
			}
			t.Logf("operator log:\n%s", out)
		}
	})
}

// impersonating writes a kubeconfig that acts, with the API server's admin
// credentials, as user (a ServiceAccount) with its groups.
func impersonating(t *testing.T, api *apiserver.Server, user string) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(api.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	ns := strings.Split(user, ":")[2]
	for _, a := range cfg.AuthInfos {
		a.Impersonate = user
		a.ImpersonateGroups = []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"}
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeServingCert writes tls.crt and tls.key for 127.0.0.1 into dir and
// returns the (self-signed) certificate to trust.
func writeServingCert(t *testing.T, dir string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "trustbroker-operator-metrics"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tls.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tls.key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// serviceAccountToken creates a ServiceAccount in default and returns a token of it.
func serviceAccountToken(t *testing.T, ctx context.Context, cs kubernetes.Interface, name string) string {
	t.Helper()
	if _, err := cs.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tr, err := cs.CoreV1().ServiceAccounts("default").CreateToken(ctx, name, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return tr.Status.Token
}

// get fetches url, with a bearer token when not empty, and returns the
// status code and body; 0 when the server cannot be reached.
func get(t *testing.T, c *http.Client, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// waitStatus polls url until it answers want.
func waitStatus(t *testing.T, url string, want int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		code, body := get(t, http.DefaultClient, url, "")
		if code == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d (%s) after %s, want %d", url, code, strings.TrimSpace(body), timeout, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// kubectl runs bin/kubectl against the API server.
func kubectl(t *testing.T, api *apiserver.Server, args ...string) {
	t.Helper()
	out, err := exec.Command(api.Kubectl, append([]string{"--kubeconfig", api.Kubeconfig}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// syncBuffer is a bytes.Buffer safe for the process's two output streams.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
