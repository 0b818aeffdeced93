package controllers

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
	"github.com/trustbroker/trustbroker/internal/testtools/apiserver"
)

// testImage is the operator's default STS image in the tests.
const testImage = "registry.example.com/trustbroker/sts:test"

// testPullSecret is the image pull Secret the operator gives every STS pod
// in the tests, as the Helm chart's imagePullSecrets would.
const testPullSecret = "registry-credentials"

// cluster is the API server, with the operator's reconcilers running against
// it, that the envtest tests in this package use.
var cluster struct {
	client     client.Client // uncached, so tests see what the server holds
	scheme     *runtime.Scheme
	kubeconfig string
	kubectl    string
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	flag.Parse()
	if fuzzing() {
		// Fuzz workers are separate processes; none needs an API server.
		return m.Run()
	}
	if testing.Verbose() {
		logf.SetLogger(zap.New(zap.UseDevMode(true)))
	} else {
		logf.SetLogger(logr.Discard())
	}
	api, err := apiserver.Launch()
	if errors.Is(err, apiserver.ErrNoBinaries) && os.Getenv("CI") != "true" {
		// Unit tests still run; envtest tests skip through needCluster.
		fmt.Println(err, "- skipping the tests against the API server")
		return m.Run()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() {
		if err := api.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}()

	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(stsv1alpha1.AddToScheme(scheme))
	cluster.scheme = scheme
	if cluster.client, err = client.New(api.Config, client.Options{Scheme: scheme}); err != nil {
		fmt.Fprintln(os.Stderr, "creating a client:", err)
		return 1
	}
	cluster.kubeconfig, cluster.kubectl = api.Kubeconfig, api.Kubectl

	ctx, cancel := context.WithCancel(context.Background())
	stopped, err := startOperator(ctx, api.Config, scheme)
	if err != nil {
		cancel()
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	cancel()
	<-stopped
	return code
}

// startOperator runs the manager with the three reconcilers, as
// cmd/operator does, until ctx ends.
func startOperator(ctx context.Context, cfg *rest.Config, scheme *runtime.Scheme) (<-chan struct{}, error) {
	// With the operator's ClusterRole and no more, so every test here also
	// shows that the role suffices.
	cfg, err := asOperator(ctx, cfg, cluster.client)
	if err != nil {
		return nil, err
	}
	skip := true
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: &skip},
		NewCache:               newRecordingCache,
	})
	if err != nil {
		return nil, fmt.Errorf("creating the manager: %w", err)
	}
	if err := Setup(ctx, mgr, Options{STSImage: testImage, STSImagePullSecrets: []string{testPullSecret}}); err != nil {
		return nil, err
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "the manager stopped:", err)
		}
	}()
	return stopped, nil
}

// fuzzing reports whether this process runs a fuzz target (-fuzz) or is
// one of its workers.
func fuzzing() bool {
	if f := flag.Lookup("test.fuzz"); f != nil && f.Value.String() != "" {
		return true
	}
	f := flag.Lookup("test.fuzzworker")
	return f != nil && f.Value.String() == "true"
}

// needCluster skips a test when no API server runs.
func needCluster(t *testing.T) {
	t.Helper()
	if cluster.client == nil {
		t.Skip("no API server: kube-apiserver is missing from bin/ (run `make tools`)")
	}
}

// eventually polls cond until it returns "" (success) or the timeout passes;
// then it fails with cond's last explanation.
func eventually(t *testing.T, what string, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		why := cond()
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not true after 30s: %s", what, why)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
