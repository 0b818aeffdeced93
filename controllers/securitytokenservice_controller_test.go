package controllers

import (
	"context"
	"crypto/sha256"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
	"github.com/trustbroker/trustbroker/internal/source"
)

// opensslFingerprint formats a SHA-256 digest the way openssl prints it.
func opensslFingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}

// get reads an object or fails the test after waiting for it to appear.
func get(t *testing.T, ns, name string, obj client.Object) {
	t.Helper()
	eventually(t, fmt.Sprintf("%T %s", obj, name), func() string {
		if err := cluster.client.Get(context.Background(), key(ns, name), obj); err != nil {
			return err.Error()
		}
		return ""
	})
}

// controlledBy checks that the STS is the object's controlling owner.
func controlledBy(t *testing.T, obj client.Object, sts *stsv1alpha1.SecurityTokenService) {
	t.Helper()
	ref := metav1.GetControllerOf(obj)
	if ref == nil || ref.UID != sts.UID || ref.Kind != "SecurityTokenService" || ref.BlockOwnerDeletion == nil || !*ref.BlockOwnerDeletion {
		t.Errorf("%T %s: controller reference %+v, want the SecurityTokenService %s", obj, obj.GetName(), ref, sts.Name)
	}
}

func TestSecurityTokenServiceRendersItsObjects(t *testing.T) {
	needCluster(t)
	ctx := context.Background()
	ns := newNamespace(t, "sts-render")
	certPEM, keyPEM, cert := makeCert(t, certSpec{cn: "sts-signing"})
	create(t, tlsSecret(ns, "signing", certPEM, keyPEM))
	sts := newSTS(ns, "corp-sts", "signing")
	sts.Spec.Replicas = ptrTo[int32](2)
	create(t, sts)

	var dep appsv1.Deployment
	get(t, ns, "corp-sts", &dep)
	controlledBy(t, &dep, sts)
	if *dep.Spec.Replicas != 2 {
		t.Errorf("replicas %d, want 2", *dep.Spec.Replicas)
	}
	pod := dep.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	wantArgs := []string{"serve", "--kube", "--namespace", ns, "--name", "corp-sts", "--listen", ":8080", "--metrics-listen", ":9090", "--shutdown-delay", "5s"}
	if c.Image != testImage || !slices.Equal(c.Command, []string{"/sts"}) || !slices.Equal(c.Args, wantArgs) {
		t.Errorf("container runs %s %v %v, want %s /sts %v", c.Image, c.Command, c.Args, testImage, wantArgs)
	}
	sc := c.SecurityContext
	if sc == nil || !derefOr(sc.RunAsNonRoot, false) || !derefOr(sc.ReadOnlyRootFilesystem, false) ||
		derefOr(sc.AllowPrivilegeEscalation, true) || sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) ||
		sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("container security context %+v does not lock the pod down", sc)
	}
	if psc := pod.SecurityContext; psc == nil || !derefOr(psc.RunAsNonRoot, false) || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod security context %+v", pod.SecurityContext)
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() {
		t.Errorf("resource requests %v", c.Resources.Requests)
	}
	for name, p := range map[string]*corev1.Probe{"/healthz": c.LivenessProbe, "/readyz": c.ReadinessProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != name || p.HTTPGet.Port.String() != "metrics" {
			t.Errorf("probe %s: %+v", name, p)
		}
	}
	if !slices.Equal(pod.ImagePullSecrets, []corev1.LocalObjectReference{{Name: testPullSecret}}) {
		t.Errorf("image pull secrets %v, want the operator's %s", pod.ImagePullSecrets, testPullSecret)
	}
	if pod.ServiceAccountName != "corp-sts" {
		t.Errorf("service account %q", pod.ServiceAccountName)
	}
	// The grace period outlasts the shutdown delay plus the longest request,
	// so a draining pod is never killed while it answers.
	if g := pod.TerminationGracePeriodSeconds; g == nil || *g < 5+30 {
		t.Errorf("terminationGracePeriodSeconds %v, want at least the 5s shutdown delay plus 30s for requests in flight", g)
	}

	var svc corev1.Service
	get(t, ns, "corp-sts", &svc)
	controlledBy(t, &svc, sts)
	ports := map[string]string{}
	for _, p := range svc.Spec.Ports {
		ports[p.Name] = fmt.Sprintf("%d->%s", p.Port, p.TargetPort.String())
	}
	if ports["http"] != "80->http" || ports["metrics"] != "9090->metrics" {
		t.Errorf("service ports %v", ports)
	}
	if !reflect.DeepEqual(svc.Spec.Selector, dep.Spec.Template.Labels) {
		t.Errorf("service selects %v, pods are labelled %v", svc.Spec.Selector, dep.Spec.Template.Labels)
	}

	var sa corev1.ServiceAccount
	get(t, ns, "corp-sts", &sa)
	controlledBy(t, &sa, sts)

	var role rbacv1.Role
	get(t, ns, "corp-sts", &role)
	controlledBy(t, &role, sts)
	checkRole(t, &role, []string{"signing"})

	var binding rbacv1.RoleBinding
	get(t, ns, "corp-sts", &binding)
	controlledBy(t, &binding, sts)
	if binding.RoleRef.Kind != "Role" || binding.RoleRef.Name != "corp-sts" || len(binding.Subjects) != 1 ||
		binding.Subjects[0].Kind != "ServiceAccount" || binding.Subjects[0].Name != "corp-sts" || binding.Subjects[0].Namespace != ns {
		t.Errorf("role binding %+v %+v", binding.RoleRef, binding.Subjects)
	}

	var pdb policyv1.PodDisruptionBudget
	get(t, ns, "corp-sts", &pdb)
	controlledBy(t, &pdb, sts)
	if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() != 1 {
		t.Errorf("PDB minAvailable %v, want 1", pdb.Spec.MinAvailable)
	}

	// Status: the signing key is fine; no kubelet runs pods here.
	waitCondition(t, sts, stsv1alpha1.ConditionSigningKeyValid, metav1.ConditionTrue, ReasonValid)
	if sc := sts.Status.SigningCertificate; sc == nil || sc.SHA256Fingerprint != opensslFingerprint(cert.Raw) || sc.Subject != "CN=sts-signing,O=Example" || !sc.NotAfter.Time.Equal(cert.NotAfter) {
		t.Errorf("status.signingCertificate %+v, want fingerprint %s", sts.Status.SigningCertificate, opensslFingerprint(cert.Raw))
	}
	avail := waitCondition(t, sts, stsv1alpha1.ConditionAvailable, metav1.ConditionFalse, ReasonPodsNotReady)
	wantMsg := "0 of 2 STS pods are ready: see `kubectl describe deployment corp-sts -n " + ns + "` and the events of its pods"
	if avail.Message != wantMsg {
		t.Errorf("Available message %q, want %q", avail.Message, wantMsg)
	}
	waitCondition(t, sts, stsv1alpha1.ConditionReady, metav1.ConditionFalse, ReasonPodsNotReady)
	if sts.Status.Endpoint != "http://corp-sts."+ns+".svc/sts" || sts.Status.ObservedGeneration != sts.Generation {
		t.Errorf("status endpoint %q, observedGeneration %d", sts.Status.Endpoint, sts.Status.ObservedGeneration)
	}

	// A ready pod, as the Deployment controller would report it. The
	// operator may apply the Deployment again meanwhile: read it afresh.
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		get(t, ns, "corp-sts", &dep)
		dep.Status = appsv1.DeploymentStatus{ObservedGeneration: dep.Generation, Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 1, AvailableReplicas: 1, UnavailableReplicas: 1}
		return cluster.client.Status().Update(ctx, &dep)
	}); err != nil {
		t.Fatal(err)
	}
	avail = waitCondition(t, sts, stsv1alpha1.ConditionAvailable, metav1.ConditionTrue, ReasonPodsReady)
	if avail.Message != "1 of 2 STS pods are ready" {
		t.Errorf("Available message %q", avail.Message)
	}
	waitCondition(t, sts, stsv1alpha1.ConditionReady, metav1.ConditionTrue, stsv1alpha1.ConditionReady)
	if sts.Status.Replicas != 2 || sts.Status.ReadyReplicas != 1 {
		t.Errorf("status replicas %d ready %d, want 2 and 1", sts.Status.Replicas, sts.Status.ReadyReplicas)
	}
	waitEvent(t, sts, corev1.EventTypeNormal, stsv1alpha1.ConditionReady)

	// Relying parties and trusted issuers are counted, their Secrets become
	// readable by the pods, and the pods are not rolled for them.
	template := dep.Spec.Template.DeepCopy()
	depGeneration := dep.Generation
	rp := newRP(ns, "portal", "corp-sts", "https://portal.example.com/")
	rp.Spec.Encryption = &stsv1alpha1.EncryptionSpec{Enabled: true, Certificate: &stsv1alpha1.CertificateSource{SecretRef: &stsv1alpha1.SecretKeySelector{Name: "portal-cert"}}}
	create(t, rp)
	create(t, newTI(ns, "adfs", "corp-sts", stsv1alpha1.CertificateSource{SecretRef: &stsv1alpha1.SecretKeySelector{Name: "adfs-certs"}}))
	create(t, newRP(ns, "elsewhere", "other-sts", "https://elsewhere.example.com/"))
	eventually(t, "counts", func() string {
		_ = conditionOf(t, sts, stsv1alpha1.ConditionReady)
		if sts.Status.RelyingParties != 1 || sts.Status.TrustedIssuers != 1 {
			return fmt.Sprintf("%d relying parties and %d trusted issuers", sts.Status.RelyingParties, sts.Status.TrustedIssuers)
		}
		return ""
	})
	eventually(t, "the Role names the new Secrets", func() string {
		if err := cluster.client.Get(ctx, key(ns, "corp-sts"), &role); err != nil {
			return err.Error()
		}
		if got := secretRule(&role); !slices.Equal(got, []string{"adfs-certs", "portal-cert", "signing"}) {
			return fmt.Sprintf("secrets %v", got)
		}
		return ""
	})
	get(t, ns, "portal", rp)
	rp.Spec.Endpoint = "https://portal.example.com/v2"
	if err := cluster.client.Update(ctx, rp); err != nil {
		t.Fatal(err)
	}
	waitCondition(t, rp, stsv1alpha1.ConditionAccepted, metav1.ConditionTrue, stsv1alpha1.ConditionAccepted)
	// Give the operator time to (wrongly) touch the Deployment.
	time.Sleep(time.Second)
	get(t, ns, "corp-sts", &dep)
	if dep.Generation != depGeneration || !reflect.DeepEqual(dep.Spec.Template, *template) {
		t.Errorf("a relying party change rolled the pods: generation %d -> %d", depGeneration, dep.Generation)
	}

	// A new image does roll them.
	get(t, ns, "corp-sts", sts)
	sts.Spec.Image = "registry.example.com/trustbroker/sts:v2"
	if err := cluster.client.Update(ctx, sts); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the new image", func() string {
		if err := cluster.client.Get(ctx, key(ns, "corp-sts"), &dep); err != nil {
			return err.Error()
		}
		if img := dep.Spec.Template.Spec.Containers[0].Image; img != sts.Spec.Image {
			return "image " + img
		}
		return ""
	})
	if dep.Generation == depGeneration {
		t.Error("the Deployment's generation did not change with the image")
	}

	// One replica needs no disruption budget.
	get(t, ns, "corp-sts", sts)
	sts.Spec.Replicas = ptrTo[int32](1)
	if err := cluster.client.Update(ctx, sts); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the PDB to go", func() string {
		err := cluster.client.Get(ctx, key(ns, "corp-sts"), &policyv1.PodDisruptionBudget{})
		if apierrors.IsNotFound(err) {
			return ""
		}
		return fmt.Sprintf("still there (%v)", err)
	})
}

