// Package controllers holds the operator's reconcilers: one per kind, each
// turning the trustbroker resources into running STS pods and into status
// that tells their owners what to fix.
package controllers

// The operator's permissions, declared once for all reconcilers; `make
// manifests` writes them to config/rbac/role.yaml.
//
// +kubebuilder:rbac:groups=sts.trustbroker.io,resources=securitytokenservices;relyingparties;trustedissuers,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=sts.trustbroker.io,resources=securitytokenservices/status;relyingparties/status;trustedissuers/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=sts.trustbroker.io,resources=securitytokenservices/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets;configmaps,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=services;serviceaccounts,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=policy,resources=poddisruptionbudgets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=roles;rolebindings,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;list;watch;create;update;patch;delete
