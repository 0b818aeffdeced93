package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RelyingParty conditions, with the common Ready, Accepted and CertificateValid:
//   - Accepted is True when the SecurityTokenService named in stsRef exists and
//     took this relying party; False with reason STSNotFound or Conflict (another
//     relying party of the same STS already claims the endpoint).
//   - CertificateValid is True when the encryption certificate can be read, is
//     current, is an RSA key of at least 2048 bits allowed to encipher keys;
//     False with a message naming what is wrong (for example its notAfter).
//     When encryption is off it is True with reason NotRequired.
//   - Ready is True when tokens are being issued for this relying party.
const (
	// ReasonSTSNotFound: stsRef names no SecurityTokenService in the namespace.
	ReasonSTSNotFound = "STSNotFound"
	// ReasonConflict: an object of the same STS that takes precedence
	// (created earlier, or in the same second with a name that sorts first)
	// claims the same endpoint (RelyingParty) or issuer name
	// (TrustedIssuer); the STS serves only that one.
	ReasonConflict = "Conflict"
	// ReasonCertificateExpired: a certificate's notAfter has passed.
	ReasonCertificateExpired = "CertificateExpired"
	// ReasonCertificateExpiringSoon: a certificate expires within 30 days.
	ReasonCertificateExpiringSoon = "ExpiringSoon"
	// ReasonCertificateInvalid: a certificate cannot be read or used.
	ReasonCertificateInvalid = "CertificateInvalid"
	// ReasonNotRequired: no certificate is needed.
	ReasonNotRequired = "NotRequired"
)

// RelyingParty is an application (a web service provider) that accepts tokens
// from a SecurityTokenService. A token request whose AppliesTo matches the
// endpoint gets a token shaped the way this resource says: its type, subject
// name, attributes, lifetime and, when asked, encrypted for the application's
// certificate.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=rp,categories=trustbroker
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="STS",type=string,JSONPath=`.spec.stsRef.name`
// +kubebuilder:printcolumn:name="Endpoint",type=string,JSONPath=`.spec.endpoint`
// +kubebuilder:printcolumn:name="Token Type",type=string,JSONPath=`.spec.tokenType`
// +kubebuilder:printcolumn:name="Cert Expiry",type=string,JSONPath=`.status.certificate.notAfter`,description="When the encryption certificate expires (RFC 3339, UTC)"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`,priority=1
type RelyingParty struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   RelyingPartySpec   `json:"spec"`
	Status RelyingPartyStatus `json:"status,omitempty"`
}

// MatchType says how a request's AppliesTo is compared with the endpoint.
// +kubebuilder:validation:Enum=Exact;Prefix
type MatchType string

const (
	// MatchExact matches an AppliesTo equal to the endpoint.
	MatchExact MatchType = "Exact"
	// MatchPrefix matches an AppliesTo that starts with the endpoint; the
	// longest matching prefix wins.
	MatchPrefix MatchType = "Prefix"
)

// KeyType is the kind of proof a token carries.
// +kubebuilder:validation:Enum=Bearer;SymmetricKey;PublicKey;SenderVouches
type KeyType string

const (
	// KeyTypeBearer: no proof key; whoever holds the token may use it.
	KeyTypeBearer KeyType = "Bearer"
	// KeyTypeSymmetricKey: holder-of-key with a shared secret proof key.
	KeyTypeSymmetricKey KeyType = "SymmetricKey"
	// KeyTypePublicKey: holder-of-key with the requestor's public key.
	KeyTypePublicKey KeyType = "PublicKey"
	// KeyTypeSenderVouches: a trusted service vouches for the subject.
	KeyTypeSenderVouches KeyType = "SenderVouches"
)

