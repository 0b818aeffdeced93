package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TrustedIssuer conditions are the common ones:
//   - Accepted is True when the SecurityTokenService named in stsRef exists and
//     took this issuer; False with reason STSNotFound.
//   - CertificateValid is True when every certificate (of certificates and of
//     webhook.caBundle) can be read and is current; False naming the
//     certificate that is not (for example its notAfter). It stays True with
//     reason ExpiringSoon in the 30 days before the first certificate expires.
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

// IssuerTokenType is a token type accepted from a trusted issuer: SAML20,
// SAML11, or the URI of a custom token type, which the issuer's webhook
// validates.
// +kubebuilder:validation:MaxLength=512
// +kubebuilder:validation:Pattern=`^(SAML20|SAML11|[A-Za-z][A-Za-z0-9+.-]*:[^\s]+)$`
type IssuerTokenType string

// TrustedIssuer is another token issuer (an identity provider, another STS)
// whose signed SAML tokens this STS accepts: to translate them (OnBehalfOf,
// ActAs), to validate them, or to let their holders authenticate. With a
// webhook it also vouches for tokens of custom types, which the webhook
// validates.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=ti,categories=trustbroker
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="STS",type=string,JSONPath=`.spec.stsRef.name`
// +kubebuilder:printcolumn:name="Issuer",type=string,JSONPath=`.spec.issuer`
// +kubebuilder:printcolumn:name="Usages",type=string,JSONPath=`.spec.allowedUsages`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`,priority=1
type TrustedIssuer struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   TrustedIssuerSpec   `json:"spec"`
	Status TrustedIssuerStatus `json:"status,omitempty"`
}

// TrustedIssuerSpec is the desired state of a trusted issuer.
//
// +kubebuilder:validation:XValidation:rule="has(self.certificates) || has(self.webhook)",message="give spec.certificates (to verify SAML tokens), spec.webhook (to validate custom token types), or both"
// +kubebuilder:validation:XValidation:rule="has(self.certificates) || (has(self.tokenTypes) && self.tokenTypes.all(t, t != 'SAML20' && t != 'SAML11'))",message="SAML20 and SAML11 in spec.tokenTypes need spec.certificates to verify their signatures: add spec.certificates, or list only custom token type URIs"
// +kubebuilder:validation:XValidation:rule="has(self.webhook) || !has(self.tokenTypes) || self.tokenTypes.all(t, t == 'SAML20' || t == 'SAML11')",message="a custom token type URI in spec.tokenTypes needs spec.webhook to validate it"
// +kubebuilder:validation:XValidation:rule="!has(self.webhook) || (has(self.tokenTypes) && self.tokenTypes.exists(t, t != 'SAML20' && t != 'SAML11'))",message="spec.webhook needs the custom token type URIs it validates in spec.tokenTypes"
type TrustedIssuerSpec struct {
	// STSRef names the SecurityTokenService, in the same namespace, that
	// trusts this issuer.
	STSRef LocalObjectReference `json:"stsRef"`

	// Issuer is the token Issuer value to match exactly, for example
	// "http://adfs.example.com/adfs/services/trust".
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Issuer string `json:"issuer"`

	// Certificates verify the issuer's SAML token signatures. Several may be
	// given (in one PEM) so the issuer can roll its key over. Required unless
	// the issuer only has a webhook for custom token types.
	// +optional
	Certificates *CertificateSource `json:"certificates,omitempty"`

	// AllowedUsages are what the issuer's tokens may be used for:
	// OnBehalfOf, ActAs, Validate, Authentication. Defaults to OnBehalfOf,
	// ActAs and Validate.
	// +optional
	// +kubebuilder:default={OnBehalfOf,ActAs,Validate}
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=4
	// +listType=set
	AllowedUsages []TokenUsage `json:"allowedUsages,omitempty"`

	// TokenTypes are the token types accepted from this issuer: SAML20,
	// SAML11, and custom token type URIs, which spec.webhook validates. A
	// custom token's type is the ValueType of a wsse:BinarySecurityToken, or
	// the namespace URI of any other token element. Defaults to both SAML20
	// and SAML11.
	// +optional
	// +kubebuilder:default={SAML20,SAML11}
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +listType=set
	TokenTypes []IssuerTokenType `json:"tokenTypes,omitempty"`

	// Webhook validates this issuer's tokens of the custom types in
	// tokenTypes: the STS posts each such token to it as a TokenReview and
	// accepts the subject and attributes it answers with. Any failure to get
	// a clear answer (a timeout, an error status, a TLS or JSON error)
	// refuses the token.
	// +optional
	Webhook *TokenReviewWebhook `json:"webhook,omitempty"`

	// AllowSHA1 accepts tokens signed with RSA-SHA1 or digested with SHA-1,
	// which older issuers (AD FS 2.0 by default) still produce. Off by
	// default: SHA-1 signatures can be forged with enough effort.
	// +optional
	AllowSHA1 bool `json:"allowSHA1,omitempty"`
}

// TokenReviewWebhook is an HTTPS endpoint that validates custom tokens.
type TokenReviewWebhook struct {
	// URL is where the STS posts TokenReviews. It must be https://; redirects
	// are not followed.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() == 'https' && url(self).getHost() != ''",message="webhook.url must be an https:// URL with a host"
	// +kubebuilder:validation:XValidation:rule="!self.contains('#') && !self.contains('@')",message="webhook.url must not carry a fragment or user credentials"
	URL string `json:"url"`

	// CABundle holds the CA certificates that sign the webhook's serving
	// certificate (pem, or a Secret or ConfigMap; default key ca.crt, then
	// tls.crt). Absent trusts the system's roots.
	// +optional
	CABundle *CertificateSource `json:"caBundle,omitempty"`

	// Timeout bounds one review, connection included. Default 5s, at most
	// 30s.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') && duration(self) > duration('0s') && duration(self) <= duration('30s')",message="webhook.timeout must be a duration such as 5s, greater than zero and at most 30s"
	Timeout *metav1.Duration `json:"timeout,omitempty"`
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
