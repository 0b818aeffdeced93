// Package controllers holds the operator's reconcilers: one per kind, each
// turning the trustbroker resources into running STS pods and into status
// that tells their owners what to fix.
package controllers

// The operator's permissions, declared once for all reconcilers; `make
// manifests` writes them to config/rbac/role.yaml. They name only what the
// reconcilers do: the three kinds are read and only their status written;
// Secrets and ConfigMaps are read (the Roles of the STS pods grant reads of
// them, and a Role may grant no more than its creator holds); the objects an
// STS runs on are server-side applied (create and patch), and only a
// PodDisruptionBudget is ever deleted: the rest go with their owner. Their
// owner references block the owner's deletion, which needs update on
// securitytokenservices/finalizers where OwnerReferencesPermissionEnforcement
// is on.
// Leader election's leases and events are a Role of the operator's
// namespace (config/rbac/leader_election_role.yaml).
//
// +kubebuilder:rbac:groups=sts.trustbroker.io,resources=securitytokenservices;relyingparties;trustedissuers,verbs=get;list;watch
// +kubebuilder:rbac:groups=sts.trustbroker.io,resources=securitytokenservices/status;relyingparties/status;trustedissuers/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=sts.trustbroker.io,resources=securitytokenservices/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets;configmaps,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=services;serviceaccounts,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups=policy,resources=poddisruptionbudgets,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=roles;rolebindings,verbs=get;list;watch;create;patch
