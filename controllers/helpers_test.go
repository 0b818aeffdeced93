package controllers

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
)

// keys are generated once per process: RSA generation is slow.
var keys struct {
	once            sync.Once
	rsa2048, rsa2nd *rsa.PrivateKey
	rsa1024         *rsa.PrivateKey
	ec              *ecdsa.PrivateKey
}

func testKeys(t *testing.T) {
	t.Helper()
	keys.once.Do(func() {
		rsaKey := func(bits int) *rsa.PrivateKey {
			k, err := rsa.GenerateKey(rand.Reader, bits)
			if err != nil {
				panic(err)
			}
			return k
		}
		keys.rsa2048, keys.rsa2nd, keys.rsa1024 = rsaKey(2048), rsaKey(2048), rsaKey(1024)
		var err error
		if keys.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
	})
}

// certSpec describes a test certificate.
type certSpec struct {
	cn        string
	key       crypto.Signer // default: the shared RSA 2048 key
	notBefore time.Time     // default: an hour ago
	notAfter  time.Time     // default: a year from now
	keyUsage  x509.KeyUsage
}

// makeCert returns a self-signed certificate and its key, both PEM.
func makeCert(t *testing.T, s certSpec) (certPEM, keyPEM []byte, cert *x509.Certificate) {
	t.Helper()
	testKeys(t)
	if s.key == nil {
		s.key = keys.rsa2048
	}
	if s.cn == "" {
		s.cn = "test"
	}
	now := time.Now()
	if s.notBefore.IsZero() {
		s.notBefore = now.Add(-time.Hour)
	}
	if s.notAfter.IsZero() {
		s.notAfter = now.Add(365 * 24 * time.Hour)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: s.cn, Organization: []string{"Example"}},
		NotBefore:    s.notBefore.Truncate(time.Second),
		NotAfter:     s.notAfter.Truncate(time.Second),
		KeyUsage:     s.keyUsage,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, s.key.Public(), s.key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err = x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(s.key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), cert
}

// newNamespace creates a namespace for one test run, named prefix-<random>
// so that -count=N runs do not collide (envtest never deletes namespaces).
func newNamespace(t *testing.T, prefix string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"}}
	if err := cluster.client.Create(context.Background(), ns); err != nil {
		t.Fatalf("creating a namespace %s-*: %v", prefix, err)
	}
	return ns.Name
}

// create creates an object or fails the test.
func create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := cluster.client.Create(context.Background(), obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

// tlsSecret is a kubernetes.io/tls Secret.
func tlsSecret(ns, name string, certPEM, keyPEM []byte) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{corev1.TLSCertKey: certPEM, corev1.TLSPrivateKeyKey: keyPEM},
	}
}

// newSTS is a minimal SecurityTokenService signing with the named Secret.
func newSTS(ns, name, signingSecret string) *stsv1alpha1.SecurityTokenService {
	return &stsv1alpha1.SecurityTokenService{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: stsv1alpha1.SecurityTokenServiceSpec{
			Issuer:   "https://sts.example.com/trust",
			Endpoint: "https://sts.example.com/sts",
			Signing:  stsv1alpha1.SigningSpec{SecretRef: &stsv1alpha1.SecretKeySelector{Name: signingSecret}},
		},
	}
}

// newRP is a relying party of an STS without encryption.
func newRP(ns, name, sts, endpoint string) *stsv1alpha1.RelyingParty {
	return &stsv1alpha1.RelyingParty{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: stsv1alpha1.RelyingPartySpec{
			STSRef:   stsv1alpha1.LocalObjectReference{Name: sts},
			Endpoint: endpoint,
		},
	}
}

// conditionOf reads an object afresh and returns one of its conditions.
func conditionOf(t *testing.T, obj client.Object, typ string) *metav1.Condition {
	t.Helper()
	if err := cluster.client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
		t.Fatalf("reading %s: %v", obj.GetName(), err)
	}
	var conds []metav1.Condition
	switch o := obj.(type) {
	case *stsv1alpha1.SecurityTokenService:
		conds = o.Status.Conditions
	case *stsv1alpha1.RelyingParty:
		conds = o.Status.Conditions
	case *stsv1alpha1.TrustedIssuer:
		conds = o.Status.Conditions
	}
	return meta.FindStatusCondition(conds, typ)
}

// waitCondition waits until the object's condition has the status and
// reason, and returns it.
func waitCondition(t *testing.T, obj client.Object, typ string, status metav1.ConditionStatus, reason string) metav1.Condition {
	t.Helper()
	var got metav1.Condition
	eventually(t, obj.GetName()+" "+typ, func() string {
		c := conditionOf(t, obj, typ)
		if c == nil {
			return "no condition yet"
		}
		got = *c
		if c.Status != status || c.Reason != reason {
			return "is " + string(c.Status) + "/" + c.Reason + ": " + c.Message + ", want " + string(status) + "/" + reason
		}
		return ""
	})
	return got
}

// waitEvent waits for an event about the object with the type and reason,
// and returns its note.
func waitEvent(t *testing.T, obj client.Object, eventType, reason string) string {
	t.Helper()
	var note string
	eventually(t, "event "+reason+" for "+obj.GetName(), func() string {
		var list eventsv1.EventList
		if err := cluster.client.List(context.Background(), &list, client.InNamespace(obj.GetNamespace())); err != nil {
			return err.Error()
		}
		for _, e := range list.Items {
			if e.Regarding.Name == obj.GetName() && e.Regarding.UID == obj.GetUID() && e.Type == eventType && e.Reason == reason {
				note = e.Note
				return ""
			}
		}
		return "not recorded"
	})
	return note
}

// kubectl runs the real kubectl against the test API server.
func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(cluster.kubectl, append([]string{"--kubeconfig", cluster.kubeconfig}, args...)...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// key is the namespaced name of an object in a namespace.
func key(ns, name string) types.NamespacedName {
	return types.NamespacedName{Namespace: ns, Name: name}
}
