//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
	"github.com/trustbroker/trustbroker/internal/devkeys"
)

const (
	release    = "trustbroker"
	operatorNS = "trustbroker-system"
	samplesNS  = "sts-samples"
	// stsName is the sample SecurityTokenService.
	stsName = "example-sts"
	// The samples' relying parties, and one of the test's own whose SAML 2.0
	// tokens are not encrypted, so that xmlsec1 can check them.
	saml1RP     = "urn:example:intranet-portal"
	encryptedRP = "https://orders.example.com/api"
	saml2RP     = "https://e2e.example.com/app"
)

// TestOnARealNode walks through what a platform team does with the chart,
// in order; each step needs the ones before.
func TestOnARealNode(t *testing.T) {
	cl := connect(t)
	var signing *devkeys.Pair
	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"helm install", func(t *testing.T) { cl.install(t) }},
		{"samples applied, STS pods Ready", func(t *testing.T) { signing = cl.applySamples(t) }},
		{"SAML 1.1 and 2.0 tokens verified by xmlsec1", func(t *testing.T) { cl.tokens(t, signing) }},
		{"relying party edit in force without restart", func(t *testing.T) { cl.editRelyingParty(t, "e2e-edit") }},
		{"signing Secret rotated without restart", func(t *testing.T) { signing = cl.rotate(t) }},
		{"what only the pods see shows in the STS's status", func(t *testing.T) { cl.podReports(t) }},
		{"scaled to one pod and back to two", func(t *testing.T) { cl.scale(t) }},
		{"served through an API server outage", func(t *testing.T) { cl.outage(t) }},
		{"STS container started during an outage becomes Ready", func(t *testing.T) { cl.startDuringOutage(t) }},
		{"rolling update under load, no failed request", func(t *testing.T) { cl.rollingUpdate(t) }},
		{"uninstalled, garbage collected", func(t *testing.T) { cl.uninstall(t) }},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			for _, p := range cl.stsPods(t) {
				t.Logf("pod %s %s:\n%s", p.Name, p.Status.Phase, podLogs(t, p))
			}
			t.FailNow()
		}
	}
}

func (cl *cluster) install(t *testing.T) {
	image := os.Getenv("E2E_IMAGE")
	repo, tag, _ := strings.Cut(image, ":")
	start := time.Now()
	cl.run(t, "helm", "install", release, "charts/trustbroker", "--namespace", operatorNS, "--create-namespace",
		"--set", "image.repository="+repo, "--set", "image.tag="+tag, "--wait", "--timeout", "3m")
	t.Logf("helm install --wait: %.1fs", time.Since(start).Seconds())
}

// applySamples creates the signing Secret as the sample says, applies the
// samples and a relying party of the test's own, and waits for the STS
// pods; it returns the signing key.
func (cl *cluster) applySamples(t *testing.T) *devkeys.Pair {
	signing := newKey(t)
	dir := t.TempDir()
	crt, key := filepath.Join(dir, "sts.crt"), filepath.Join(dir, "sts.key")
	writeFile(t, crt, signing.CertPEM)
	writeFile(t, key, signing.KeyPEM)
	cl.run(t, "kubectl", "create", "namespace", samplesNS)
	cl.run(t, "kubectl", "-n", samplesNS, "create", "secret", "tls", "example-sts-signing", "--cert", crt, "--key", key)
	start := time.Now()
	cl.run(t, "kubectl", "-n", samplesNS, "apply", "-k", "config/samples")
	rp := &stsv1alpha1.RelyingParty{ObjectMeta: metav1.ObjectMeta{Namespace: samplesNS, Name: "e2e-saml2"}, Spec: stsv1alpha1.RelyingPartySpec{
		STSRef: stsv1alpha1.LocalObjectReference{Name: stsName}, Endpoint: saml2RP, TokenType: "SAML20",
		Attributes: []stsv1alpha1.AttributeMapping{{Name: "mail", From: "mail"}}}}
	if err := cl.c.Create(context.Background(), rp); err != nil {
		t.Fatal(err)
	}
	// The sample runs one pod; two show that every pod follows the edits
	// and rotations below (their replay records stay apart: the tokens of
	// these steps are asked for once each).
	cl.run(t, "kubectl", "-n", samplesNS, "patch", "stsvc", stsName, "--type", "merge", "-p", `{"spec": {"replicas": 2}}`)
	cl.readyPods(t, 2)
	t.Logf("samples applied to 2 Ready STS pods: %.1fs", time.Since(start).Seconds())
	return signing
}

