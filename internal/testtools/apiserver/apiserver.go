// Package apiserver starts a real kube-apiserver and etcd (envtest, with the
// binaries hack/build-tools.sh puts in bin/) with the trustbroker CRDs
// installed, for tests of everything that talks to Kubernetes.
package apiserver

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
	"github.com/trustbroker/trustbroker/internal/testtools"
)

// Server is a running API server.
type Server struct {
	Env    *envtest.Environment
	Config *rest.Config
	Client client.Client
	// Kubeconfig is a file for kubectl with cluster-admin rights; Kubectl
	// is bin/kubectl.
	Kubeconfig, Kubectl string
	// certDir keeps the API server's certificates across Outage and Resume.
	certDir string
}

// Option changes the API server Start runs.
type Option func(*envtest.Environment)

// WithoutCRDs starts the API server without the trustbroker CRDs, for tests
// that install them another way (helm).
func WithoutCRDs() Option {
	return func(env *envtest.Environment) { env.CRDDirectoryPaths, env.ErrorIfCRDPathMissing = nil, false }
}

// ErrNoBinaries means bin/ lacks kube-apiserver: `make tools` builds it.
var ErrNoBinaries = errors.New("kube-apiserver is missing from bin/: run `make tools`")

// Start runs an API server until the test ends. Without the binaries it
// skips the test, or fails it under CI=true.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s, err := Launch(opts...)
	if errors.Is(err, ErrNoBinaries) && os.Getenv("CI") != "true" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// Launch runs an API server for a whole test binary (from TestMain); Stop
// it when done. It returns ErrNoBinaries when the binaries are missing.
func Launch(opts ...Option) (*Server, error) {
	root, err := testtools.FindRepoRoot()
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(root, "bin")
	if _, err := os.Stat(filepath.Join(bin, "kube-apiserver")); err != nil {
		return nil, ErrNoBinaries
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: bin,
	}
	for _, o := range opts {
		o(env)
	}
	// A directory of our own survives the API server's restarts (envtest
	// would make new certificates in a new one, which clients don't trust).
	certDir, err := os.MkdirTemp("", "kube-apiserver-*")
	if err != nil {
		return nil, err
	}
	env.ControlPlane.GetAPIServer().CertDir = certDir
	// Watches held open by the code under test must not hold up shutdown.
	env.ControlPlane.GetAPIServer().Configure().Set("shutdown-watch-termination-grace-period", "1s")
	cfg, err := env.Start()
	if err != nil {
		os.RemoveAll(certDir)
		return nil, fmt.Errorf("starting the API server: %w", err)
	}
	s := &Server{Env: env, Config: cfg, Kubectl: filepath.Join(bin, "kubectl"), certDir: certDir}
	if err := s.connect(); err != nil {
		_ = s.Stop()
		return nil, err
	}
	return s, nil
}

// connect makes the client and the kubeconfig.
func (s *Server) connect() error {
	if err := stsv1alpha1.AddToScheme(scheme.Scheme); err != nil {
		return err
	}
	var err error
	if s.Client, err = client.New(s.Config, client.Options{Scheme: scheme.Scheme}); err != nil {
		return err
	}
	user, err := s.Env.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("creating a kubectl user: %w", err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return err
	}
	f, err := os.CreateTemp("", "kubeconfig-*")
	if err != nil {
		return err
	}
	defer f.Close()
	s.Kubeconfig = f.Name()
	_, err = f.Write(kc)
	return err
}

// Stop stops the API server and removes the kubeconfig; later calls do
// nothing.
func (s *Server) Stop() error {
	if s.Env == nil {
		return nil
	}
	err := s.Env.Stop()
	s.Env = nil
	if s.Kubeconfig != "" {
		os.Remove(s.Kubeconfig)
	}
	os.RemoveAll(s.certDir)
	if err != nil {
		return fmt.Errorf("stopping the API server: %w", err)
	}
	return nil
}

// Outage stops the API server (etcd keeps the objects): its clients get
// connection refused until Resume.
func (s *Server) Outage() error {
	if err := s.Env.ControlPlane.GetAPIServer().Stop(); err != nil {
		return fmt.Errorf("stopping the API server: %w", err)
	}
	return nil
}

// Resume starts the API server again, on the same address with the same
// certificates, and returns once it is healthy.
func (s *Server) Resume() error {
	if err := s.Env.ControlPlane.GetAPIServer().Start(); err != nil {
		return fmt.Errorf("restarting the API server: %w", err)
	}
	return nil
}
