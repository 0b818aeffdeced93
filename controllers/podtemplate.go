package controllers

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
)

// stsContainer is the name of the STS container in its pods.
const stsContainer = "sts"

// podTemplate is spec.podTemplate, or an empty one.
func podTemplate(sts *stsv1alpha1.SecurityTokenService) stsv1alpha1.STSPodTemplate {
	if sts.Spec.PodTemplate == nil {
		return stsv1alpha1.STSPodTemplate{}
	}
	return *sts.Spec.PodTemplate
}

// podLabels are the user's pod labels with the selector labels on top: the
// CRD refuses the selector labels in spec.podTemplate, and should one get
// through (a CRD not yet upgraded), the Deployment still selects its pods.
func podLabels(sts *stsv1alpha1.SecurityTokenService) map[string]string {
	l := maps.Clone(podTemplate(sts).Metadata.Labels)
	if l == nil {
		l = map[string]string{}
	}
	maps.Copy(l, stsLabels(sts))
	return l
}

// containerResources are the user's resources, or the defaults: enough for
// a few hundred tokens a second, with a memory limit that keeps a runaway
// pod from starving its node.
func containerResources(sts *stsv1alpha1.SecurityTokenService) (*corev1ac.ResourceRequirementsApplyConfiguration, error) {
	if r := podTemplate(sts).Spec.Resources; r != nil {
		return applyConfiguration[corev1ac.ResourceRequirementsApplyConfiguration](r)
	}
	return corev1ac.ResourceRequirements().
		WithRequests(corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("100m"),
			corev1.ResourceMemory: resource.MustParse("64Mi"),
		}).
		WithLimits(corev1.ResourceList{
			corev1.ResourceMemory: resource.MustParse("512Mi"),
		}), nil
}

// goMemLimit passes the container's memory limit to the Go runtime, which
// then collects garbage harder as the heap nears it instead of letting the
// kernel kill the pod; nil without a memory limit.
func goMemLimit(res *corev1ac.ResourceRequirementsApplyConfiguration) *corev1ac.EnvVarApplyConfiguration {
	if res.Limits == nil || (*res.Limits).Memory().IsZero() {
		return nil
	}
	return corev1ac.EnvVar().WithName("GOMEMLIMIT").
		WithValueFrom(corev1ac.EnvVarSource().
			WithResourceFieldRef(corev1ac.ResourceFieldSelector().
				WithContainerName(stsContainer).
				WithResource("limits.memory")))
}

// withPodTemplate adds spec.podTemplate.spec's scheduling settings and the
// image pull secrets (the operator's, then the STS's own) to the pod.
func withPodTemplate(pod *corev1ac.PodSpecApplyConfiguration, sts *stsv1alpha1.SecurityTokenService, operatorPullSecrets []string) error {
	spec := podTemplate(sts).Spec
	if len(spec.NodeSelector) > 0 {
		pod.WithNodeSelector(spec.NodeSelector)
	}
	if spec.PriorityClassName != "" {
		pod.WithPriorityClassName(spec.PriorityClassName)
	}
	if spec.Affinity != nil {
		a, err := applyConfiguration[corev1ac.AffinityApplyConfiguration](spec.Affinity)
		if err != nil {
			return err
		}
		pod.WithAffinity(a)
	}
	tolerations, err := applyConfigurations[corev1ac.TolerationApplyConfiguration](spec.Tolerations)
	if err != nil {
		return err
	}
	spread, err := applyConfigurations[corev1ac.TopologySpreadConstraintApplyConfiguration](spec.TopologySpreadConstraints)
	if err != nil {
		return err
	}
	pod.WithTolerations(tolerations...).WithTopologySpreadConstraints(spread...)

	names := slices.Clone(operatorPullSecrets)
	for _, s := range spec.ImagePullSecrets {
		if s.Name != "" && !slices.Contains(names, s.Name) {
			names = append(names, s.Name)
		}
	}
	for _, n := range names {
		pod.WithImagePullSecrets(corev1ac.LocalObjectReference().WithName(n))
	}
	return nil
}

// applyConfiguration converts a core type into its apply configuration,
// which has the same JSON form.
func applyConfiguration[T any](v any) (*T, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding %T: %w", v, err)
	}
	var out T
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("converting %T to %T: %w", v, out, err)
	}
	return &out, nil
}

// applyConfigurations converts a list of core types.
func applyConfigurations[T any, S any](list []S) ([]*T, error) {
	out := make([]*T, 0, len(list))
	for i := range list {
		c, err := applyConfiguration[T](&list[i])
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}
