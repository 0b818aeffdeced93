package controllers

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
)

// stsContainerOf returns the Deployment's STS container.
func stsContainerOf(t *testing.T, dep *appsv1.Deployment) corev1.Container {
	t.Helper()
	if c := dep.Spec.Template.Spec.Containers; len(c) == 1 && c[0].Name == "sts" {
		return c[0]
	}
	t.Fatalf("containers %v, want one named sts", dep.Spec.Template.Spec.Containers)
	return corev1.Container{}
}

// goMemLimitOf describes the container's GOMEMLIMIT: "limits.memory of sts"
// when it comes from the memory limit, "" when it is not set.
func goMemLimitOf(c corev1.Container) string {
	for _, e := range c.Env {
		if e.Name != "GOMEMLIMIT" {
			continue
		}
		if e.ValueFrom == nil || e.ValueFrom.ResourceFieldRef == nil {
			return fmt.Sprintf("value %q", e.Value)
		}
		return e.ValueFrom.ResourceFieldRef.Resource + " of " + e.ValueFrom.ResourceFieldRef.ContainerName
	}
	return ""
}

func TestSTSPodDefaults(t *testing.T) {
	needCluster(t)
	ns := newNamespace(t, "sts-pod-defaults")
	sts := newSTS(ns, "plain", "plain-signing")
	create(t, sts)
	var dep appsv1.Deployment
	get(t, ns, "plain", &dep)

	c := stsContainerOf(t, &dep)
	want := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")},
	}
	if !equality.Semantic.DeepEqual(c.Resources, want) {
		t.Errorf("resources %v, want the defaults %v", c.Resources, want)
	}
	if got := goMemLimitOf(c); got != "limits.memory of sts" {
		t.Errorf("GOMEMLIMIT: %q, want the container's memory limit", got)
	}
	pod := dep.Spec.Template
	if len(pod.Annotations) != 0 || pod.Spec.NodeSelector != nil || pod.Spec.Tolerations != nil || pod.Spec.Affinity != nil ||
		pod.Spec.TopologySpreadConstraints != nil || pod.Spec.PriorityClassName != "" {
		t.Errorf("a pod without spec.podTemplate got annotations %v or scheduling settings %+v", pod.Annotations, pod.Spec)
	}
}

