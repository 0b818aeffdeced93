// Package apiserver starts a real kube-apiserver and etcd (envtest, with the
// binaries hack/build-tools.sh puts in bin/) with the trustbroker CRDs
// installed, for tests of everything that talks to Kubernetes.
package apiserver

import (
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
}

// Option changes the API server Start runs.
type Option func(*envtest.Environment)

// WithoutCRDs starts the API server without the trustbroker CRDs, for tests
// that install them another way (helm).
func WithoutCRDs() Option {
	return func(env *envtest.Environment) { env.CRDDirectoryPaths, env.ErrorIfCRDPathMissing = nil, false }
}

// Start runs an API server until the test ends. Without the binaries it
// skips the test, or fails it under CI=true.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	root := testtools.RepoRoot(t)
	bin := filepath.Join(root, "bin")
	if _, err := os.Stat(filepath.Join(bin, "kube-apiserver")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("kube-apiserver is missing from bin/: run `make tools`")
		}
		t.Skip("kube-apiserver is missing from bin/ (run `make tools`)")
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: bin,
	}
	for _, o := range opts {
		o(env)
	}
	// Watches held open by the code under test must not hold up shutdown.
	env.ControlPlane.GetAPIServer().Configure().Set("shutdown-watch-termination-grace-period", "1s")
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("starting the API server: %v", err)
	}
	s := &Server{Env: env, Config: cfg, Kubectl: filepath.Join(bin, "kubectl")}
	t.Cleanup(func() { s.Stop(t) })
	if err := stsv1alpha1.AddToScheme(scheme.Scheme); err != nil {
		t.Fatal(err)
	}
	if s.Client, err = client.New(cfg, client.Options{Scheme: scheme.Scheme}); err != nil {
		t.Fatal(err)
	}
	user, err := env.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	s.Kubeconfig = filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(s.Kubeconfig, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	return s
}

// Stop stops the API server; later calls do nothing.
func (s *Server) Stop(t testing.TB) {
	if s.Env == nil {
		return
	}
	if err := s.Env.Stop(); err != nil {
		t.Errorf("stopping the API server: %v", err)
	}
	s.Env = nil
}
