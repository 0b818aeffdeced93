package controllers

import (
	"time"

	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	policyv1ac "k8s.io/client-go/applyconfigurations/policy/v1"
	rbacv1ac "k8s.io/client-go/applyconfigurations/rbac/v1"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
)

// Ports of the STS pods. The container listens on these; the Service maps
// its conventional ports onto them.
const (
	httpPort    = 8080
	httpsPort   = 8443
	metricsPort = 9090
)

// defaultReplicas is the CRD default, used when the field is somehow absent.
const defaultReplicas = 1

// stsLabels select the pods of one STS.
func stsLabels(sts *stsv1alpha1.SecurityTokenService) map[string]string {
	return map[string]string{
		"app.kubernetes.io/name":      "trustbroker",
		"app.kubernetes.io/component": "sts",
		"app.kubernetes.io/instance":  sts.Name,
	}
}

// objectLabels label every object the operator renders for an STS.
func objectLabels(sts *stsv1alpha1.SecurityTokenService) map[string]string {
	l := stsLabels(sts)
	l["app.kubernetes.io/managed-by"] = "trustbroker-operator"
	return l
}

// ownerReference makes the STS the controller of a rendered object, so that
// deleting the STS deletes it too.
func ownerReference(sts *stsv1alpha1.SecurityTokenService) *metav1ac.OwnerReferenceApplyConfiguration {
	return metav1ac.OwnerReference().
		WithAPIVersion(stsv1alpha1.GroupVersion.String()).
		WithKind("SecurityTokenService").
		WithName(sts.Name).
		WithUID(sts.UID).
		WithController(true).
		WithBlockOwnerDeletion(true)
}

// replicas is the desired number of STS pods.
func replicas(sts *stsv1alpha1.SecurityTokenService) int32 {
	if sts.Spec.Replicas == nil {
		return defaultReplicas
	}
	return *sts.Spec.Replicas
}

// A pod asked to stop serves on for shutdownDelay with /readyz failing,
// then waits up to the request timeout (30s) for requests in flight; the
// grace period covers both with a margin, so the kubelet never kills a
// pod that is still answering. No preStop hook: the STS drains by itself
// on SIGTERM, and a sleeping hook would only add to the delay.
const (
	shutdownDelay                = 5 * time.Second
	terminationGracePeriod int64 = 40
)

// renderDeployment renders the STS pods. The pod template depends only on
// what the pod cannot reload by itself (image, name, whether it serves TLS,
// spec.podTemplate, the pull secrets); relying parties, trusted issuers,
// users and keys are watched by the pods, so changing them must not roll the
// pods.
func renderDeployment(sts *stsv1alpha1.SecurityTokenService, image string, pullSecrets []string) (*appsv1ac.DeploymentApplyConfiguration, error) {
	args := []string{
		"serve", "--kube",
		"--namespace", sts.Namespace,
		"--name", sts.Name,
		"--listen", portAddr(httpPort),
		"--metrics-listen", portAddr(metricsPort),
		"--shutdown-delay", shutdownDelay.String(),
	}
	ports := []*corev1ac.ContainerPortApplyConfiguration{
		corev1ac.ContainerPort().WithName("http").WithContainerPort(httpPort).WithProtocol(corev1.ProtocolTCP),
		corev1ac.ContainerPort().WithName("metrics").WithContainerPort(metricsPort).WithProtocol(corev1.ProtocolTCP),
	}
	if sts.Spec.TLS != nil {
		args = append(args, "--tls-listen", portAddr(httpsPort))
		ports = append(ports, corev1ac.ContainerPort().WithName("https").WithContainerPort(httpsPort).WithProtocol(corev1.ProtocolTCP))
	}
	resources, err := containerResources(sts)
	if err != nil {
		return nil, err
	}

	container := corev1ac.Container().
		WithName(stsContainer).
		WithImage(image).
		WithCommand("/sts").
		WithArgs(args...).
		WithPorts(ports...).
		WithSecurityContext(corev1ac.SecurityContext().
			WithAllowPrivilegeEscalation(false).
			WithReadOnlyRootFilesystem(true).
			WithRunAsNonRoot(true).
			WithPrivileged(false).
			WithCapabilities(corev1ac.Capabilities().WithDrop("ALL")).
			WithSeccompProfile(corev1ac.SeccompProfile().WithType(corev1.SeccompProfileTypeRuntimeDefault))).
		WithResources(resources).
		WithLivenessProbe(corev1ac.Probe().
			WithHTTPGet(corev1ac.HTTPGetAction().WithPath("/healthz").WithPort(intstr.FromString("metrics"))).
			WithPeriodSeconds(10).
			WithFailureThreshold(3)).
		// Unready within the shutdown delay, so a draining pod leaves every
		// endpoint list before it stops listening.
		WithReadinessProbe(corev1ac.Probe().
			WithHTTPGet(corev1ac.HTTPGetAction().WithPath("/readyz").WithPort(intstr.FromString("metrics"))).
			WithPeriodSeconds(2).
			WithFailureThreshold(2)).
		// The root filesystem is read-only; a writable /tmp keeps the Go
		// runtime and libraries that spill to disk working.
		WithVolumeMounts(corev1ac.VolumeMount().WithName("tmp").WithMountPath("/tmp"))
	if env := goMemLimit(resources); env != nil {
		container.WithEnv(env)
	}

	pod := corev1ac.PodSpec().
		WithServiceAccountName(sts.Name).
		WithTerminationGracePeriodSeconds(terminationGracePeriod).
		WithSecurityContext(corev1ac.PodSecurityContext().
			WithRunAsNonRoot(true).
			WithSeccompProfile(corev1ac.SeccompProfile().WithType(corev1.SeccompProfileTypeRuntimeDefault))).
		WithContainers(container).
		WithVolumes(corev1ac.Volume().WithName("tmp").WithEmptyDir(corev1ac.EmptyDirVolumeSource().WithSizeLimit(resource.MustParse("64Mi"))))
	if err := withPodTemplate(pod, sts, pullSecrets); err != nil {
		return nil, err
	}

	template := corev1ac.PodTemplateSpec().WithLabels(podLabels(sts)).WithSpec(pod)
	if a := podTemplate(sts).Metadata.Annotations; len(a) > 0 {
		template.WithAnnotations(a)
	}
	return appsv1ac.Deployment(sts.Name, sts.Namespace).
		WithLabels(objectLabels(sts)).
		WithOwnerReferences(ownerReference(sts)).
		WithSpec(appsv1ac.DeploymentSpec().
			WithReplicas(replicas(sts)).
			WithSelector(metav1ac.LabelSelector().WithMatchLabels(stsLabels(sts))).
			WithTemplate(template)), nil
}

