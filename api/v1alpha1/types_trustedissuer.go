package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TrustedIssuer conditions are the common ones:
//   - Accepted is True when the SecurityTokenService named in stsRef exists and
//     took this issuer; False with reason STSNotFound.
//   - CertificateValid is True when every certificate can be read and is
//     current; False naming the certificate that is not (for example its
//     notAfter). It stays True with reason ExpiringSoon in the 30 days
//     before the first certificate expires.
//   - Ready is True when tokens from this issuer are accepted.

// TokenUsage is a purpose for which a trusted issuer's tokens are accepted.
// +kubebuilder:validation:Enum=OnBehalfOf;ActAs;Validate;Authentication
type TokenUsage string

const (
	// UsageOnBehalfOf accepts the issuer's tokens inside OnBehalfOf.
	UsageOnBehalfOf TokenUsage = "OnBehalfOf"
	// UsageActAs accepts the issuer's tokens inside ActAs.
	UsageActAs TokenUsage = "ActAs"
	// UsageValidate validates the issuer's tokens on request.
	UsageValidate TokenUsage = "Validate"
	// UsageAuthentication lets a caller authenticate with the issuer's token
	// in its WS-Security header.
	UsageAuthentication TokenUsage = "Authentication"
)

// TrustedIssuer is another token issuer (an identity provider, another STS)
// whose signed SAML tokens this STS accepts: to translate them (OnBehalfOf,
// ActAs), to validate them, or to let their holders authenticate.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=ti,categories=trustbroker
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="STS",type=string,JSONPath=`.spec.stsRef.name`
// +kubebuilder:printcolumn:name="Issuer",type=string,JSONPath=`.spec.issuer`
// +kubebuilder:printcolumn:name="Usages",type=string,JSONPath=`.spec.allowedUsages`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type TrustedIssuer struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   TrustedIssuerSpec   `json:"spec"`
	Status TrustedIssuerStatus `json:"status,omitempty"`
}

// TrustedIssuerSpec is the desired state of a trusted issuer.
type TrustedIssuerSpec struct {
	// STSRef names the SecurityTokenService, in the same namespace, that
	// trusts this issuer.
	STSRef LocalObjectReference `json:"stsRef"`

	// Issuer is the token Issuer value to match exactly, for example
	// "http://adfs.example.com/adfs/services/trust".
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Issuer string `json:"issuer"`

	// Certificates verify the issuer's token signatures. Several may be given
	// (in one PEM) so the issuer can roll its key over.
	Certificates CertificateSource `json:"certificates"`

	// AllowedUsages are what the issuer's tokens may be used for:
	// OnBehalfOf, ActAs, Validate, Authentication. Defaults to OnBehalfOf,
	// ActAs and Validate.
	// +optional
	// +kubebuilder:default={OnBehalfOf,ActAs,Validate}
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=4
	// +listType=set
	AllowedUsages []TokenUsage `json:"allowedUsages,omitempty"`

	// TokenTypes are the token types accepted from this issuer. Defaults to
	// both SAML20 and SAML11.
	// +optional
	// +kubebuilder:default={SAML20,SAML11}
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=2
	// +listType=set
	TokenTypes []TokenType `json:"tokenTypes,omitempty"`

	// AllowSHA1 accepts tokens signed with RSA-SHA1 or digested with SHA-1,
	// which older issuers (AD FS 2.0 by default) still produce. Off by
	// default: SHA-1 signatures can be forged with enough effort.
	// +optional
	AllowSHA1 bool `json:"allowSHA1,omitempty"`
}

// TrustedIssuerStatus is what the operator observed.
type TrustedIssuerStatus struct {
	// Conditions: Accepted, CertificateValid and Ready.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Certificates describes each certificate in use.
	// +optional
	Certificates []CertificateInfo `json:"certificates,omitempty"`

	// ObservedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// +kubebuilder:object:root=true

// TrustedIssuerList is a list of TrustedIssuer.
type TrustedIssuerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []TrustedIssuer `json:"items"`
}

func init() {
	SchemeBuilder.Register(&TrustedIssuer{}, &TrustedIssuerList{})
}
