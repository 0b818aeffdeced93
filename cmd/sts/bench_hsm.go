//go:build pkcs11

package main

import (
	"flag"
	"fmt"
	"os"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
	"github.com/trustbroker/trustbroker/internal/client"
	"github.com/trustbroker/trustbroker/internal/hsm"
	"github.com/trustbroker/trustbroker/internal/source"
)

// hsmBench adds rows for a signing key in a throw-away SoftHSM2 token, in
// builds with PKCS#11 support.
type hsmBench struct{ softHSM *bool }

func addHSMFlags(fs *flag.FlagSet) hsmBench {
	return hsmBench{softHSM: fs.Bool("softhsm", true, "add rows for a signing key in a throw-away SoftHSM2 token, beside its bare PKCS#11 signature")}
}

const benchPIN = "bench-pin-1234"

// rows starts an STS signing through a new SoftHSM2 token and returns its
// rows, measured against the bare PKCS#11 signature with the same key (and
// the Go and OpenSSL ones of floors).
func (h hsmBench) rows(b *benchRun, ut, signed client.Request, floors []*floor) ([]*benchRow, *floor, error) {
	if !*h.softHSM {
		return nil, nil, nil
	}
	dir, err := os.MkdirTemp("", "sts-bench-softhsm-")
	if err != nil {
		return nil, nil, err
	}
	b.dirs = append(b.dirs, dir)
	token, err := hsm.NewSoftHSM(dir, "bench-token", benchPIN)
	if err != nil {
		return nil, nil, err
	}
	// SoftHSM finds the token through the environment, here and in the
	// STS bench starts.
	os.Setenv("SOFTHSM2_CONF", token.Conf)
	cert, certPEM, err := token.GenerateRSA([]byte{0x01}, "bench-signing", "bench PKCS#11 signing")
	if err != nil {
		return nil, nil, err
	}
	key, err := hsm.Open(hsm.Config{Module: token.Module, TokenLabel: token.TokenLabel, KeyLabel: "bench-signing", PIN: benchPIN, Certificate: cert})
	if err != nil {
		return nil, nil, err
	}
	srv, _, err := b.start(func(objs *source.Objects) error {
		sts := objs.SecurityTokenServices[0]
		pin := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "bench-hsm-pin", Namespace: sts.Namespace}, Data: map[string][]byte{"pin": []byte(benchPIN)}}
		objs.Secrets[source.Key(pin.Namespace, pin.Name)] = pin
		sts.Spec.Signing.SecretRef = nil
		sts.Spec.Signing.PKCS11 = &stsv1alpha1.PKCS11Spec{Module: token.Module, TokenLabel: token.TokenLabel, KeyLabel: "bench-signing",
			PINSecretRef: stsv1alpha1.SecretKeySelector{Name: pin.Name}}
		sts.Spec.Signing.Certificate = &stsv1alpha1.CertificateSource{PEM: string(certPEM)}
		return nil
	}, b.profileArgs(".pkcs11")...)
	if err != nil {
		return nil, nil, fmt.Errorf("STS signing through SoftHSM2: %w", err)
	}
	p11 := signerFloor("x PKCS#11", "PKCS#11 RSA-2048 (SoftHSM2)", key)
	rowFloors := append([]*floor{p11}, floors...)
	rows := []*benchRow{{name: "UsernameToken, SAML bearer, PKCS#11", req: ut, srv: srv, floors: rowFloors, goFloor: floors[0]}}
	if signed.AppliesTo != "" {
		rows = append(rows, &benchRow{name: "X.509-signed, SAML bearer, PKCS#11", req: signed, srv: srv, floors: rowFloors, goFloor: floors[0]})
	}
	return rows, p11, nil
}
