// Package helm checks the Helm chart with the real helm (built by
// hack/build-tools.sh): it lints, renders what the values ask for, and
// installs into a real API server.
package helm

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/trustbroker/trustbroker/internal/testtools"
	"github.com/trustbroker/trustbroker/internal/testtools/apiserver"
)

func helm(t *testing.T, args ...string) string {
	t.Helper()
	bin := filepath.Join(testtools.RepoRoot(t), "bin", "helm")
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("helm is missing from bin/: run `make tools`")
		}
		t.Skip("helm is missing from bin/ (run `make tools`)")
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+t.TempDir(), "HELM_CONFIG_HOME="+t.TempDir(), "HELM_DATA_HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func chart(t *testing.T) string { return filepath.Join(testtools.RepoRoot(t), "charts", "trustbroker") }

func TestLint(t *testing.T) {
	out := helm(t, "lint", "--strict", chart(t))
	if !strings.Contains(out, "0 chart(s) failed") {
		t.Fatalf("helm lint:\n%s", out)
	}
}

// TestTemplate renders the chart with the options users turn on.
func TestTemplate(t *testing.T) {
	out := helm(t, "template", "tb", chart(t), "--namespace", "trustbroker-system",
		"--set", "image.tag=v9", "--set", "metrics.serviceMonitor.enabled=true", "--set", "operator.replicas=2")
	for _, want := range []string{
		"kind: Deployment", "kind: ServiceAccount", "kind: ClusterRole", "kind: ClusterRoleBinding", "kind: ServiceMonitor",
		"image: ghcr.io/trustbroker/trustbroker:v9", "--sts-image=ghcr.io/trustbroker/trustbroker:v9", "replicas: 2",
		"readOnlyRootFilesystem: true", "runAsNonRoot: true", "securitytokenservices/status",
		// Metrics over HTTPS behind the authentication filter, scraped with a token.
		"--metrics-bind-address=:8443", "--metrics-secure=true", "containerPort: 8443", "name: https",
		"scheme: https", "bearerTokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token", "insecureSkipVerify: true",
		"tokenreviews", "subjectaccessreviews", "name: tb-trustbroker-metrics-reader", `nonResourceURLs: ["/metrics"]`,
		"name: tb-trustbroker-operator-leader-election", "coordination.k8s.io",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("rendered chart lacks %q", want)
		}
	}

	// A metrics certificate is mounted, served and verified by Prometheus.
	out = helm(t, "template", "tb", chart(t), "--namespace", "trustbroker-system",
		"--set", "metrics.serviceMonitor.enabled=true", "--set", "metrics.certSecret=tb-metrics-cert",
		"--set", "metrics.readers[0].kind=ServiceAccount", "--set", "metrics.readers[0].name=prometheus-k8s", "--set", "metrics.readers[0].namespace=monitoring")
	for _, want := range []string{
		"--metrics-cert-path=/tmp/k8s-metrics-server/metrics-certs", "secretName: tb-metrics-cert",
		"serverName: tb-trustbroker-metrics.trustbroker-system.svc", "name: tb-metrics-cert\n          key: ca.crt",
		"kind: ClusterRoleBinding\nmetadata:\n  name: tb-trustbroker-metrics-reader", "name: prometheus-k8s\n  namespace: monitoring",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("rendered chart with a metrics certificate lacks %q", want)
		}
	}
	if strings.Contains(out, "insecureSkipVerify") {
		t.Error("the ServiceMonitor skips verification of a given certificate")
	}
	if bad := exec.Command(filepath.Join(testtools.RepoRoot(t), "bin", "helm"), "template", "tb", chart(t), "--set", "operator.logLevel=loud"); bad.Run() == nil {
		t.Error("values.schema.json accepted an unknown log level")
	}
}

// TestInstall installs the chart into a real API server and finds what it
// created: the CRDs, the operator's Deployment and its RBAC.
func TestInstall(t *testing.T) {
	api := apiserver.Start(t, apiserver.WithoutCRDs())
	helm(t, "install", "tb", chart(t), "--kubeconfig", api.Kubeconfig, "--namespace", "trustbroker-system", "--create-namespace")

	if err := apiextensionsv1.AddToScheme(scheme.Scheme); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(api.Config, client.Options{Scheme: scheme.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, name := range []string{"securitytokenservices", "relyingparties", "trustedissuers"} {
		var crd apiextensionsv1.CustomResourceDefinition
		if err := c.Get(ctx, client.ObjectKey{Name: name + ".sts.trustbroker.io"}, &crd); err != nil {
			t.Errorf("CRD %s: %v", name, err)
		}
	}
	var d appsv1.Deployment
	if err := c.Get(ctx, client.ObjectKey{Namespace: "trustbroker-system", Name: "tb-trustbroker-operator"}, &d); err != nil {
		t.Fatal(err)
	}
	if sa := d.Spec.Template.Spec.ServiceAccountName; sa != "tb-trustbroker" {
		t.Errorf("service account %q", sa)
	}
	var role rbacv1.ClusterRole
	if err := c.Get(ctx, client.ObjectKey{Name: "tb-trustbroker-operator"}, &role); err != nil {
		t.Fatal(err)
	}
	if len(role.Rules) < 5 {
		t.Errorf("the operator's ClusterRole has %d rules", len(role.Rules))
	}
	for _, r := range role.Rules {
		for _, res := range r.Resources {
			if res != "secrets" && res != "configmaps" {
				continue
			}
			for _, v := range r.Verbs {
				if v != "get" && v != "list" && v != "watch" {
					t.Errorf("the operator's ClusterRole may %s %s", v, res)
				}
			}
		}
	}
	var reader rbacv1.ClusterRole
	if err := c.Get(ctx, client.ObjectKey{Name: "tb-trustbroker-metrics-reader"}, &reader); err != nil {
		t.Error(err)
	}
	var election rbacv1.Role
	if err := c.Get(ctx, client.ObjectKey{Namespace: "trustbroker-system", Name: "tb-trustbroker-operator-leader-election"}, &election); err != nil {
		t.Error(err)
	}
	if out := helm(t, "status", "tb", "--kubeconfig", api.Kubeconfig, "--namespace", "trustbroker-system"); !strings.Contains(out, "STATUS: deployed") {
		t.Errorf("helm status:\n%s", out)
	}
}
