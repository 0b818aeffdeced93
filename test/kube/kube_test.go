// Package kube runs the product as it runs in a cluster, against a real API
// server: the operator's reconcilers, and an `sts serve --kube` process that
// follows the resources and answers WS-Trust requests.
package kube

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
	"github.com/trustbroker/trustbroker/controllers"
	stsclient "github.com/trustbroker/trustbroker/internal/client"
	"github.com/trustbroker/trustbroker/internal/devkeys"
	"github.com/trustbroker/trustbroker/internal/testtools"
	"github.com/trustbroker/trustbroker/internal/testtools/apiserver"
)

const ns = "default"

// cluster is a real API server with the operator running and one STS pod's
// process serving the "sts" SecurityTokenService.
type cluster struct {
	api     *apiserver.Server
	c       client.Client
	stsURL  string
	signing *devkeys.Pair
}

func startCluster(t testing.TB) *cluster {
	t.Helper()
	cl := newCluster(t)
	startOperator(t, cl.api)
	cl.stsURL = startSTS(t, cl.api)
	return cl
}

// newCluster starts an API server holding the "sts" SecurityTokenService,
// its signing key and its users, with no operator and no STS process yet.
func newCluster(t testing.TB) *cluster {
	t.Helper()
	api := apiserver.Start(t)
	cl := &cluster{api: api, c: api.Client}
	cl.signing = createSTS(t, cl.c)
	return cl
}

// createSTS creates the "sts" SecurityTokenService, its signing key and its
// user store (alice), and returns the key.
func createSTS(t testing.TB, c client.Client) *devkeys.Pair {
	t.Helper()
	signing, err := devkeys.NewRSA("sts.example.com", time.Now(), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, o := range []client.Object{
		tlsSecret("signing", signing),
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "users"},
			StringData: map[string]string{"users.yaml": "- {username: alice, password: alice-pw, roles: [admin], attributes: {mail: alice@example.com, dept: eng}}\n"}},
		&stsv1alpha1.SecurityTokenService{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "sts"}, Spec: stsv1alpha1.SecurityTokenServiceSpec{
			Issuer: "urn:test:sts", Endpoint: "https://sts.example.com/sts",
			Signing: stsv1alpha1.SigningSpec{SecretRef: &stsv1alpha1.SecretKeySelector{Name: "signing"}},
			Authentication: stsv1alpha1.AuthenticationSpec{UsernameToken: &stsv1alpha1.UsernameTokenSpec{
				Enabled: true, AllowPasswordText: true, UserStore: &stsv1alpha1.UserStoreSpec{SecretRef: &stsv1alpha1.SecretKeySelector{Name: "users"}}}},
		}},
	} {
		if err := c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	return signing
}

func tlsSecret(name string, p *devkeys.Pair) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{"tls.crt": p.CertPEM, "tls.key": p.KeyPEM}}
}

