//go:build e2e

// Package e2e checks the product as a user runs it: on a real single-node
// cluster (hack/e2e/cluster.sh brings it up and runs these tests), the chart
// installed with helm, the samples applied with kubectl, tokens asked of
// the STS pods over the pod network. `make e2e` runs it.
package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
	"github.com/trustbroker/trustbroker/internal/testtools"
)

// cluster is the running cluster, as kubectl and helm see it.
type cluster struct {
	c    client.Client
	root string
	// script is hack/e2e/cluster.sh, for the API server outages.
	script string
}

func connect(t *testing.T) *cluster {
	t.Helper()
	script := os.Getenv("E2E_CLUSTER")
	if script == "" {
		t.Skip("no cluster: run `make e2e`")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", os.Getenv("KUBECONFIG"))
	if err != nil {
		t.Fatal(err)
	}
	if err := stsv1alpha1.AddToScheme(scheme.Scheme); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	return &cluster{c: c, root: testtools.RepoRoot(t), script: script}
}

// run runs a command from the repository root, as a user would type it.
func (cl *cluster) run(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = cl.root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (cl *cluster) apiServerOutage(t *testing.T) { cl.run(t, cl.script, "apiserver-stop") }
func (cl *cluster) apiServerBack(t *testing.T)   { cl.run(t, cl.script, "apiserver-start") }

// waitFor polls cond every 200 ms for up to limit and returns how long it
// took.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < limit {
		if cond() {
			return time.Since(start)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s", limit, what)
	return 0
}

// stsPods are the pods of the STS, by name.
func (cl *cluster) stsPods(t *testing.T) map[string]corev1.Pod {
	t.Helper()
	var pods corev1.PodList
	if err := cl.c.List(context.Background(), &pods, client.InNamespace(samplesNS),
		client.MatchingLabels{"app.kubernetes.io/instance": stsName}); err != nil {
		t.Fatal(err)
	}
	out := map[string]corev1.Pod{}
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			out[p.Name] = p
		}
	}
	return out
}

func ready(p corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// readyPods waits for exactly n pods of the STS, all Ready.
func (cl *cluster) readyPods(t *testing.T, n int) []corev1.Pod {
	t.Helper()
	var pods []corev1.Pod
	waitFor(t, 3*time.Minute, fmt.Sprintf("%d Ready STS pods", n), func() bool {
		pods = pods[:0]
		for _, p := range cl.stsPods(t) {
			if !ready(p) {
				return false
			}
			pods = append(pods, p)
		}
		return len(pods) == n
	})
	return pods
}

// restarts is how often each container of the pods restarted, by pod.
func restarts(pods map[string]corev1.Pod) map[string]int32 {
	out := map[string]int32{}
	for name, p := range pods {
		for _, s := range p.Status.ContainerStatuses {
			out[name] += s.RestartCount
		}
	}
	return out
}

// podLogs returns the STS container logs from the node's log directory.
func podLogs(t *testing.T, pod corev1.Pod) string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(os.Getenv("E2E_DIR"), "pod-logs", pod.Namespace+"_"+pod.Name+"_*", "*", "*.log"))
	var b strings.Builder
	for _, f := range files {
		data, _ := os.ReadFile(f)
		fmt.Fprintf(&b, "== %s\n%s", f, data)
	}
	return b.String()
}
