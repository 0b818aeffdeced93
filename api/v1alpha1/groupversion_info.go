// Package v1alpha1 holds the trustbroker API: a SecurityTokenService, the
// RelyingParty resources it issues tokens for, and the TrustedIssuer resources
// whose tokens it accepts.
//
// +kubebuilder:object:generate=true
// +groupName=sts.trustbroker.io
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of every trustbroker kind.
	GroupVersion = schema.GroupVersion{Group: "sts.trustbroker.io", Version: "v1alpha1"}

	// SchemeBuilder registers the trustbroker kinds with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the trustbroker kinds to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