// startOperator runs the operator's reconcilers until the test ends.
func startOperator(t testing.TB, api *apiserver.Server) {
	t.Helper()
	// Each test runs its own operator in this process; their controllers
	// share names.
	skip := true
	mgr, err := ctrl.NewManager(api.Config, ctrl.Options{Scheme: scheme.Scheme, Metrics: metricsserver.Options{BindAddress: "0"},
		Controller: config.Controller{SkipNameValidation: &skip}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := controllers.Setup(ctx, mgr, controllers.Options{STSImage: "trustbroker:test"}); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := mgr.Start(ctx); err != nil {
			t.Error(err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
}

// startSTS builds cmd/sts and runs `sts serve --kube` against the API
// server, as the operator's Deployment would, until the test ends. It
// returns the STS endpoint once /readyz says ok.
func startSTS(t testing.TB, api *apiserver.Server) string {
	t.Helper()
	p := launchSTS(t, api)
	waitFor(t, "the STS to be ready", func() bool {
		status, _ := p.readyz()
		return status == http.StatusOK
	})
	return p.url
}

// stsProcess is a running `sts serve --kube`.
type stsProcess struct {
	url     string // the /sts endpoint
	metrics string // host:port of /metrics and /readyz
	pid     int
}

// readyz returns the status and body of /readyz, or 0 when unreachable.
func (p stsProcess) readyz() (int, string) {
	resp, err := http.Get("http://" + p.metrics + "/readyz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// launchSTS starts `sts serve --kube` without waiting for it to be ready.
func launchSTS(t testing.TB, api *apiserver.Server) stsProcess {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "sts")
	build := exec.Command("go", "build", "-o", bin, "./cmd/sts")
	build.Dir = testtools.RepoRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building sts: %v\n%s", err, out)
	}
	listen, metrics := testtools.FreePort(t), testtools.FreePort(t)
	logFile := filepath.Join(t.TempDir(), "sts.log")
	out, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--kube", "--namespace", ns, "--name", "sts", "--listen", listen, "--metrics-listen", metrics)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+api.Kubeconfig)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			log, _ := os.ReadFile(logFile)
			t.Logf("sts log:\n%s", log)
		}
	})
	return stsProcess{url: "http://" + listen + "/sts", metrics: metrics, pid: cmd.Process.Pid}
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	waitWithin(t, 30*time.Second, what, cond)
}

func waitWithin(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(25 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// ask requests a token for appliesTo and returns the HTTP status and body.
func (cl *cluster) ask(t testing.TB, appliesTo string) (int, string) {
	t.Helper()
	return ask(t, cl.stsURL, appliesTo)
}

// ask requests a token for alice from the STS at url.
func ask(t testing.TB, url, appliesTo string) (int, string) {
	t.Helper()
	r := stsclient.Request{Endpoint: url, Username: "alice", Password: "alice-pw", AppliesTo: appliesTo, Now: time.Now()}
	status, body, err := r.Do(http.DefaultClient)
	if err != nil {
		t.Fatal(err)
	}
	return status, string(body)
}

func relyingParty(name, endpoint string, attrs ...stsv1alpha1.AttributeMapping) *stsv1alpha1.RelyingParty {
	return &stsv1alpha1.RelyingParty{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: stsv1alpha1.RelyingPartySpec{
		STSRef: stsv1alpha1.LocalObjectReference{Name: "sts"}, Endpoint: endpoint, Attributes: attrs}}
}

// encryptingRelyingParty is a relying party whose tokens are encrypted to
// the certificate in its own Secret, and that Secret.
func encryptingRelyingParty(name, endpoint string, cert *devkeys.Pair) []client.Object {
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-encryption"},
		Data: map[string][]byte{"tls.crt": cert.CertPEM}}
	rp := relyingParty(name, endpoint)
	rp.Spec.Encryption = &stsv1alpha1.EncryptionSpec{Enabled: true,
		Certificate: &stsv1alpha1.CertificateSource{SecretRef: &stsv1alpha1.SecretKeySelector{Name: secret.Name}}}
	return []client.Object{secret, rp}
}

// TestResourcesDriveTheSTS: relying parties and keys managed through the
// API are honoured by the running STS with no restart, and their status
// tells their owners what to fix.
func TestResourcesDriveTheSTS(t *testing.T) {
	cl := startCluster(t)
	ctx := context.Background()

	rp := relyingParty("app", "urn:test:app", stsv1alpha1.AttributeMapping{Name: "mail", From: "mail"})
	if err := cl.c.Create(ctx, rp); err != nil {
		t.Fatal(err)
	}
	var body string
	waitFor(t, "a token for the new relying party", func() bool {
		status, b := cl.ask(t, "urn:test:app")
		body = b
		return status == http.StatusOK
	})
	if !strings.Contains(body, "alice@example.com") || strings.Contains(body, ">eng<") {
		t.Fatalf("first token does not carry exactly the mapped attribute:\n%s", body)
	}

	// Its attributes change: the next tokens carry the new mapping.
	if err := cl.c.Get(ctx, client.ObjectKeyFromObject(rp), rp); err != nil {
		t.Fatal(err)
	}
	rp.Spec.Attributes = append(rp.Spec.Attributes, stsv1alpha1.AttributeMapping{Name: "department", From: "dept"})
	if err := cl.c.Update(ctx, rp); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the new attribute in tokens", func() bool {
		_, b := cl.ask(t, "urn:test:app")
		return strings.Contains(b, ">eng<")
	})

	// The signing Secret is rotated: new tokens carry the new certificate.
	rotated, err := devkeys.NewRSA("sts.example.com", time.Now(), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.c.Update(ctx, tlsSecret("signing", rotated)); err != nil {
		t.Fatal(err)
	}
	newCert := base64.StdEncoding.EncodeToString(rotated.Cert.Raw)
	waitFor(t, "tokens signed with the rotated key", func() bool {
		_, b := cl.ask(t, "urn:test:app")
		return strings.Contains(b, newCert)
	})

	// The relying party is deleted: its AppliesTo gets a fault.
	if err := cl.c.Delete(ctx, rp); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the deleted relying party to be refused", func() bool {
		status, b := cl.ask(t, "urn:test:app")
		return status == http.StatusInternalServerError && strings.Contains(b, "No relying party is registered")
	})

	// The STS's status says its signing key is good.
	var sts stsv1alpha1.SecurityTokenService
	waitFor(t, "SigningKeyValid=True", func() bool {
		if err := cl.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "sts"}, &sts); err != nil {
			return false
		}
		return meta.IsStatusConditionTrue(sts.Status.Conditions, stsv1alpha1.ConditionSigningKeyValid)
	})
}

