package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SecretKeySelector names a Secret in the same namespace and, optionally, the
// key inside it. Each field that uses it documents its default key.
type SecretKeySelector struct {
	// Name of the Secret, in the same namespace as the resource that refers to it.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// Key inside the Secret. When omitted, the default key documented on the
	// referring field is used.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key,omitempty"`
}

// ConfigMapKeySelector names a ConfigMap in the same namespace and, optionally,
// the key inside it.
type ConfigMapKeySelector struct {
	// Name of the ConfigMap, in the same namespace as the resource that refers to it.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// Key inside the ConfigMap. Defaults to "ca.crt", then "tls.crt".
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key,omitempty"`
}

// LocalObjectReference names another trustbroker object in the same namespace.
type LocalObjectReference struct {
	// Name of the object, in the same namespace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// CertificateSource says where one or more PEM certificates come from. Give
// exactly one of secretRef, configMapRef or pem. Every certificate in the PEM
// data is used, so a partner can roll over to a new certificate by publishing
// both for a while.
//
// +kubebuilder:validation:XValidation:rule="[has(self.secretRef), has(self.configMapRef), has(self.pem)].filter(x, x).size() == 1",message="give the certificate exactly one way: secretRef, configMapRef or pem"
type CertificateSource struct {
	// SecretRef reads the certificates from a Secret; the default key is
	// "ca.crt", then "tls.crt".
	// +optional
	SecretRef *SecretKeySelector `json:"secretRef,omitempty"`

	// ConfigMapRef reads the certificates from a ConfigMap; the default key is
	// "ca.crt", then "tls.crt".
	// +optional
	ConfigMapRef *ConfigMapKeySelector `json:"configMapRef,omitempty"`

	// PEM holds the certificates inline, as one or more
	// "-----BEGIN CERTIFICATE-----" blocks.
	// +optional
	// +kubebuilder:validation:MaxLength=262144
	// +kubebuilder:validation:XValidation:rule="self.contains('-----BEGIN CERTIFICATE-----')",message="pem must hold at least one -----BEGIN CERTIFICATE----- block"
	PEM string `json:"pem,omitempty"`
}

// CertificateInfo describes a certificate the STS uses, so that its owner can
// see which one is live and when it expires without decoding Secrets.
type CertificateInfo struct {
	// Subject is the certificate's subject distinguished name.
	Subject string `json:"subject,omitempty"`

	// NotAfter is the end of the certificate's validity.
	NotAfter *metav1.Time `json:"notAfter,omitempty"`

	// SHA256Fingerprint is the hex SHA-256 digest of the DER certificate, as
	// `openssl x509 -fingerprint -sha256` prints it.
	SHA256Fingerprint string `json:"sha256Fingerprint,omitempty"`
}

// TokenType names a kind of SAML token.
// +kubebuilder:validation:Enum=SAML20;SAML11
type TokenType string

const (
	// TokenTypeSAML20 is a SAML 2.0 assertion.
	TokenTypeSAML20 TokenType = "SAML20"
	// TokenTypeSAML11 is a SAML 1.1 assertion.
	TokenTypeSAML11 TokenType = "SAML11"
)

// NameIDMapping says how the subject of an issued token is named.
type NameIDMapping struct {
	// Format is the NameID format URI, for example
	// "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress" or
	// "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent". Defaults to
	// "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified".
	// +optional
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Za-z][A-Za-z0-9+.-]*:[^ ]+$')",message="format must be an absolute URI such as urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
	Format string `json:"format,omitempty"`

	// Attribute is the user attribute whose value becomes the NameID. Empty
	// means the authenticated user name (or Kerberos principal, or certificate
	// subject).
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Attribute string `json:"attribute,omitempty"`
}

// Common condition types. Each kind documents what they mean for it.
const (
	// ConditionReady is True when the object is fully in effect.
	ConditionReady = "Ready"
	// ConditionAccepted is True when an existing SecurityTokenService took the object.
	ConditionAccepted = "Accepted"
	// ConditionCertificateValid is True when every certificate of the object is
	// current, usable for its purpose and not about to expire.
	ConditionCertificateValid = "CertificateValid"
)