// renderService renders the Service in front of the STS pods: port 80 (and
// 443 with TLS) for token requests, and the metrics port for scraping.
func renderService(sts *stsv1alpha1.SecurityTokenService) *corev1ac.ServiceApplyConfiguration {
	ports := []*corev1ac.ServicePortApplyConfiguration{
		corev1ac.ServicePort().WithName("http").WithPort(80).WithTargetPort(intstr.FromString("http")).WithProtocol(corev1.ProtocolTCP),
		corev1ac.ServicePort().WithName("metrics").WithPort(metricsPort).WithTargetPort(intstr.FromString("metrics")).WithProtocol(corev1.ProtocolTCP),
	}
	if sts.Spec.TLS != nil {
		ports = append(ports, corev1ac.ServicePort().WithName("https").WithPort(443).WithTargetPort(intstr.FromString("https")).WithProtocol(corev1.ProtocolTCP))
	}
	return corev1ac.Service(sts.Name, sts.Namespace).
		WithLabels(objectLabels(sts)).
		WithOwnerReferences(ownerReference(sts)).
		WithSpec(corev1ac.ServiceSpec().
			WithType(corev1.ServiceTypeClusterIP).
			WithSelector(stsLabels(sts)).
			WithPorts(ports...))
}

// renderServiceAccount renders the identity of the STS pods.
func renderServiceAccount(sts *stsv1alpha1.SecurityTokenService) *corev1ac.ServiceAccountApplyConfiguration {
	return corev1ac.ServiceAccount(sts.Name, sts.Namespace).
		WithLabels(objectLabels(sts)).
		WithOwnerReferences(ownerReference(sts))
}

// renderRole renders what the STS pods may read: the trustbroker resources
// of their namespace, ConfigMaps, and only the Secrets in secretNames. With
// no Secret names the Secrets rule is left out, because a rule with empty
// resourceNames would grant every Secret. They may also post events, which
// is how they tell the STS's owners what the operator cannot see (a
// PKCS#11 token refusing its PIN).
func renderRole(sts *stsv1alpha1.SecurityTokenService, secretNames []string) *rbacv1ac.RoleApplyConfiguration {
	read := []string{"get", "list", "watch"}
	rules := []*rbacv1ac.PolicyRuleApplyConfiguration{
		rbacv1ac.PolicyRule().
			WithAPIGroups(stsv1alpha1.GroupVersion.Group).
			WithResources("securitytokenservices", "relyingparties", "trustedissuers").
			WithVerbs(read...),
		rbacv1ac.PolicyRule().WithAPIGroups("").WithResources("configmaps").WithVerbs(read...),
		rbacv1ac.PolicyRule().WithAPIGroups("events.k8s.io").WithResources("events").WithVerbs("create", "patch"),
	}
	if len(secretNames) > 0 {
		rules = append(rules, rbacv1ac.PolicyRule().
			WithAPIGroups("").
			WithResources("secrets").
			WithResourceNames(secretNames...).
			WithVerbs(read...))
	}
	return rbacv1ac.Role(sts.Name, sts.Namespace).
		WithLabels(objectLabels(sts)).
		WithOwnerReferences(ownerReference(sts)).
		WithRules(rules...)
}

// renderRoleBinding grants the Role to the STS pods' ServiceAccount.
func renderRoleBinding(sts *stsv1alpha1.SecurityTokenService) *rbacv1ac.RoleBindingApplyConfiguration {
	return rbacv1ac.RoleBinding(sts.Name, sts.Namespace).
		WithLabels(objectLabels(sts)).
		WithOwnerReferences(ownerReference(sts)).
		WithRoleRef(rbacv1ac.RoleRef().WithAPIGroup("rbac.authorization.k8s.io").WithKind("Role").WithName(sts.Name)).
		WithSubjects(rbacv1ac.Subject().WithKind("ServiceAccount").WithName(sts.Name).WithNamespace(sts.Namespace))
}

// renderPodDisruptionBudget keeps one STS pod running through voluntary
// disruptions such as node drains; only rendered when there is more than one.
func renderPodDisruptionBudget(sts *stsv1alpha1.SecurityTokenService) *policyv1ac.PodDisruptionBudgetApplyConfiguration {
	return policyv1ac.PodDisruptionBudget(sts.Name, sts.Namespace).
		WithLabels(objectLabels(sts)).
		WithOwnerReferences(ownerReference(sts)).
		WithSpec(policyv1ac.PodDisruptionBudgetSpec().
			WithMinAvailable(intstr.FromInt32(1)).
			WithSelector(metav1ac.LabelSelector().WithMatchLabels(stsLabels(sts))))
}

// portAddr is the listen address of a port on every interface of the pod.
func portAddr(port int) string { return ":" + strconv.Itoa(port) }