// TestExpiredCertificateIsDescribed: a relying party whose encryption
// certificate expired shows CertificateValid=False naming the notAfter in
// real `kubectl describe rp` output.
func TestExpiredCertificateIsDescribed(t *testing.T) {
	cl := startCluster(t)
	ctx := context.Background()
	expired, err := devkeys.NewRSA("old.example.com", time.Now().Add(-72*time.Hour), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	rp := relyingParty("old", "urn:test:old")
	rp.Spec.Encryption = &stsv1alpha1.EncryptionSpec{Enabled: true, Certificate: &stsv1alpha1.CertificateSource{PEM: string(expired.CertPEM)}}
	if err := cl.c.Create(ctx, rp); err != nil {
		t.Fatal(err)
	}
	notAfter := expired.Cert.NotAfter.UTC().Format(time.RFC3339)
	var out string
	waitFor(t, "kubectl describe to show the expired certificate", func() bool {
		cmd := exec.Command(cl.api.Kubectl, "--kubeconfig", cl.api.Kubeconfig, "describe", "rp", "old", "-n", ns)
		b, _ := cmd.CombinedOutput()
		out = string(b)
		return strings.Contains(out, "CertificateExpired") && strings.Contains(out, notAfter)
	})
	if !strings.Contains(out, "CertificateValid") || !strings.Contains(out, "False") {
		t.Errorf("kubectl describe rp:\n%s", out)
	}
}

// TestRelyingPartyCertificateRotation: a relying party's encryption
// certificate, which STS pods read rather than watch, is rotated in its
// Secret: the operator records the change and the next tokens are
// encrypted to the new certificate, with no restart.
func TestRelyingPartyCertificateRotation(t *testing.T) {
	cl := startCluster(t)
	ctx := context.Background()
	first, err := devkeys.NewRSA("app.example.com", time.Now(), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	objs := encryptingRelyingParty("app", "urn:test:app", first)
	for _, o := range objs {
		if err := cl.c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	encryptedTo := func(p *devkeys.Pair) func() bool {
		return func() bool {
			status, body := cl.ask(t, "urn:test:app")
			return status == http.StatusOK && strings.Contains(body, base64.StdEncoding.EncodeToString(p.Cert.Raw))
		}
	}
	waitFor(t, "a token encrypted to the first certificate", encryptedTo(first))

	second, err := devkeys.NewRSA("app.example.com", time.Now(), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	secret := objs[0].(*corev1.Secret)
	secret.Data = map[string][]byte{"tls.crt": second.CertPEM}
	if err := cl.c.Update(ctx, secret); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "tokens encrypted to the rotated certificate", encryptedTo(second))
}
