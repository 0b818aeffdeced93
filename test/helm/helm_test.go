// Package helm checks the Helm chart with the real helm (built by
// hack/build-tools.sh): it lints, renders what the values ask for, and
// installs into a real API server.
package helm

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
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

// operatorDeployment renders the chart with a values file and decodes the
// operator's Deployment.
func operatorDeployment(t *testing.T, values string) *appsv1.Deployment {
	t.Helper()
	out := helm(t, "template", "tb", chart(t), "--namespace", "trustbroker-system", "-f", values, "--show-only", "templates/deployment.yaml")
	var d appsv1.Deployment
	if err := yaml.UnmarshalStrict([]byte(out), &d); err != nil {
		t.Fatalf("decoding the rendered Deployment: %v\n%s", err, out)
	}
	return &d
}

// TestOperatorPodValues renders the operator pod settings a platform team
// needs: host networking with its DNS policy and free ports, extra flags
// and environment, labels, annotations, scheduling, and the image pull
// secrets passed on to the STS pods.
func TestOperatorPodValues(t *testing.T) {
	d := operatorDeployment(t, filepath.Join("testdata", "operator-pod.yaml"))
	pod := d.Spec.Template
	if !pod.Spec.HostNetwork || pod.Spec.DNSPolicy != corev1.DNSClusterFirstWithHostNet {
		t.Errorf("hostNetwork %v, dnsPolicy %q; want true and ClusterFirstWithHostNet", pod.Spec.HostNetwork, pod.Spec.DNSPolicy)
	}
	if pod.Labels["team"] != "identity" || pod.Labels["app.kubernetes.io/component"] != "operator" || pod.Annotations["example.com/owner"] != "identity" {
		t.Errorf("pod labels %v, annotations %v", pod.Labels, pod.Annotations)
	}
	if pod.Spec.PriorityClassName != "system-cluster-critical" || len(pod.Spec.TopologySpreadConstraints) != 1 ||
		pod.Spec.TopologySpreadConstraints[0].TopologyKey != "kubernetes.io/hostname" {
		t.Errorf("priorityClassName %q, topologySpreadConstraints %+v", pod.Spec.PriorityClassName, pod.Spec.TopologySpreadConstraints)
	}
	if want := []corev1.LocalObjectReference{{Name: "registry-a"}, {Name: "registry-b"}}; !slices.Equal(pod.Spec.ImagePullSecrets, want) {
		t.Errorf("imagePullSecrets %v, want %v", pod.Spec.ImagePullSecrets, want)
	}
	c := pod.Spec.Containers[0]
	for _, want := range []string{"--health-probe-bind-address=:9440", "--metrics-bind-address=:9443", "--sts-image-pull-secrets=registry-a,registry-b"} {
		if !slices.Contains(c.Args, want) {
			t.Errorf("args %v lack %s", c.Args, want)
		}
	}
	// Extra flags come last, so they override the chart's.
	if n := len(c.Args); n < 2 || c.Args[n-2] != "--zap-devel" || c.Args[n-1] != "--zap-stacktrace-level=panic" {
		t.Errorf("args %v do not end with the extra flags", c.Args)
	}
	if len(c.Env) != 1 || c.Env[0].Name != "HTTPS_PROXY" || c.Env[0].Value != "http://proxy.example.com:3128" {
		t.Errorf("env %+v", c.Env)
	}
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if ports["probes"] != 9440 || ports["metrics"] != 9443 {
		t.Errorf("container ports %v, want probes 9440 and metrics 9443", ports)
	}

	// By default: the pod network, no extra flags, no pull secrets to pass on.
	d = operatorDeployment(t, filepath.Join(chart(t), "values.yaml"))
	pod = d.Spec.Template
	if pod.Spec.HostNetwork || pod.Spec.DNSPolicy != "" || len(pod.Spec.Containers[0].Env) != 0 {
		t.Errorf("defaults: hostNetwork %v, dnsPolicy %q, env %v", pod.Spec.HostNetwork, pod.Spec.DNSPolicy, pod.Spec.Containers[0].Env)
	}
	for _, a := range pod.Spec.Containers[0].Args {
		if strings.HasPrefix(a, "--sts-image-pull-secrets") {
			t.Errorf("defaults: %s without imagePullSecrets", a)
		}
	}
}

// TestValuesRefused checks that values.schema.json and the templates refuse
// wrong values with a message naming them.
func TestValuesRefused(t *testing.T) {
	tests := []struct {
		set  string
		want string
	}{
		{"operator.hostNetwrok=true", "additional properties 'hostNetwrok' not allowed"},
		{"operator.extraArgs[0]=zap-devel", "operator/extraArgs/0"},
		{"operator.dnsPolicy=Cluster", "operator/dnsPolicy"},
		{"operator.healthPort=0", "operator/healthPort"},
		{"operator.podLabels.app\\.kubernetes\\.io/instance=mine", "operator.podLabels cannot set app.kubernetes.io/instance"},
	}
	for _, tt := range tests {
		cmd := exec.Command(filepath.Join(testtools.RepoRoot(t), "bin", "helm"), "template", "tb", chart(t), "--set", tt.set)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), tt.want) {
			t.Errorf("--set %s: %v, want it refused with %q:\n%s", tt.set, err, tt.want, out)
		}
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

	// The API server accepts the operator pod settings too.
	helm(t, "upgrade", "tb", chart(t), "--kubeconfig", api.Kubeconfig, "--namespace", "trustbroker-system", "-f", filepath.Join("testdata", "operator-pod.yaml"))
	if err := c.Get(ctx, client.ObjectKey{Namespace: "trustbroker-system", Name: "tb-trustbroker-operator"}, &d); err != nil {
		t.Fatal(err)
	}
	if !d.Spec.Template.Spec.HostNetwork || len(d.Spec.Template.Spec.ImagePullSecrets) != 2 {
		t.Errorf("after the upgrade: hostNetwork %v, imagePullSecrets %v", d.Spec.Template.Spec.HostNetwork, d.Spec.Template.Spec.ImagePullSecrets)
	}

	// helm uninstall removes the operator and leaves the CRDs, and so the
	// resources, in place (the README's Uninstall section).
	if err := stsv1alpha1.AddToScheme(scheme.Scheme); err != nil {
		t.Fatal(err)
	}
	sts := &stsv1alpha1.SecurityTokenService{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "kept"},
		Spec: stsv1alpha1.SecurityTokenServiceSpec{
			Issuer: "urn:example:sts", Endpoint: "https://sts.example.com/sts",
			Signing: stsv1alpha1.SigningSpec{SecretRef: &stsv1alpha1.SecretKeySelector{Name: "signing"}},
		},
	}
	if err := c.Create(ctx, sts); err != nil {
		t.Fatal(err)
	}
	helm(t, "uninstall", "tb", "--kubeconfig", api.Kubeconfig, "--namespace", "trustbroker-system")
	if err := c.Get(ctx, client.ObjectKeyFromObject(&d), &appsv1.Deployment{}); !apierrors.IsNotFound(err) {
		t.Errorf("the operator's Deployment after helm uninstall: %v, want it gone", err)
	}
	if err := c.Get(ctx, client.ObjectKeyFromObject(sts), sts); err != nil {
		t.Errorf("the SecurityTokenService after helm uninstall: %v, want it kept with its CRD", err)
	}
}
