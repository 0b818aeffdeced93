// Package crds checks the CustomResourceDefinitions against a real
// kube-apiserver (envtest, built by hack/build-tools.sh): the samples apply,
// wrong manifests are refused with a message that says what to change, and
// kubectl shows the documentation and columns users rely on.
package crds

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
)

// repoRoot is the repository, seen from this package's directory.
const repoRoot = "../.."

// cluster is the API server every test in this package talks to.
var cluster struct {
	client     client.Client
	kubeconfig string // path of a kubeconfig for kubectl
	kubectl    string // path of the kubectl binary
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	bin, err := filepath.Abs(filepath.Join(repoRoot, "bin"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if _, err := os.Stat(filepath.Join(bin, "kube-apiserver")); err != nil {
		if os.Getenv("CI") == "true" {
			fmt.Fprintln(os.Stderr, "kube-apiserver is missing from bin/: run `make tools`")
			return 1
		}
		fmt.Println("skipping: kube-apiserver is missing from bin/ (run `make tools`)")
		return 0
	}

	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(repoRoot, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: bin,
	}
	cfg, err := env.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the API server:", err)
		return 1
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping the API server:", err)
		}
	}()

	if err := connect(env, cfg, bin); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.Remove(cluster.kubeconfig)
	return m.Run()
}

// connect fills in cluster: a Go client and a kubeconfig for kubectl.
func connect(env *envtest.Environment, cfg *rest.Config, bin string) error {
	if err := stsv1alpha1.AddToScheme(scheme.Scheme); err != nil {
		return err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme.Scheme})
	if err != nil {
		return fmt.Errorf("creating a client: %w", err)
	}
	user, err := env.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("creating a kubectl user: %w", err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return fmt.Errorf("writing a kubeconfig: %w", err)
	}
	f, err := os.CreateTemp("", "kubeconfig-*")
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Write(kc); err != nil {
		return err
	}
	cluster.client = c
	cluster.kubeconfig = f.Name()
	cluster.kubectl = filepath.Join(bin, "kubectl")
	return nil
}