// checkRole checks the STS pods' permissions: read the three kinds and
// ConfigMaps, and only the named Secrets.
func checkRole(t *testing.T, role *rbacv1.Role, secrets []string) {
	t.Helper()
	var sawKinds, sawConfigMaps, sawEvents bool
	for _, r := range role.Rules {
		if slices.Equal(r.APIGroups, []string{"events.k8s.io"}) {
			// Posting events, how the pods tell the STS's owners what
			// the operator cannot see, and nothing else.
			sawEvents = slices.Equal(r.Resources, []string{"events"}) && slices.Equal(r.Verbs, []string{"create", "patch"}) && len(r.ResourceNames) == 0
			continue
		}
		if !slices.Equal(r.Verbs, []string{"get", "list", "watch"}) {
			t.Errorf("rule %+v grants more than reading", r)
		}
		switch {
		case slices.Equal(r.APIGroups, []string{"sts.trustbroker.io"}):
			sawKinds = slices.Equal(r.Resources, []string{"securitytokenservices", "relyingparties", "trustedissuers"})
		case slices.Equal(r.Resources, []string{"configmaps"}):
			sawConfigMaps = true
		case slices.Equal(r.Resources, []string{"secrets"}):
		default:
			t.Errorf("unexpected rule %+v", r)
		}
	}
	if !sawKinds || !sawConfigMaps || !sawEvents {
		t.Errorf("rules %+v do not let the pods read the trustbroker kinds and ConfigMaps, and post events", role.Rules)
	}
	if got := secretRule(role); !slices.Equal(got, secrets) {
		t.Errorf("pods may read Secrets %v, want %v", got, secrets)
	}
}