func TestSTSPodTemplate(t *testing.T) {
	needCluster(t)
	ctx := context.Background()
	ns := newNamespace(t, "sts-pod-template")
	resources := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("256Mi")},
	}
	tolerations := []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "identity", Effect: corev1.TaintEffectNoSchedule}}
	affinity := &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
		NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{
			{Key: "kubernetes.io/arch", Operator: corev1.NodeSelectorOpIn, Values: []string{"amd64", "arm64"}},
		}}},
	}}}
	spread := []corev1.TopologySpreadConstraint{{
		MaxSkew: 1, TopologyKey: "topology.kubernetes.io/zone", WhenUnsatisfiable: corev1.ScheduleAnyway,
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/instance": "corp-sts"}},
	}}
	sts := newSTS(ns, "corp-sts", "corp-sts-signing")
	sts.Spec.PodTemplate = &stsv1alpha1.STSPodTemplate{
		Metadata: stsv1alpha1.STSPodMetadata{
			Labels:      map[string]string{"team": "identity", "app.kubernetes.io/part-of": "sso"},
			Annotations: map[string]string{"prometheus.io/scrape": "true"},
		},
		Spec: stsv1alpha1.STSPodSpec{
			Resources:                 &resources,
			NodeSelector:              map[string]string{"node-role.example.com/identity": ""},
			Tolerations:               tolerations,
			Affinity:                  affinity,
			TopologySpreadConstraints: spread,
			PriorityClassName:         "identity-critical",
			// The operator's own Secret is not listed twice.
			ImagePullSecrets: []corev1.LocalObjectReference{{Name: "team-registry"}, {Name: testPullSecret}},
		},
	}
	create(t, sts)

	var dep appsv1.Deployment
	get(t, ns, "corp-sts", &dep)
	pod := dep.Spec.Template
	wantLabels := map[string]string{
		"team": "identity", "app.kubernetes.io/part-of": "sso",
		"app.kubernetes.io/name": "trustbroker", "app.kubernetes.io/component": "sts", "app.kubernetes.io/instance": "corp-sts",
	}
	if !reflect.DeepEqual(pod.Labels, wantLabels) {
		t.Errorf("pod labels %v, want %v", pod.Labels, wantLabels)
	}
	if want := stsLabels(sts); !reflect.DeepEqual(dep.Spec.Selector.MatchLabels, want) {
		t.Errorf("the Deployment selects %v, want %v", dep.Spec.Selector.MatchLabels, want)
	}
	if !reflect.DeepEqual(pod.Annotations, map[string]string{"prometheus.io/scrape": "true"}) {
		t.Errorf("pod annotations %v", pod.Annotations)
	}
	c := stsContainerOf(t, &dep)
	if !equality.Semantic.DeepEqual(c.Resources, resources) {
		t.Errorf("resources %v, want %v", c.Resources, resources)
	}
	if got := goMemLimitOf(c); got != "limits.memory of sts" {
		t.Errorf("GOMEMLIMIT: %q, want the container's memory limit", got)
	}
	ps := pod.Spec
	if !reflect.DeepEqual(ps.NodeSelector, map[string]string{"node-role.example.com/identity": ""}) ||
		!reflect.DeepEqual(ps.Tolerations, tolerations) || !reflect.DeepEqual(ps.Affinity, affinity) ||
		!reflect.DeepEqual(ps.TopologySpreadConstraints, spread) || ps.PriorityClassName != "identity-critical" {
		t.Errorf("scheduling: nodeSelector %v tolerations %v affinity %v spread %v priorityClassName %q",
			ps.NodeSelector, ps.Tolerations, ps.Affinity, ps.TopologySpreadConstraints, ps.PriorityClassName)
	}
	wantPull := []corev1.LocalObjectReference{{Name: testPullSecret}, {Name: "team-registry"}}
	if !slices.Equal(ps.ImagePullSecrets, wantPull) {
		t.Errorf("image pull secrets %v, want %v", ps.ImagePullSecrets, wantPull)
	}

	// Taking settings out takes them off the pods; without a memory limit
	// GOMEMLIMIT goes too.
	get(t, ns, "corp-sts", sts)
	sts.Spec.PodTemplate.Spec.Tolerations = nil
	sts.Spec.PodTemplate.Metadata.Labels = nil
	sts.Spec.PodTemplate.Spec.Resources = &corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m")}}
	if err := cluster.client.Update(ctx, sts); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the settings to go", func() string {
		if err := cluster.client.Get(ctx, key(ns, "corp-sts"), &dep); err != nil {
			return err.Error()
		}
		c := dep.Spec.Template.Spec.Containers[0]
		if dep.Spec.Template.Spec.Tolerations != nil || dep.Spec.Template.Labels["team"] != "" || c.Resources.Limits != nil || goMemLimitOf(c) != "" {
			return fmt.Sprintf("tolerations %v, labels %v, limits %v, GOMEMLIMIT %q", dep.Spec.Template.Spec.Tolerations, dep.Spec.Template.Labels, c.Resources.Limits, goMemLimitOf(c))
		}
		return ""
	})
}

func TestSTSPodTemplateKeepsSelectorLabels(t *testing.T) {
	needCluster(t)
	ns := newNamespace(t, "sts-pod-selector")
	for _, label := range []string{"app.kubernetes.io/name", "app.kubernetes.io/component", "app.kubernetes.io/instance"} {
		sts := newSTS(ns, "corp-sts", "corp-sts-signing")
		sts.Spec.PodTemplate = &stsv1alpha1.STSPodTemplate{Metadata: stsv1alpha1.STSPodMetadata{Labels: map[string]string{label: "mine"}}}
		err := cluster.client.Create(context.Background(), sts)
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "the operator selects the STS pods by them") {
			t.Errorf("podTemplate label %s: %v, want it refused because the operator selects by it", label, err)
		}
	}
}