func (cl *cluster) tokens(t *testing.T, signing *devkeys.Pair) {
	for _, p := range cl.readyPods(t, 2) {
		verify(t, mustToken(t, endpoint(p), saml1RP), signing.CertPEM, true)
		verify(t, mustToken(t, endpoint(p), saml2RP), signing.CertPEM, false)
		if tok := mustToken(t, endpoint(p), encryptedRP); !strings.Contains(tok, "EncryptedAssertion") {
			t.Fatalf("the encrypted sample's token is not encrypted:\n%s", tok)
		}
	}
}

// editRelyingParty adds an attribute to the SAML 1.1 sample with kubectl
// patch and waits for it in the tokens of every pod, which must not restart.
// Right after an outage the pods' watches may still be backing off (client-go
// retries at most every 30 s, with as much jitter), hence the generous limit.
func (cl *cluster) editRelyingParty(t *testing.T, attribute string) {
	before := cl.stsPods(t)
	patch := fmt.Sprintf(`[{"op": "add", "path": "/spec/attributes/-", "value": {"name": %q, "from": "mail"}}]`, attribute)
	start := time.Now()
	cl.run(t, "kubectl", "-n", samplesNS, "patch", "rp", "intranet-portal", "--type", "json", "-p", patch)
	for _, p := range before {
		waitFor(t, 2*time.Minute, "the edit in tokens of "+p.Name, func() bool {
			_, tok := ask(t, http.DefaultClient, endpoint(p), saml1RP)
			return strings.Contains(tok, `AttributeName="`+attribute+`"`)
		})
	}
	t.Logf("relying party edit in force on every pod %.2fs after kubectl patch", time.Since(start).Seconds())
	cl.sameRunningPods(t, before)
}

// sameRunningPods fails when pods were replaced or restarted.
func (cl *cluster) sameRunningPods(t *testing.T, before map[string]corev1.Pod) {
	t.Helper()
	after := cl.stsPods(t)
	if fmt.Sprint(restarts(after)) != fmt.Sprint(restarts(before)) {
		t.Fatalf("pods replaced or restarted: before %v, after %v", restarts(before), restarts(after))
	}
}

func (cl *cluster) rotate(t *testing.T) *devkeys.Pair {
	before := cl.stsPods(t)
	rotated := newKey(t)
	var secret corev1.Secret
	ctx := context.Background()
	if err := cl.c.Get(ctx, client.ObjectKey{Namespace: samplesNS, Name: "example-sts-signing"}, &secret); err != nil {
		t.Fatal(err)
	}
	secret.Data = map[string][]byte{corev1.TLSCertKey: rotated.CertPEM, corev1.TLSPrivateKeyKey: rotated.KeyPEM}
	start := time.Now()
	if err := cl.c.Update(ctx, &secret); err != nil {
		t.Fatal(err)
	}
	var tok string
	for _, p := range before {
		waitFor(t, time.Minute, "tokens signed with the new key from "+p.Name, func() bool {
			_, tok = ask(t, http.DefaultClient, endpoint(p), saml2RP)
			return signedBy(tok, rotated.CertPEM)
		})
	}
	t.Logf("signing key rotated on every pod %.2fs after the Secret changed", time.Since(start).Seconds())
	verify(t, tok, rotated.CertPEM, false)
	cl.sameRunningPods(t, before)
	return rotated
}

// podReports points the sample's user store at a Secret the pods' Role
// does not name and that does not exist: the pods switch the user store off
// and say so in events, which the operator turns into PolicyLoaded=False and
// Ready=False with the pod's words; set back, the condition clears.
func (cl *cluster) podReports(t *testing.T) {
	patch := func(name string) {
		cl.run(t, "kubectl", "-n", samplesNS, "patch", "stsvc", stsName, "--type", "json", "-p",
			fmt.Sprintf(`[{"op": "replace", "path": "/spec/authentication/usernameToken/userStore/secretRef/name", "value": %q}]`, name))
	}
	condition := func(typ string) *metav1.Condition {
		var sts stsv1alpha1.SecurityTokenService
		if err := cl.c.Get(context.Background(), client.ObjectKey{Namespace: samplesNS, Name: stsName}, &sts); err != nil {
			t.Fatal(err)
		}
		return apimeta.FindStatusCondition(sts.Status.Conditions, typ)
	}
	start := time.Now()
	patch("e2e-missing-users")
	var msg string
	waitFor(t, 2*time.Minute, "PolicyLoaded=False from the pods' report", func() bool {
		c := condition(stsv1alpha1.ConditionPolicyLoaded)
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != stsv1alpha1.ReasonPolicyPartUnused {
			return false
		}
		msg = c.Message
		return true
	})
	if !strings.HasPrefix(msg, "pod "+stsName+"-") || !strings.Contains(msg, "e2e-missing-users") {
		t.Errorf("PolicyLoaded says %q, want the pod and the missing Secret", msg)
	}
	if r := condition(stsv1alpha1.ConditionReady); r == nil || r.Status != metav1.ConditionFalse {
		t.Errorf("Ready %+v, want False while a pod reports a problem", r)
	}
	t.Logf("a pod's report in the STS's status %.1fs after the edit: %s", time.Since(start).Seconds(), msg)
	patch("example-users")
	waitFor(t, 2*time.Minute, "PolicyLoaded=True again", func() bool {
		c := condition(stsv1alpha1.ConditionPolicyLoaded)
		return c != nil && c.Status == metav1.ConditionTrue
	})
}

