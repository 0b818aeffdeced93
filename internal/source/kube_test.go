package source

import (
	"context"
	"crypto/x509"
	"slices"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
	"github.com/trustbroker/trustbroker/internal/devkeys"
	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/testtools/apiserver"
)

const kubeNS = "default"

func tlsSecret(t *testing.T, name string) (*corev1.Secret, *devkeys.Pair) {
	t.Helper()
	pair, err := devkeys.NewRSA(name, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: kubeNS, Name: name},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{"tls.crt": pair.CertPEM, "tls.key": pair.KeyPEM},
	}, pair
}

// eventually waits for the published snapshot to satisfy cond.
func eventually(t *testing.T, h *policy.Holder, what string, cond func(*policy.Snapshot) bool) *policy.Snapshot {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if s := h.Load(); s != nil && cond(s) {
			return s
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting until %s", what)
	return nil
}

// runKubeSource follows the API server for the "sts" SecurityTokenService
// until the test ends (resync 0: the default).
func runKubeSource(t *testing.T, api *apiserver.Server, resync time.Duration, opts ...func(*KubeSource)) (*KubeSource, *policy.Holder) {
	t.Helper()
	holder := &policy.Holder{}
	src := &KubeSource{Config: api.Config, Namespace: kubeNS, Builder: &Builder{STS: Key(kubeNS, "sts")}, Holder: holder, Log: testr.New(t), Resync: resync}
	for _, o := range opts {
		o(src)
	}
	ctx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	go func() {
		if err := src.Run(ctx); err != nil {
			t.Error(err)
		}
	}()
	return src, holder
}

func TestKubeSourceFollowsTheAPI(t *testing.T) {
	api := apiserver.Start(t)
	ctx := context.Background()
	c := api.Client
	signing, firstKey := tlsSecret(t, "signing")
	objects := []client.Object{
		signing,
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: kubeNS, Name: "users"},
			StringData: map[string]string{"users.yaml": "- {username: alice, password: pw, roles: [admin]}\n"}},
		&stsv1alpha1.SecurityTokenService{ObjectMeta: metav1.ObjectMeta{Namespace: kubeNS, Name: "sts"}, Spec: stsv1alpha1.SecurityTokenServiceSpec{
			Issuer: "urn:test:sts", Endpoint: "https://sts.example.com/sts",
			Signing: stsv1alpha1.SigningSpec{SecretRef: &stsv1alpha1.SecretKeySelector{Name: "signing"}},
			Authentication: stsv1alpha1.AuthenticationSpec{UsernameToken: &stsv1alpha1.UsernameTokenSpec{
				Enabled: true, AllowPasswordText: true, UserStore: &stsv1alpha1.UserStoreSpec{SecretRef: &stsv1alpha1.SecretKeySelector{Name: "users"}}}},
		}},
		&stsv1alpha1.RelyingParty{ObjectMeta: metav1.ObjectMeta{Namespace: kubeNS, Name: "app"}, Spec: stsv1alpha1.RelyingPartySpec{
			STSRef: stsv1alpha1.LocalObjectReference{Name: "sts"}, Endpoint: "urn:test:app",
			Attributes: []stsv1alpha1.AttributeMapping{{Name: "mail", From: "mail"}},
		}},
	}
	for _, o := range objects {
		if err := c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}

	_, holder := runKubeSource(t, api, 0)

	snap := eventually(t, holder, "the relying party is loaded", func(s *policy.Snapshot) bool {
		_, ok := s.RelyingPartyFor("urn:test:app")
		return ok
	})
	if rp, _ := snap.RelyingPartyFor("urn:test:app"); rp.TokenType != policy.SAML20 || !rp.AllowsKeyType(policy.Bearer) {
		t.Errorf("API defaults not seen: %+v", rp)
	}

	// A changed relying party is honoured.
	var rp stsv1alpha1.RelyingParty
	if err := c.Get(ctx, client.ObjectKey{Namespace: kubeNS, Name: "app"}, &rp); err != nil {
		t.Fatal(err)
	}
	rp.Spec.Attributes = append(rp.Spec.Attributes, stsv1alpha1.AttributeMapping{Name: "dept", From: "department"})
	if err := c.Update(ctx, &rp); err != nil {
		t.Fatal(err)
	}
	eventually(t, holder, "the new attribute mapping is loaded", func(s *policy.Snapshot) bool {
		rp, ok := s.RelyingPartyFor("urn:test:app")
		return ok && len(rp.Attributes) == 2
	})

	// A rotated signing Secret is used, with no restart.
	rotated, secondKey := tlsSecret(t, "signing")
	if err := c.Update(ctx, rotated); err != nil {
		t.Fatal(err)
	}
	eventually(t, holder, "the rotated signing key is loaded", func(s *policy.Snapshot) bool {
		return s.STS.Signing.Chain[0].Equal(secondKey.Cert) && !s.STS.Signing.Chain[0].Equal(firstKey.Cert)
	})

	// A broken signing Secret keeps the last good signing key.
	before := holder.Load()
	broken := rotated.DeepCopy()
	broken.Data = map[string][]byte{"tls.crt": []byte("garbage"), "tls.key": []byte("garbage")}
	if err := c.Update(ctx, broken); err != nil {
		t.Fatal(err)
	}
	snap = eventually(t, holder, "the broken Secret is seen", func(s *policy.Snapshot) bool { return s != before })
	if !snap.STS.Signing.Chain[0].Equal(secondKey.Cert) {
		t.Fatal("a broken signing Secret replaced the signing key")
	}

	// Mended, and with a relying party deleted, the policy moves on.
	if err := c.Get(ctx, client.ObjectKey{Namespace: kubeNS, Name: "signing"}, broken); err != nil {
		t.Fatal(err)
	}
	broken.Data = rotated.Data
	if err := c.Update(ctx, broken); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, &rp); err != nil {
		t.Fatal(err)
	}
	eventually(t, holder, "the deleted relying party is gone", func(s *policy.Snapshot) bool {
		_, ok := s.RelyingPartyFor("urn:test:app")
		return !ok
	})

	// The API server going away leaves the last policy in force.
	last := holder.Load()
	if err := api.Stop(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if got := holder.Load(); got != last || !slices.ContainsFunc(got.STS.Signing.Chain, func(c *x509.Certificate) bool { return c.Equal(secondKey.Cert) }) {
		t.Fatal("the policy changed after the API server went away")
	}
}