// RelyingPartySpec is the desired state of a relying party.
//
// +kubebuilder:validation:XValidation:rule="!(has(self.match) && self.match == 'Prefix' && self.endpoint.contains('?'))",message="match: Prefix needs an endpoint without a query string: remove the '?...' part or use match: Exact"
type RelyingPartySpec struct {
	// STSRef names the SecurityTokenService, in the same namespace, that
	// issues tokens for this relying party.
	STSRef LocalObjectReference `json:"stsRef"`

	// Endpoint is the address clients send as AppliesTo: an absolute http(s)
	// URL such as "https://app.example.com/service", or a URN such as
	// "urn:federation:MicrosoftOnline".
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="(isURL(self) && url(self).getScheme() in ['http', 'https'] && url(self).getHostname() != '') || self.matches('^urn:[A-Za-z0-9][A-Za-z0-9-]*:[^ ]+$')",message="endpoint must be an absolute http(s) URL such as https://app.example.com/service, or a URN such as urn:example:app"
	Endpoint string `json:"endpoint"`

	// Match compares AppliesTo with the endpoint: Exact (default) or Prefix.
	// +optional
	// +kubebuilder:default=Exact
	Match MatchType `json:"match,omitempty"`

	// Audiences go into the token's audience restriction. Defaults to the
	// endpoint.
	// +optional
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=2048
	Audiences []string `json:"audiences,omitempty"`

	// TokenType is the token issued: SAML20 (default) or SAML11. A request
	// that names a type is answered with that type.
	// +optional
	// +kubebuilder:default=SAML20
	TokenType TokenType `json:"tokenType,omitempty"`

	// AllowedKeyTypes are the proof kinds this relying party accepts: Bearer,
	// SymmetricKey and PublicKey (holder-of-key), SenderVouches. A request for
	// another kind is refused with a fault that lists these.
	// +optional
	// +kubebuilder:default={Bearer,SymmetricKey,PublicKey}
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=4
	// +listType=set
	AllowedKeyTypes []KeyType `json:"allowedKeyTypes,omitempty"`

	// Encryption encrypts issued tokens (and symmetric proof keys) for the
	// relying party's certificate, so that only it can read them.
	// +optional
	Encryption *EncryptionSpec `json:"encryption,omitempty"`

	// NameID says how the token's subject is named. Defaults to the STS's
	// saml.nameIDMapping.
	// +optional
	NameID *NameIDMapping `json:"nameID,omitempty"`

	// Attributes map user attributes into the token: each entry names the
	// SAML attribute and the user attribute it comes from.
	// +optional
	// +kubebuilder:validation:MaxItems=256
	// +listType=map
	// +listMapKey=name
	Attributes []AttributeMapping `json:"attributes,omitempty"`

	// IncludeMemberships adds the user's roles as a multi-valued attribute.
	// Defaults to the STS's saml.includeMemberships.
	// +optional
	IncludeMemberships *bool `json:"includeMemberships,omitempty"`

	// AttributeStatementOnly issues assertions with attribute statements and
	// no authentication statement.
	// +optional
	AttributeStatementOnly bool `json:"attributeStatementOnly,omitempty"`

	// TokenLifetime overrides the STS's tokenLifetime for this relying party,
	// as a duration such as "30m"; at most 24h.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') && duration(self) > duration('0s') && duration(self) <= duration('24h')",message="tokenLifetime must be a duration such as 1h or 30m, greater than zero and at most 24h"
	TokenLifetime *metav1.Duration `json:"tokenLifetime,omitempty"`

	// AllowedRoles, when set, lets only users holding one of these roles
	// obtain tokens for this relying party, on top of the STS's own list.
	// +optional
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=256
	AllowedRoles []string `json:"allowedRoles,omitempty"`

	// Issuer replaces the STS's spec.issuer in this relying party's tokens,
	// for a directory that expects an issuer URI of its own, such as one per
	// federated domain ("http://example.com/adfs/services/trust/"). The STS
	// does not take such tokens back (Validate, Renew, Cancel, OnBehalfOf):
	// only tokens under its own issuer are.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Issuer string `json:"issuer,omitempty"`

	// WSFederation lets browsers sign in to this relying party with
	// WS-Federation passive sign-in, as applications federated with AD FS do.
	// +optional
	WSFederation *WSFederationSpec `json:"wsFederation,omitempty"`
}

