package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
)

// STSPodTemplate shapes the STS pods the operator runs: extra labels and
// annotations, and the scheduling, resource and registry settings a
// platform team sets on every workload. It is a chosen subset of a pod
// template; the containers, their command, ports, probes and security
// context stay the operator's.
type STSPodTemplate struct {
	// Metadata adds labels and annotations to the STS pods.
	// +optional
	Metadata STSPodMetadata `json:"metadata,omitempty"`

	// Spec sets scheduling, resources and image pull secrets of the STS pods.
	// +optional
	Spec STSPodSpec `json:"spec,omitempty"`
}

// STSPodMetadata holds the labels and annotations added to the STS pods.
type STSPodMetadata struct {
	// Labels are added to the pods' labels. The labels the operator selects
	// its pods by (app.kubernetes.io/name, app.kubernetes.io/component and
	// app.kubernetes.io/instance) cannot be set here.
	// +optional
	// +kubebuilder:validation:MaxProperties=64
	// +kubebuilder:validation:XValidation:rule="!self.exists(k, k in ['app.kubernetes.io/name', 'app.kubernetes.io/component', 'app.kubernetes.io/instance'])",message="podTemplate.metadata.labels cannot set app.kubernetes.io/name, app.kubernetes.io/component or app.kubernetes.io/instance: the operator selects the STS pods by them"
	Labels map[string]string `json:"labels,omitempty"`

	// Annotations are added to the pods' annotations, for example
	// prometheus.io/scrape or a service mesh's settings.
	// +optional
	// +kubebuilder:validation:MaxProperties=64
	Annotations map[string]string `json:"annotations,omitempty"`
}

// STSPodSpec is the part of the STS pods' spec that can be set.
type STSPodSpec struct {
	// Resources of the STS container. When left out: requests of 100m CPU
	// and 64Mi memory, and a 512Mi memory limit. When given, it replaces
	// those defaults as a whole. A memory limit is passed to the Go runtime
	// as GOMEMLIMIT, so the STS collects garbage harder before it would be
	// killed for exceeding the limit.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`

	// NodeSelector restricts the STS pods to nodes with these labels.
	// +optional
	// +kubebuilder:validation:MaxProperties=64
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`

	// Tolerations let the STS pods run on nodes with matching taints.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`

	// Affinity holds node and pod (anti-)affinity rules of the STS pods.
	// +optional
	Affinity *corev1.Affinity `json:"affinity,omitempty"`

	// TopologySpreadConstraints spread the STS pods across zones or nodes.
	// A constraint's labelSelector may select the pods by
	// app.kubernetes.io/instance: <name of the SecurityTokenService>.
	// +optional
	// +kubebuilder:validation:MaxItems=16
	TopologySpreadConstraints []corev1.TopologySpreadConstraint `json:"topologySpreadConstraints,omitempty"`

	// PriorityClassName is the PriorityClass of the STS pods.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	PriorityClassName string `json:"priorityClassName,omitempty"`

	// ImagePullSecrets name Secrets in this namespace used to pull the STS
	// image, in addition to those the operator was started with
	// (--sts-image-pull-secrets; the Helm chart passes its
	// imagePullSecrets).
	// +optional
	// +kubebuilder:validation:MaxItems=16
	ImagePullSecrets []corev1.LocalObjectReference `json:"imagePullSecrets,omitempty"`
}
