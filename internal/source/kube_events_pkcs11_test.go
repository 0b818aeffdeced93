//go:build pkcs11

package source

import (
	"context"
	"os"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
	"github.com/trustbroker/trustbroker/internal/hsm"
	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/testtools"
	"github.com/trustbroker/trustbroker/internal/testtools/apiserver"
)

// TestPKCS11WrongPINShowsInEvents: the operator cannot reach the token, so
// a PIN the token refuses is told by the pods, as an event on the
// SecurityTokenService that names the token and never the PIN; once the
// PIN Secret is fixed the policy loads and the pods say so.
func TestPKCS11WrongPINShowsInEvents(t *testing.T) {
	const pin, wrongPIN = "8642-token-pin", "1357-wrong-pin"
	token, err := hsm.NewSoftHSM(t.TempDir(), "events-token", pin)
	if err != nil {
		testtools.Missing(t, "no SoftHSM token: "+err.Error())
	}
	os.Setenv("SOFTHSM2_CONF", token.Conf)
	_, certPEM, err := token.GenerateRSA([]byte{0x61}, "events-signing", "trustbroker events test")
	if err != nil {
		t.Fatal(err)
	}

	api := apiserver.Start(t)
	ctx := context.Background()
	c := api.Client
	pinSecret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: kubeNS, Name: "hsm-pin"}, StringData: map[string]string{"pin": wrongPIN}}
	sts := &stsv1alpha1.SecurityTokenService{ObjectMeta: metav1.ObjectMeta{Namespace: kubeNS, Name: "sts"}, Spec: stsv1alpha1.SecurityTokenServiceSpec{
		Issuer: "urn:test:sts", Endpoint: "https://sts.example.com/sts",
		Signing: stsv1alpha1.SigningSpec{
			PKCS11: &stsv1alpha1.PKCS11Spec{Module: token.Module, TokenLabel: token.TokenLabel, KeyLabel: "events-signing",
				PINSecretRef: stsv1alpha1.SecretKeySelector{Name: "hsm-pin"}},
			Certificate: &stsv1alpha1.CertificateSource{PEM: string(certPEM)},
		},
	}}
	for _, o := range []client.Object{pinSecret, sts} {
		if err := c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	_, holder := runKubeSource(t, api, 0, func(k *KubeSource) { k.TellOwners = true })

	e := waitOwnerEvent(t, c, stsv1alpha1.ReasonPolicyNotRebuilt)
	if e.Type != corev1.EventTypeWarning || !strings.Contains(e.Note, "refused the PIN") || !strings.Contains(e.Note, `"events-token"`) {
		t.Errorf("event %s %q, want a Warning saying the token refused the PIN", e.Type, e.Note)
	}
	if strings.Contains(e.Note, wrongPIN) || strings.Contains(e.Note, pin) {
		t.Errorf("the event quotes a PIN: %q", e.Note)
	}

	pinSecret.StringData = map[string]string{"pin": pin}
	if err := c.Update(ctx, pinSecret); err != nil {
		t.Fatal(err)
	}
	eventually(t, holder, "the policy loads with the right PIN", func(*policy.Snapshot) bool { return true })
	if e := waitOwnerEvent(t, c, ReasonPolicyLoaded); e.Type != corev1.EventTypeNormal {
		t.Errorf("recovery event is %s", e.Type)
	}
}