// secretRule returns the Secret names the Role lets the pods read.
func secretRule(role *rbacv1.Role) []string {
	for _, r := range role.Rules {
		if slices.Equal(r.Resources, []string{"secrets"}) {
			if len(r.ResourceNames) == 0 {
				return []string{"<every Secret>"}
			}
			return r.ResourceNames
		}
	}
	return nil
}

func TestSecurityTokenServiceSigningKeyProblems(t *testing.T) {
	needCluster(t)
	ns := newNamespace(t, "sts-signing")
	good, goodKey, _ := makeCert(t, certSpec{cn: "signer"})
	_, otherKey, _ := makeCert(t, certSpec{key: keys.rsa2nd})
	ecCert, ecKey, _ := makeCert(t, certSpec{key: keys.ec})
	expiredAt := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	old, oldKey, _ := makeCert(t, certSpec{cn: "old", notBefore: expiredAt.AddDate(-1, 0, 0), notAfter: expiredAt})
	soon, soonKey, _ := makeCert(t, certSpec{cn: "soon", notAfter: time.Now().Add(20 * 24 * time.Hour)})

	tests := []struct {
		name       string
		secret     *corev1.Secret // nil: no Secret
		alg        stsv1alpha1.SignatureAlgorithm
		wantStatus metav1.ConditionStatus
		wantReason string
		wantInMsg  string
	}{
		{"missing", nil, "", metav1.ConditionFalse, ReasonSecretNotFound, "Secret missing-signing not found in namespace " + ns + ": create a kubernetes.io/tls Secret with tls.crt and tls.key, or fix spec.signing.secretRef.name"},
		{"mismatched", tlsSecret(ns, "mismatched-signing", good, otherKey), "", metav1.ConditionFalse, ReasonKeyPairInvalid, "does not match the first certificate"},
		{"nokey", &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "nokey-signing"}, Data: map[string][]byte{"tls.crt": good}}, "", metav1.ConditionFalse, ReasonKeyPairInvalid, "Secret nokey-signing has no key tls.key"},
		{"expired", tlsSecret(ns, "expired-signing", old, oldKey), "", metav1.ConditionFalse, stsv1alpha1.ReasonCertificateExpired, "expired at " + expiredAt.Format(time.RFC3339)},
		{"ec-with-rsa", tlsSecret(ns, "ec-with-rsa-signing", ecCert, ecKey), "rsa-sha256", metav1.ConditionFalse, ReasonKeyUnsuitable, "ecdsa-sha256"},
		{"ec", tlsSecret(ns, "ec-signing", ecCert, ecKey), "ecdsa-sha256", metav1.ConditionTrue, ReasonValid, ""},
		{"soon", tlsSecret(ns, "soon-signing", soon, soonKey), "", metav1.ConditionTrue, stsv1alpha1.ReasonCertificateExpiringSoon, "in 19 days"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.secret != nil {
				create(t, tt.secret)
			}
			sts := newSTS(ns, tt.name, tt.name+"-signing")
			sts.Spec.Signing.SignatureAlgorithm = tt.alg
			create(t, sts)
			c := waitCondition(t, sts, stsv1alpha1.ConditionSigningKeyValid, tt.wantStatus, tt.wantReason)
			if !strings.Contains(c.Message, tt.wantInMsg) {
				t.Errorf("message %q does not contain %q", c.Message, tt.wantInMsg)
			}
			if tt.wantStatus == metav1.ConditionFalse {
				ready := waitCondition(t, sts, stsv1alpha1.ConditionReady, metav1.ConditionFalse, tt.wantReason)
				if ready.Message != c.Message {
					t.Errorf("Ready message %q, want the SigningKeyValid message", ready.Message)
				}
				waitEvent(t, sts, corev1.EventTypeWarning, tt.wantReason)
			}
		})
	}

	// Creating the missing Secret is noticed without touching the STS.
	create(t, tlsSecret(ns, "missing-signing", good, goodKey))
	waitCondition(t, &stsv1alpha1.SecurityTokenService{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "missing"}},
		stsv1alpha1.ConditionSigningKeyValid, metav1.ConditionTrue, ReasonValid)
}

