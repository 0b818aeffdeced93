package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
)

// operatorCache is the cache of the manager the tests run.
var operatorCache *recordingCache

// recordingCache is the manager's cache, noting the Go type and kind of
// everything asked of it: what the operator caches.
type recordingCache struct {
	cache.Cache
	scheme *runtime.Scheme
	mu     sync.Mutex
	asked  map[string]bool // "<Go type> <kind>"
}

func newRecordingCache(cfg *rest.Config, opts cache.Options) (cache.Cache, error) {
	c, err := cache.New(cfg, opts)
	if err != nil {
		return nil, err
	}
	operatorCache = &recordingCache{Cache: c, scheme: opts.Scheme, asked: map[string]bool{}}
	return operatorCache, nil
}

func (c *recordingCache) note(obj runtime.Object) {
	kind := "?"
	if gvk, err := apiutil.GVKForObject(obj, c.scheme); err == nil {
		kind = gvk.Kind
	}
	c.noteKind(fmt.Sprintf("%T", obj), kind)
}

func (c *recordingCache) noteKind(typ, kind string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.asked[typ+" "+strings.TrimSuffix(kind, "List")] = true
}

func (c *recordingCache) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	c.note(obj)
	return c.Cache.Get(ctx, key, obj, opts...)
}

func (c *recordingCache) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	c.note(list)
	return c.Cache.List(ctx, list, opts...)
}

func (c *recordingCache) GetInformer(ctx context.Context, obj client.Object, opts ...cache.InformerGetOption) (cache.Informer, error) {
	c.note(obj)
	return c.Cache.GetInformer(ctx, obj, opts...)
}

func (c *recordingCache) GetInformerForKind(ctx context.Context, gvk schema.GroupVersionKind, opts ...cache.InformerGetOption) (cache.Informer, error) {
	c.noteKind("kind", gvk.Kind)
	return c.Cache.GetInformerForKind(ctx, gvk, opts...)
}

// askedFor lists what was asked of the cache about a kind.
func (c *recordingCache) askedFor(kind string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for k := range c.asked {
		if strings.HasSuffix(k, " "+kind) {
			out = append(out, strings.TrimSuffix(k, " "+kind))
		}
	}
	return out
}

// TestSecretsAndConfigMapsCachedAsMetadata shows that the reconcilers still
// follow changes of the Secrets and ConfigMaps resources name, while the
// manager's cache holds only their metadata: its informers for them are
// metadata informers, and nothing asked it for a whole Secret or ConfigMap.
func TestSecretsAndConfigMapsCachedAsMetadata(t *testing.T) {
	needCluster(t)
	ctx := context.Background()
	ns := newNamespace(t, "metadata-cache")

	// The signing Secret appears, then is replaced by another key pair.
	sts := newSTS(ns, "corp-sts", "corp-sts-signing")
	create(t, sts)
	waitCondition(t, sts, stsv1alpha1.ConditionSigningKeyValid, metav1.ConditionFalse, ReasonSecretNotFound)
	certA, keyA, a := makeCert(t, certSpec{cn: "signing-a"})
	signing := tlsSecret(ns, "corp-sts-signing", certA, keyA)
	create(t, signing)
	waitFingerprint(t, sts, certificateInfo(a).SHA256Fingerprint)
	testKeys(t)
	certB, keyB, b := makeCert(t, certSpec{cn: "signing-b", key: keys.rsa2nd})
	signing.Data = map[string][]byte{corev1.TLSCertKey: certB, corev1.TLSPrivateKeyKey: keyB}
	if err := cluster.client.Update(ctx, signing); err != nil {
		t.Fatal(err)
	}
	waitFingerprint(t, sts, certificateInfo(b).SHA256Fingerprint)

	// A relying party's encryption certificate in a ConfigMap expires.
	valid, _, _ := makeCert(t, certSpec{cn: "orders"})
	expiredAt := time.Now().Add(-time.Hour)
	expired, _, _ := makeCert(t, certSpec{cn: "orders", notBefore: expiredAt.AddDate(-1, 0, 0), notAfter: expiredAt})
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "orders-cert"}, Data: map[string]string{"ca.crt": string(valid)}}
	create(t, cm)
	rp := newRP(ns, "orders", "corp-sts", "https://orders.example.com/")
	rp.Spec.Encryption = &stsv1alpha1.EncryptionSpec{Enabled: true, Certificate: &stsv1alpha1.CertificateSource{
		ConfigMapRef: &stsv1alpha1.ConfigMapKeySelector{Name: "orders-cert"}}}
	create(t, rp)
	waitCondition(t, rp, stsv1alpha1.ConditionCertificateValid, metav1.ConditionTrue, ReasonValid)
	cm.Data["ca.crt"] = string(expired)
	if err := cluster.client.Update(ctx, cm); err != nil {
		t.Fatal(err)
	}
	waitCondition(t, rp, stsv1alpha1.ConditionCertificateValid, metav1.ConditionFalse, stsv1alpha1.ReasonCertificateExpired)

	// The informers hold metadata, the objects above among them.
	for kind, name := range map[string]string{"Secret": signing.Name, "ConfigMap": cm.Name} {
		meta := &metav1.PartialObjectMetadata{}
		meta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind(kind))
		inf, err := operatorCache.GetInformer(ctx, meta)
		if err != nil {
			t.Fatal(err)
		}
		store := inf.(interface{ GetStore() toolscache.Store }).GetStore()
		found := false
		for _, o := range store.List() {
			m, ok := o.(*metav1.PartialObjectMetadata)
			if !ok {
				t.Fatalf("the %s informer holds a %T", kind, o)
			}
			found = found || (m.Namespace == ns && m.Name == name)
		}
		if !found {
			t.Errorf("the %s informer lacks %s/%s", kind, ns, name)
		}
		asked := operatorCache.askedFor(kind)
		if !slices.Contains(asked, "*v1.PartialObjectMetadata") {
			t.Errorf("the watches asked the cache for %s as %v, not as metadata", kind, asked)
		}
		for _, typ := range asked {
			if typ != "*v1.PartialObjectMetadata" && typ != "*v1.PartialObjectMetadataList" {
				t.Errorf("the cache was asked for %s as %s: it caches them in full", kind, typ)
			}
		}
	}
}

// waitFingerprint waits until the STS reports the signing certificate.
func waitFingerprint(t *testing.T, sts *stsv1alpha1.SecurityTokenService, want string) {
	t.Helper()
	eventually(t, "status.signingCertificate of "+sts.Name, func() string {
		if err := cluster.client.Get(context.Background(), client.ObjectKeyFromObject(sts), sts); err != nil {
			return err.Error()
		}
		if c := sts.Status.SigningCertificate; c == nil || c.SHA256Fingerprint != want {
			return fmt.Sprintf("is %+v, want fingerprint %s", c, want)
		}
		return ""
	})
}