func (cl *cluster) scale(t *testing.T) {
	for _, n := range []int32{1, 2} {
		cl.run(t, "kubectl", "-n", samplesNS, "patch", "stsvc", stsName, "--type", "merge", "-p", fmt.Sprintf(`{"spec": {"replicas": %d}}`, n))
		for _, p := range cl.readyPods(t, int(n)) {
			mustToken(t, endpoint(p), saml2RP)
		}
	}
}

// outage stops the API server for 20 s: every pod stays Ready and issues
// tokens; afterwards, edits are followed again.
func (cl *cluster) outage(t *testing.T) {
	pods := cl.readyPods(t, 2)
	cl.apiServerOutage(t)
	restarted := false
	defer func() {
		if !restarted {
			cl.apiServerBack(t)
		}
	}()
	served := 0
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(500 * time.Millisecond) {
		for _, p := range pods {
			if status, tok := ask(t, http.DefaultClient, endpoint(p), saml2RP); status != http.StatusOK {
				t.Fatalf("%s during the outage: %d %s", p.Name, status, tok)
			}
			if status, body := readyz(p); status != http.StatusOK {
				t.Fatalf("%s /readyz during the outage: %d %s", p.Name, status, body)
			}
			served++
		}
	}
	cl.apiServerBack(t)
	restarted = true
	t.Logf("%d tokens issued during a 20 s API server outage", served)
	cl.editRelyingParty(t, "e2e-after-outage")
}

// startDuringOutage kills an STS container while the API server is away:
// the kubelet starts it again, it says what it waits for, and it becomes
// Ready once the API server is back.
func (cl *cluster) startDuringOutage(t *testing.T) {
	pods := cl.readyPods(t, 2)
	victim, other := pods[0], pods[1]
	id := strings.TrimPrefix(victim.Status.ContainerStatuses[0].ContainerID, "containerd://")
	cl.apiServerOutage(t)
	back := false
	defer func() {
		if !back {
			cl.apiServerBack(t)
		}
	}()
	start := time.Now()
	cl.run(t, "ctr", "--address", filepath.Join(os.Getenv("E2E_DIR"), "containerd", "containerd.sock"), "-n", "k8s.io",
		"tasks", "kill", "--signal", "SIGKILL", id)
	var reason string
	waitFor(t, time.Minute, "the restarted STS to say what it waits for", func() bool {
		status, body := readyz(victim)
		reason = body
		return status == http.StatusServiceUnavailable && strings.Contains(body, "waiting for the API server: ")
	})
	t.Logf("restarted STS during the outage: /readyz %s", strings.TrimSpace(reason))
	mustToken(t, endpoint(other), saml2RP)
	time.Sleep(time.Until(start.Add(20 * time.Second)))
	cl.apiServerBack(t)
	back = true
	resumed := time.Now()
	waitFor(t, 90*time.Second, "the restarted STS to be ready", func() bool {
		status, _ := readyz(victim)
		return status == http.StatusOK
	})
	t.Logf("restarted STS ready %.1fs after the API server came back", time.Since(resumed).Seconds())
	mustToken(t, endpoint(victim), saml2RP)
	cl.readyPods(t, 2)
}