func ptrTo[T any](v T) *T { return &v }

// derefOr returns *p, or def when p is nil.
func derefOr[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

// TestSecurityTokenServicePKCS11SigningKey: with the key in a PKCS#11
// token the operator checks what it can see, the certificate and the PIN
// Secret, and says that the pods check the token; the CRD refuses pkcs11
// without a certificate, or beside secretRef.
func TestSecurityTokenServicePKCS11SigningKey(t *testing.T) {
	needCluster(t)
	ns := newNamespace(t, "sts-pkcs11")
	certPEM, _, _ := makeCert(t, certSpec{cn: "hsm signer"})
	sts := newSTS(ns, "hsm", "")
	sts.Spec.Signing = stsv1alpha1.SigningSpec{
		PKCS11: &stsv1alpha1.PKCS11Spec{Module: "/usr/lib/softhsm/libsofthsm2.so", TokenLabel: "sts-token", KeyLabel: "sts-signing",
			PINSecretRef: stsv1alpha1.SecretKeySelector{Name: "hsm-pin"}},
		Certificate: &stsv1alpha1.CertificateSource{PEM: string(certPEM)},
	}
	create(t, sts)
	c := waitCondition(t, sts, stsv1alpha1.ConditionSigningKeyValid, metav1.ConditionFalse, ReasonSecretNotFound)
	if !strings.Contains(c.Message, "the PIN Secret hsm-pin is not found") {
		t.Errorf("message %q does not name the PIN Secret", c.Message)
	}
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "hsm-pin"}, Data: map[string][]byte{"pin": []byte("1234")}})
	c = waitCondition(t, sts, stsv1alpha1.ConditionSigningKeyValid, metav1.ConditionTrue, ReasonValid)
	if !strings.Contains(c.Message, `its key is in PKCS#11 token "sts-token", which the STS pods open`) || strings.Contains(c.Message, "1234") {
		t.Errorf("message %q", c.Message)
	}
	var got stsv1alpha1.SecurityTokenService
	get(t, ns, "hsm", &got)
	if got.Status.SigningCertificate == nil || !strings.Contains(got.Status.SigningCertificate.Subject, "hsm signer") {
		t.Errorf("status.signingCertificate %+v, want the token key's certificate", got.Status.SigningCertificate)
	}

	for name, signing := range map[string]stsv1alpha1.SigningSpec{
		"pkcs11 without certificate": {PKCS11: sts.Spec.Signing.PKCS11},
		"pkcs11 beside secretRef":    {PKCS11: sts.Spec.Signing.PKCS11, Certificate: sts.Spec.Signing.Certificate, SecretRef: &stsv1alpha1.SecretKeySelector{Name: "x"}},
		"neither keyLabel nor keyID": {PKCS11: &stsv1alpha1.PKCS11Spec{Module: "/m.so", TokenLabel: "t", PINSecretRef: stsv1alpha1.SecretKeySelector{Name: "p"}}, Certificate: sts.Spec.Signing.Certificate},
	} {
		bad := newSTS(ns, "bad", "")
		bad.Spec.Signing = signing
		if err := cluster.client.Create(context.Background(), bad); err == nil {
			t.Errorf("%s: the API server accepted it", name)
			_ = cluster.client.Delete(context.Background(), bad)
		}
	}
}

