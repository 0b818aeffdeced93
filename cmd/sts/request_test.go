package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trustbroker/trustbroker/internal/testfixture"
)

// TestRequestCommand runs `sts request` against a running STS, as the
// README's quickstart does, with a password and with a signing certificate.
func TestRequestCommand(t *testing.T) {
	sts := testfixture.StartSTS(t, nil)
	var out strings.Builder
	err := request([]string{"--endpoint", sts.URL, "--username", "alice", "--password", "alice-password",
		"--applies-to", "https://localhost:9444/services/echo", "--soap", "1.1", "--trust", "2005"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "<saml2:Assertion") || !strings.Contains(out.String(), "alice@example.com") {
		t.Errorf("printed:\n%s", out.String())
	}

	err = request([]string{"--endpoint", sts.URL, "--username", "alice", "--password", "wrong", "--applies-to", "https://localhost:9444/services/echo"}, &out)
	if err == nil || !strings.Contains(err.Error(), "credentials could not be verified") {
		t.Errorf("wrong password: err = %v, want the fault's reason", err)
	}

	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	_ = os.WriteFile(certFile, sts.Signing.CertPEM, 0o600)
	if err := request([]string{"--endpoint", sts.URL, "--cert", certFile}, &out); err == nil || !strings.Contains(err.Error(), "--cert and --key go together") {
		t.Errorf("--cert alone: err = %v", err)
	}
	_ = os.WriteFile(keyFile, sts.Signing.KeyPEM, 0o600)
	// Signed with a certificate the STS does not trust for X.509: the
	// request reaches the STS signed and is refused there, by name.
	err = request([]string{"--endpoint", sts.URL, "--cert", certFile, "--key", keyFile, "--applies-to", "urn:example:portal"}, &out)
	if err == nil || !strings.Contains(err.Error(), "X.509 signed requests are not enabled") {
		t.Errorf("signed request: err = %v", err)
	}
}

// TestDevKey makes a key once and keeps it; the certificate can be written
// again from the kept key.
func TestDevKey(t *testing.T) {
	dir := t.TempDir()
	out, cert := filepath.Join(dir, "signing.key.yaml"), filepath.Join(dir, "sts.crt")
	if err := devKey([]string{"--name", "dev", "--out", out, "--cert-out", cert}); err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(out)
	firstCert, _ := os.ReadFile(cert)
	os.Remove(cert)
	if err := devKey([]string{"--name", "dev", "--out", out, "--cert-out", cert}); err != nil {
		t.Fatal(err)
	}
	again, _ := os.ReadFile(out)
	againCert, _ := os.ReadFile(cert)
	if string(first) != string(again) || string(firstCert) != string(againCert) || !strings.Contains(string(againCert), "BEGIN CERTIFICATE") {
		t.Error("the kept key or its certificate changed")
	}
}
