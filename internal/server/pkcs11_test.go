//go:build pkcs11

package server_test

import (
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trustbroker/trustbroker/internal/client"
	"github.com/trustbroker/trustbroker/internal/hsm"
	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/saml"
	"github.com/trustbroker/trustbroker/internal/source"
	"github.com/trustbroker/trustbroker/internal/testfixture"
	"github.com/trustbroker/trustbroker/internal/testtools"
)

const (
	hsmPIN   = "8642-token-pin"
	hsmLabel = "sts-signing"
)

// softHSM is one token for the package: SoftHSM reads SOFTHSM2_CONF once,
// when the module is first loaded in the process.
var softHSM struct {
	once    sync.Once
	token   *hsm.SoftHSM
	cert    *x509.Certificate
	certPEM []byte
	err     error
}

func hsmToken(t *testing.T) (*hsm.SoftHSM, *x509.Certificate, []byte) {
	t.Helper()
	softHSM.once.Do(func() {
		dir, err := os.MkdirTemp("", "softhsm-")
		if err != nil {
			softHSM.err = err
			return
		}
		if softHSM.token, softHSM.err = hsm.NewSoftHSM(dir, "sts-token", hsmPIN); softHSM.err != nil {
			return
		}
		os.Setenv("SOFTHSM2_CONF", softHSM.token.Conf)
		softHSM.cert, softHSM.certPEM, softHSM.err = softHSM.token.GenerateRSA([]byte{0x51}, hsmLabel, "trustbroker HSM signing")
	})
	if softHSM.token == nil {
		testtools.Missing(t, fmt.Sprintf("no SoftHSM token: %v", softHSM.err))
	}
	if softHSM.err != nil {
		t.Fatal(softHSM.err)
	}
	return softHSM.token, softHSM.cert, softHSM.certPEM
}

// pkcs11Manifests is the sample STS signing with the token's key, and the
// PIN Secret.
func pkcs11Manifests(t *testing.T, keyLabel, pin string) map[string]string {
	token, _, certPEM := hsmToken(t)
	signing := fmt.Sprintf("  signing:\n    pkcs11:\n      module: %s\n      tokenLabel: %s\n      keyLabel: %s\n      pinSecretRef: {name: hsm-pin}\n    certificate:\n      pem: |\n        %s\n",
		token.Module, token.TokenLabel, keyLabel, strings.ReplaceAll(strings.TrimSpace(string(certPEM)), "\n", "\n        "))
	m := stsManifest(t, "  signing:\n    secretRef:\n      name: dev-sts-signing\n", signing)
	m["hsm-pin.yaml"] = pinSecret(pin)
	return m
}

func pinSecret(pin string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata: {name: hsm-pin}\nstringData:\n  pin: %q\n", pin)
}

// TestPKCS11SigningKey: tokens signed in the token verify with xmlsec1,
// also when many requests sign at once. A PIN the token refuses, or a key
// it does not have, is logged (never the PIN) and the last good key goes
// on signing; an STS that starts so cannot load.
func TestPKCS11SigningKey(t *testing.T) {
	_, cert, certPEM := hsmToken(t)
	sts := testfixture.StartSTS(t, pkcs11Manifests(t, hsmLabel, hsmPIN))
	certFile := filepath.Join(t.TempDir(), "hsm.crt")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	alice := client.Request{Username: "alice", Password: "alice-password", AppliesTo: echoService}
	verifiedAssertion(t, certFile, issueOK(t, sts, alice), saml.SAML20)
	if got := sts.Source.Holder.Load().STS.Signing.Chain[0]; !got.Equal(cert) {
		t.Fatalf("signing certificate %s, want the token's", got.Subject)
	}

	t.Run("concurrent requests", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for range 16 {
			wg.Go(func() {
				for range 4 {
					r := alice
					r.Endpoint, r.Now = sts.URL, time.Now()
					status, body, err := r.Do(http.DefaultClient)
					if err == nil && status != http.StatusOK {
						err = fmt.Errorf("status %d: %s", status, body)
					}
					if err != nil {
						errs <- err
						return
					}
					token, err := client.Token(body)
					if err == nil {
						verifyWithXmlsec1(t, certFile, token, saml.SAML20)
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})

	for _, tc := range []struct {
		name, keyLabel, pin, logged string
	}{
		{"wrong PIN", hsmLabel, "1111-wrong-pin", `refused the PIN (CKR_PIN_INCORRECT)`},
		{"missing key", "no-such-key", hsmPIN, `no private key with label \"no-such-key\" in token \"sts-token\"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for name, m := range pkcs11Manifests(t, tc.keyLabel, tc.pin) {
				sts.WriteManifest(t, name, m)
			}
			if err := sts.Source.Load(); err != nil {
				t.Fatalf("a reload with a broken signing key failed: %v", err)
			}
			logs := sts.Logs.String()
			if !strings.Contains(logs, tc.logged) || !strings.Contains(logs, "the last good signing key stays in use") {
				t.Errorf("the log does not say %s and that the last good key stays in use:\n%s", tc.logged, logs)
			}
			if strings.Contains(logs, hsmPIN) || strings.Contains(logs, "1111-wrong-pin") {
				t.Error("the log shows a PIN")
			}
			verifiedAssertion(t, certFile, issueOK(t, sts, alice), saml.SAML20)

			// An STS that starts with it has no key to sign with.
			fresh := t.TempDir()
			for _, e := range must(os.ReadDir(sts.Dir)) {
				if !strings.HasPrefix(e.Name(), ".") {
					data := must(os.ReadFile(filepath.Join(sts.Dir, e.Name())))
					if err := os.WriteFile(filepath.Join(fresh, e.Name()), data, 0o600); err != nil {
						t.Fatal(err)
					}
				}
			}
			src := *sts.Source
			src.Dir, src.Holder, src.Builder = fresh, &policy.Holder{}, &source.Builder{}
			err := src.Load()
			if err == nil || !strings.Contains(err.Error(), strings.ReplaceAll(tc.logged, `\"`, `"`)) {
				t.Errorf("a first load with it: %v, want an error saying %s", err, tc.logged)
			}
			if err != nil && (strings.Contains(err.Error(), hsmPIN) || strings.Contains(err.Error(), "1111-wrong-pin")) {
				t.Error("the error shows a PIN")
			}

			for name, m := range pkcs11Manifests(t, hsmLabel, hsmPIN) {
				sts.WriteManifest(t, name, m)
			}
			if err := sts.Source.Load(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