// TestSecurityTokenServiceReplayDetectionShared: several replicas that each
// remember replays in memory accept a replay sent to another pod; the
// owner is told so, and what to set, until one replica or Redis makes every
// pod refuse what any has seen.
func TestSecurityTokenServiceReplayDetectionShared(t *testing.T) {
	needCluster(t)
	ns := newNamespace(t, "sts-replay")
	cert, key, _ := makeCert(t, certSpec{cn: "signer"})
	create(t, tlsSecret(ns, "signing", cert, key))
	sts := newSTS(ns, "farm", "signing") // the CRD's defaults: one replica, replays in memory
	create(t, sts)
	if *sts.Spec.Replicas != 1 {
		t.Fatalf("replicas default to %d, want 1", *sts.Spec.Replicas)
	}
	waitCondition(t, sts, stsv1alpha1.ConditionReplayDetectionShared, metav1.ConditionTrue, stsv1alpha1.ReasonSingleReplica)

	eventually(t, "two replicas", func() string {
		get(t, ns, "farm", sts)
		sts.Spec.Replicas = ptrTo(int32(2))
		if err := cluster.client.Update(context.Background(), sts); err != nil {
			return err.Error()
		}
		return ""
	})
	c := waitCondition(t, sts, stsv1alpha1.ConditionReplayDetectionShared, metav1.ConditionFalse, stsv1alpha1.ReasonPerPodStore)
	for _, want := range []string{"2 replicas", "replayed to another pod is accepted", "set spec.replayDetection.store.redis, or spec.replicas: 1"} {
		if !strings.Contains(c.Message, want) {
			t.Errorf("message %q does not say %q", c.Message, want)
		}
	}
	waitEvent(t, sts, corev1.EventTypeWarning, stsv1alpha1.ReasonPerPodStore)
	if ready := conditionOf(t, sts, stsv1alpha1.ConditionReady); ready == nil || ready.Reason == stsv1alpha1.ReasonPerPodStore {
		t.Errorf("Ready %v: the pods serve either way", ready)
	}

	for _, tc := range []struct {
		edit   func(*stsv1alpha1.SecurityTokenServiceSpec)
		reason string
	}{
		{func(s *stsv1alpha1.SecurityTokenServiceSpec) { s.Replicas = ptrTo(int32(1)) }, stsv1alpha1.ReasonSingleReplica},
		{func(s *stsv1alpha1.SecurityTokenServiceSpec) {
			s.Replicas = ptrTo(int32(3))
			s.ReplayDetection.Store = &stsv1alpha1.ReplayStoreSpec{Redis: &stsv1alpha1.RedisStoreSpec{Address: "redis.example:6379"}}
		}, stsv1alpha1.ReasonSharedStore},
		{func(s *stsv1alpha1.SecurityTokenServiceSpec) {
			s.ReplayDetection.Store = &stsv1alpha1.ReplayStoreSpec{Memory: &stsv1alpha1.MemoryStoreSpec{MaxEntries: 5000}}
		}, stsv1alpha1.ReasonPerPodStore},
	} {
		eventually(t, "the edit for "+tc.reason, func() string {
			get(t, ns, "farm", sts)
			tc.edit(&sts.Spec)
			if err := cluster.client.Update(context.Background(), sts); err != nil {
				return err.Error()
			}
			return ""
		})
		status := metav1.ConditionTrue
		if tc.reason == stsv1alpha1.ReasonPerPodStore {
			status = metav1.ConditionFalse
		}
		waitCondition(t, sts, stsv1alpha1.ConditionReplayDetectionShared, status, tc.reason)
	}
}