// rollingUpdate restarts the STS Deployment while clients ask for tokens
// without pause, sending each request to a ready endpoint of the STS
// Service as the node's service proxy would.
func (cl *cluster) rollingUpdate(t *testing.T) {
	var endpoints atomic.Pointer[[]string]
	refresh := func() {
		var slices discoveryv1.EndpointSliceList
		if err := cl.c.List(context.Background(), &slices, client.InNamespace(samplesNS),
			client.MatchingLabels{discoveryv1.LabelServiceName: stsName}); err != nil {
			return
		}
		var ready []string
		for _, s := range slices.Items {
			for _, e := range s.Endpoints {
				if e.Conditions.Ready != nil && *e.Conditions.Ready && len(e.Addresses) > 0 {
					ready = append(ready, "http://"+e.Addresses[0]+":8080/sts")
				}
			}
		}
		endpoints.Store(&ready)
	}
	refresh()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
				refresh()
			}
		}
	}()
	var ok, failed atomic.Int64
	var mu sync.Mutex
	served := map[string]int{}
	var failures []string
	hc := &http.Client{Timeout: 30 * time.Second}
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				eps := *endpoints.Load()
				if len(eps) == 0 {
					time.Sleep(10 * time.Millisecond)
					continue
				}
				url := eps[i%len(eps)]
				status, tok := ask(t, hc, url, saml2RP)
				mu.Lock()
				if status == http.StatusOK {
					ok.Add(1)
					served[url]++
				} else {
					failed.Add(1)
					failures = append(failures, fmt.Sprintf("%s: %d %.200s", url, status, tok))
				}
				mu.Unlock()
			}
		}()
	}
	time.Sleep(2 * time.Second)
	start, before := time.Now(), ok.Load()
	cl.run(t, "kubectl", "-n", samplesNS, "rollout", "restart", "deployment/"+stsName)
	progress := cl.run(t, "kubectl", "-n", samplesNS, "rollout", "status", "deployment/"+stsName, "--timeout", "3m")
	took, during := time.Since(start), ok.Load()-before
	t.Logf("kubectl rollout status:\n%s", progress)
	time.Sleep(2 * time.Second)
	close(stop)
	wg.Wait()
	t.Logf("rolling update in %.1fs under load: %d tokens during it, %d in all, %d failed; by endpoint %v",
		took.Seconds(), during, ok.Load(), failed.Load(), served)
	if failed.Load() > 0 {
		t.Fatalf("%d requests failed during the rolling update:\n%s", failed.Load(), strings.Join(failures, "\n"))
	}
	if during == 0 || ok.Load()-before-during == 0 {
		t.Fatalf("no tokens during or after the rolling update (%d during, %d in all)", during, ok.Load())
	}
}

// uninstall deletes the samples (the operator's objects go with them) and
// then the release; nothing of either stays but the CRDs.
func (cl *cluster) uninstall(t *testing.T) {
	ctx := context.Background()
	cl.run(t, "kubectl", "-n", samplesNS, "delete", "-k", "config/samples")
	cl.run(t, "kubectl", "-n", samplesNS, "delete", "rp", "e2e-saml2")
	cl.run(t, "kubectl", "-n", samplesNS, "delete", "secret", "example-sts-signing")
	start := time.Now()
	waitFor(t, 2*time.Minute, "the STS's objects to be garbage collected", func() bool {
		return cl.left(t, samplesNS) == ""
	})
	t.Logf("STS objects garbage collected in %.1fs", time.Since(start).Seconds())
	cl.run(t, "helm", "uninstall", release, "--namespace", operatorNS, "--wait", "--timeout", "2m")
	waitFor(t, 2*time.Minute, "the release's objects to be deleted", func() bool {
		return cl.left(t, operatorNS) == ""
	})
	for _, o := range []client.Object{&rbacv1.ClusterRole{}, &rbacv1.ClusterRoleBinding{}} {
		if err := cl.c.Get(ctx, client.ObjectKey{Name: release + "-operator"}, o); !apierrors.IsNotFound(err) {
			t.Errorf("%T %s-operator after helm uninstall: %v", o, release, err)
		}
	}
	cl.run(t, "kubectl", "delete", "namespace", samplesNS, operatorNS, "--wait", "--timeout", "2m")
}

// left lists what remains in a namespace besides what every namespace has.
func (cl *cluster) left(t *testing.T, ns string) string {
	t.Helper()
	lists := []client.ObjectList{&appsv1.DeploymentList{}, &appsv1.ReplicaSetList{}, &corev1.PodList{}, &corev1.ServiceList{},
		&corev1.ServiceAccountList{}, &corev1.SecretList{}, &corev1.ConfigMapList{}, &rbacv1.RoleList{}, &rbacv1.RoleBindingList{},
		&policyv1.PodDisruptionBudgetList{}, &discoveryv1.EndpointSliceList{}}
	var left []string
	for _, l := range lists {
		if err := cl.c.List(context.Background(), l, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		items, err := apimeta.ExtractList(l)
		if err != nil {
			t.Fatal(err)
		}
		for _, item := range items {
			o := item.(client.Object)
			if o.GetName() == "default" || o.GetName() == "kube-root-ca.crt" {
				continue
			}
			left = append(left, fmt.Sprintf("%T %s", o, o.GetName()))
		}
	}
	return strings.Join(left, ", ")
}

func newKey(t *testing.T) *devkeys.Pair {
	t.Helper()
	pair, err := devkeys.NewRSA("sts.example.com", time.Now(), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return pair
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