// AttributeMapping puts one user attribute into the token
// (SAML_attr_name=Real_attr_name).
type AttributeMapping struct {
	// Name is the SAML attribute name, for example
	// "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress" or "mail".
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Name string `json:"name"`

	// From is the user attribute (from the user store or directory) whose
	// values are used. Users without it get no such attribute.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	From string `json:"from"`

	// Namespace overrides the STS's saml.attributeNamespace for this attribute.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Namespace string `json:"namespace,omitempty"`
}

// DataAlgorithm encrypts token data.
// +kubebuilder:validation:Enum=aes256-gcm;aes128-gcm;aes128-cbc;aes192-cbc;aes256-cbc;tripledes-cbc
type DataAlgorithm string

// KeyTransport encrypts the data key for the relying party.
// +kubebuilder:validation:Enum=rsa-oaep;rsa-oaep-sha256;rsa-1_5
type KeyTransport string

// EncryptionSpec encrypts tokens, and holder-of-key proof keys, for the
// relying party.
//
// +kubebuilder:validation:XValidation:rule="!self.enabled || has(self.certificate)",message="encryption.enabled needs the relying party's certificate"
// +kubebuilder:validation:XValidation:rule="!has(self.keyTransport) || self.keyTransport != 'rsa-1_5' || (has(self.allowInsecureKeyTransport) && self.allowInsecureKeyTransport)",message="keyTransport rsa-1_5 is insecure: use rsa-oaep, or set allowInsecureKeyTransport: true if the relying party accepts nothing else"
type EncryptionSpec struct {
	// Enabled encrypts issued tokens. Without it the certificate is still
	// used to encrypt holder-of-key proof keys for the relying party.
	// +optional
	Enabled bool `json:"enabled,omitempty"`

	// Certificate is the relying party's encryption certificate.
	// +optional
	Certificate *CertificateSource `json:"certificate,omitempty"`

	// DataAlgorithm encrypts the token: aes256-gcm (default), aes128-gcm,
	// aes128-cbc, aes192-cbc, aes256-cbc or tripledes-cbc.
	// +optional
	// +kubebuilder:default=aes256-gcm
	DataAlgorithm DataAlgorithm `json:"dataAlgorithm,omitempty"`

	// KeyTransport encrypts the data key with the certificate's RSA key:
	// rsa-oaep (default, SHA-1 digest as most peers expect), rsa-oaep-sha256,
	// or rsa-1_5 with allowInsecureKeyTransport.
	// +optional
	// +kubebuilder:default=rsa-oaep
	KeyTransport KeyTransport `json:"keyTransport,omitempty"`

	// AllowInsecureKeyTransport permits keyTransport rsa-1_5, which is open
	// to padding-oracle attacks, for relying parties that support nothing else.
	// +optional
	AllowInsecureKeyTransport bool `json:"allowInsecureKeyTransport,omitempty"`
}

// RelyingPartyStatus is what the operator observed.
type RelyingPartyStatus struct {
	// Conditions: Accepted (an existing STS took this relying party),
	// CertificateValid (the encryption certificate is usable) and Ready
	// (tokens are issued for it). Each has a reason and a message that says
	// what to change.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Certificate describes the encryption certificate in use.
	// +optional
	Certificate *CertificateInfo `json:"certificate,omitempty"`

	// CertificateSourceVersion is the resourceVersion of the Secret or
	// ConfigMap that holds the encryption certificate, as the operator last
	// saw it; empty while it does not exist. STS pods read that object again
	// when this changes instead of each watching it, which keeps a pod that
	// serves thousands of relying parties small.
	// +optional
	CertificateSourceVersion string `json:"certificateSourceVersion,omitempty"`

	// ObservedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// +kubebuilder:object:root=true

// RelyingPartyList is a list of RelyingParty.
type RelyingPartyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []RelyingParty `json:"items"`
}

func init() {
	SchemeBuilder.Register(&RelyingParty{}, &RelyingPartyList{})
}
