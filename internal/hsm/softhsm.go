//go:build pkcs11

package hsm

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/ThalesGroup/crypto11"
)

// SoftHSM is a throw-away SoftHSM2 token in a folder of its own, for tests
// and benchmarks. SoftHSM finds its tokens through the SOFTHSM2_CONF
// environment variable, read when the module is first loaded: set it to
// Conf in this process (and children) before opening the token.
type SoftHSM struct {
	Conf, Module, TokenLabel, PIN string
}

// SoftHSMModules are where Debian's softhsm2 package puts the module.
var SoftHSMModules = []string{"/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so", "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so"}

// NewSoftHSM initialises a token labelled label with user PIN pin in dir
// with softhsm2-util.
func NewSoftHSM(dir, label, pin string) (*SoftHSM, error) {
	module := ""
	for _, m := range SoftHSMModules {
		if _, err := os.Stat(m); err == nil {
			module = m
			break
		}
	}
	util, err := exec.LookPath("softhsm2-util")
	if module == "" || err != nil {
		return nil, errors.New("SoftHSM2 is not installed (Debian package softhsm2)")
	}
	tokens := filepath.Join(dir, "tokens")
	if err := os.MkdirAll(tokens, 0o700); err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	if err := os.WriteFile(conf, []byte("directories.tokendir = "+tokens+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(util, "--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", pin+"-so")
	cmd.Env = append(os.Environ(), "SOFTHSM2_CONF="+conf)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("softhsm2-util --init-token: %w: %s", err, out)
	}
	return &SoftHSM{Conf: conf, Module: module, TokenLabel: label, PIN: pin}, nil
}

// GenerateRSA makes a 2048-bit RSA key pair in the token, labelled label
// with CKA_ID id, and a self-signed certificate for it (signed in the
// token), returned as PEM. SOFTHSM2_CONF must be set to s.Conf.
func (s *SoftHSM) GenerateRSA(id []byte, label string, commonName string) (*x509.Certificate, []byte, error) {
	ctx, err := crypto11.Configure(&crypto11.Config{Path: s.Module, TokenLabel: s.TokenLabel, Pin: s.PIN})
	if err != nil {
		return nil, nil, fmt.Errorf("opening the SoftHSM token: %w", err)
	}
	defer ctx.Close()
	key, err := ctx.GenerateRSAKeyPairWithLabel(id, []byte(label), 2048)
	if err != nil {
		return nil, nil, fmt.Errorf("generating a key in the token: %w", err)
	}
	return selfSigned(key, commonName)
}

func selfSigned(key crypto.Signer, commonName string) (*x509.Certificate, []byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: commonName},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	return cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}