// TestSecurityTokenServicePodReports: what the STS pods report about the
// STS's settings, as the events they post (internal/source tellOwners),
// becomes PolicyLoaded and Ready: a PKCS#11 token refusing its PIN is seen
// by the pods alone. The latest report of each pod counts; a recovery
// clears it, and a report older than the pods' repeat interval is stale.
func TestSecurityTokenServicePodReports(t *testing.T) {
	needCluster(t)
	ns := newNamespace(t, "sts-reports")
	cert, key, _ := makeCert(t, certSpec{cn: "signer"})
	create(t, tlsSecret(ns, "signing", cert, key))
	sts := newSTS(ns, "corp", "signing")
	create(t, sts)
	waitCondition(t, sts, stsv1alpha1.ConditionPolicyLoaded, metav1.ConditionTrue, stsv1alpha1.ReasonLoaded)

	report := func(name, pod, eventType, reason, note string, at time.Time) {
		t.Helper()
		create(t, &eventsv1.Event{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Regarding: corev1.ObjectReference{APIVersion: stsv1alpha1.GroupVersion.String(), Kind: "SecurityTokenService",
				Namespace: ns, Name: sts.Name, UID: sts.UID},
			ReportingController: source.PodEventsController, ReportingInstance: source.PodEventsController + "-" + pod,
			Action: "Load", Type: eventType, Reason: reason, Note: note, EventTime: metav1.NewMicroTime(at),
		})
	}
	const refused = `policy not rebuilt; the last good policy stays in force: signing.pkcs11: token "sts-token" refused the PIN (CKR_PIN_INCORRECT): check the PIN Secret`
	report("stale", "corp-old", corev1.EventTypeWarning, stsv1alpha1.ReasonPolicyPartUnused, "from a pod long gone", time.Now().Add(-time.Hour))
	// Anyone who may post events could post this: a reason no pod posts,
	// which a condition may not carry, is ignored (it would fail every
	// status update).
	report("forged", "corp-xyz", corev1.EventTypeWarning, "not a reason", "forged", time.Now().Add(time.Minute))
	report("refused", "corp-abc", corev1.EventTypeWarning, stsv1alpha1.ReasonPolicyNotRebuilt, refused, time.Now())
	c := waitCondition(t, sts, stsv1alpha1.ConditionPolicyLoaded, metav1.ConditionFalse, stsv1alpha1.ReasonPolicyNotRebuilt)
	if c.Message != "pod corp-abc: "+refused {
		t.Errorf("message %q, want the pod's report", c.Message)
	}
	if ready := waitCondition(t, sts, stsv1alpha1.ConditionReady, metav1.ConditionFalse, stsv1alpha1.ReasonPolicyNotRebuilt); ready.Message != c.Message {
		t.Errorf("Ready says %q", ready.Message)
	}

	report("recovered", "corp-abc", corev1.EventTypeNormal, source.ReasonPolicyLoaded, "the policy loads without problems again", time.Now().Add(time.Second))
	waitCondition(t, sts, stsv1alpha1.ConditionPolicyLoaded, metav1.ConditionTrue, stsv1alpha1.ReasonLoaded)

	// A rollout: the replaced pod's report is taken back as it stops.
	report("refused-again", "corp-def", corev1.EventTypeWarning, stsv1alpha1.ReasonPolicyNotRebuilt, refused, time.Now().Add(2*time.Second))
	waitCondition(t, sts, stsv1alpha1.ConditionPolicyLoaded, metav1.ConditionFalse, stsv1alpha1.ReasonPolicyNotRebuilt)
	report("stopped", "corp-def", corev1.EventTypeNormal, source.ReasonPodStopped, "the pod is stopping", time.Now().Add(3*time.Second))
	waitCondition(t, sts, stsv1alpha1.ConditionPolicyLoaded, metav1.ConditionTrue, stsv1alpha1.ReasonLoaded)
}
