// Package testfixture gives tests a running STS: a copy of the standalone
// sample folder with a fresh signing key, served in-process over HTTP.
package testfixture

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/trustbroker/trustbroker/internal/devkeys"
	"github.com/trustbroker/trustbroker/internal/issuer"
	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/server"
	"github.com/trustbroker/trustbroker/internal/source"
	"github.com/trustbroker/trustbroker/internal/testtools"
)

// STS is a standalone STS serving a temp copy of config/samples/standalone.
type STS struct {
	// Dir is the manifests folder; WriteManifest changes it.
	Dir string
	// URL is the endpoint, e.g. http://127.0.0.1:PORT/sts.
	URL string
	// CertFile is the signing certificate as a PEM file, to verify tokens with.
	CertFile string
	Signing  *devkeys.Pair
	Source   *source.FolderSource
	Server   *server.Server
	// Registry holds the server's metrics.
	Registry *prometheus.Registry
	// Logs holds every log and audit line the STS wrote.
	Logs *LogBuffer
}

// LogBuffer collects log lines; safe for concurrent use.
type LogBuffer struct {
	mu    sync.Mutex
	lines []string
}

// String returns every line so far, one per line.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.lines, "\n")
}

func (b *LogBuffer) add(line string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lines = append(b.lines, line)
}

// StartSTS serves a fresh copy of the standalone samples, with extra
// manifests (file name → YAML) added, until the test ends.
func StartSTS(t testing.TB, extra map[string]string) *STS {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(testtools.RepoRoot(t), "config", "samples", "standalone")
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	s := &STS{Dir: dir}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".key.yaml") || !strings.HasSuffix(e.Name(), ".yaml") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		s.WriteManifest(t, e.Name(), string(data))
	}
	if s.Signing, err = devkeys.NewRSA("test-sts", time.Now(), 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	s.WriteManifest(t, "signing.key.yaml", string(s.Signing.SecretYAML("dev-sts-signing")))
	s.CertFile = filepath.Join(dir, ".signing.crt")
	if err := os.WriteFile(s.CertFile, s.Signing.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, manifest := range extra {
		s.WriteManifest(t, name, manifest)
	}

	folder, err := source.NewFolder()
	if err != nil {
		t.Fatal(err)
	}
	s.Logs = &LogBuffer{}
	verbose := testing.Verbose()
	log := funcr.New(func(prefix, args string) {
		s.Logs.add(prefix + " " + args)
		if verbose {
			t.Log(prefix, args)
		}
	}, funcr.Options{Verbosity: 1})
	holder := &policy.Holder{}
	s.Source = &source.FolderSource{Dir: dir, Folder: folder, Builder: &source.Builder{}, Holder: holder, Log: log}
	if err := s.Source.Load(); err != nil {
		t.Fatal(err)
	}
	s.Registry = prometheus.NewRegistry()
	// The in-memory stores are sized as the manifest says, as sts serve
	// sizes them: a benchmark sends more signed requests than a test.
	memory := server.NewMemoryStores(holder.Load().STS.Replay.MaxEntries, time.Now)
	s.Server = &server.Server{
		Policy:  holder,
		Issuer:  &issuer.Issuer{Log: log},
		Replay:  &server.ReplayStores{Memory: memory, Log: log},
		Now:     time.Now,
		Log:     log,
		Audit:   log,
		Metrics: server.NewMetrics(s.Registry, holder),
	}
	hs := httptest.NewServer(s.Server.Handler())
	t.Cleanup(hs.Close)
	s.URL = hs.URL + "/sts"
	return s
}

// WriteManifest replaces a manifest atomically, as editors and kubectl-like
// tools do. Call Source.Load (or run Source.Watch) to apply it.
func (s *STS) WriteManifest(t testing.TB, name, content string) {
	t.Helper()
	tmp := filepath.Join(s.Dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(s.Dir, name)); err != nil {
		t.Fatal(err)
	}
}

// ServeTLS serves the STS over TLS too, until the test ends, with its
// endpoint set to https://127.0.0.1:PORT/sts so that its metadata sends
// clients there. It returns that base URL (without /sts) and a PEM file of
// the certificate clients must trust.
func (s *STS) ServeTLS(t testing.TB) (base, caFile string) {
	t.Helper()
	ca, leaf := tlsCertificates(t)
	hs := httptest.NewUnstartedServer(s.Server.Handler())
	hs.TLS = &tls.Config{Certificates: []tls.Certificate{leaf}}
	hs.StartTLS()
	t.Cleanup(hs.Close)
	caFile = filepath.Join(s.Dir, ".tls-ca.crt")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	s.SetEndpoint(t, hs.URL+"/sts")
	return hs.URL, caFile
}

// tlsCertificates are a CA and a serving certificate it issued for
// 127.0.0.1 and localhost: strict verifiers (Python's ssl, browsers) refuse
// a self-signed serving certificate such as httptest's even when trusted.
func tlsCertificates(t testing.TB) (*x509.Certificate, tls.Certificate) {
	t.Helper()
	now := time.Now()
	caKey, key := testtools.NewKey(t, "p256"), testtools.NewKey(t, "p256")
	caTemplate := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test TLS CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTemplate, caTemplate, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	leafTemplate := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTemplate, ca, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	return ca, tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: key}
}

// SetEndpoint changes the STS's spec.endpoint in sts.yaml and loads it.
func (s *STS) SetEndpoint(t testing.TB, endpoint string) {
	t.Helper()
	manifest, err := os.ReadFile(filepath.Join(s.Dir, "sts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`(?m)^(  endpoint:).*$`)
	if !line.Match(manifest) {
		t.Fatal("sts.yaml has no endpoint line")
	}
	s.WriteManifest(t, "sts.yaml", line.ReplaceAllString(string(manifest), "${1} "+endpoint))
	if err := s.Source.Load(); err != nil {
		t.Fatal(err)
	}
	if got := s.Source.Holder.Load().STS.Endpoint; got != endpoint {
		t.Fatalf("the STS endpoint is %q, want %q", got, endpoint)
	}
}
