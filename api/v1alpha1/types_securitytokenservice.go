package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SecurityTokenService conditions, in addition to Ready.
const (
	// ConditionSigningKeyValid is True when the signing Secret holds a private
	// key and a matching, current certificate that suits the signature
	// algorithm. It turns False when the Secret is missing or unreadable, when
	// the key and certificate do not match, or when the certificate has
	// expired; its message says which and what to change. Thirty days before
	// the certificate expires it stays True with reason ExpiringSoon.
	ConditionSigningKeyValid = "SigningKeyValid"

	// ConditionAvailable is True when at least one STS pod is ready to answer
	// requests with the current policy.
	ConditionAvailable = "Available"

	// ConditionReplayDetectionShared is True when every pod refuses what any
	// pod has seen: with one replica (reason SingleReplica) or with
	// replayDetection.store.redis (reason SharedStore). It is False with
	// reason PerPodStore when several replicas each keep replay records in
	// their own memory: a signed request or nonce replayed to another pod is
	// accepted there, and cancelled tokens, lockout counts and sign-outs hold
	// on one pod only. The message says what to set. Ready does not depend on
	// it: the pods serve either way.
	ConditionReplayDetectionShared = "ReplayDetectionShared"

	// ConditionPolicyLoaded is what the STS pods say of the STS's settings,
	// which they alone can check in full (a PKCS#11 token's PIN is tried by
	// the pods). True (reason Loaded) when no running pod has reported a
	// problem in the last ten minutes (a pod says when its problem is over,
	// and when it stops); False with the reason and message of the latest
	// report of a pod: PolicyNotRebuilt (the pod keeps serving its last good
	// policy) or PolicyPartUnused (a part of the settings is switched off,
	// or the signing key keeps its last good version). Ready is False while
	// it is.
	ConditionPolicyLoaded = "PolicyLoaded"
)

// Reasons of PolicyLoaded; the pods' events carry the same reasons.
const (
	ReasonLoaded           = "Loaded"
	ReasonPolicyNotRebuilt = "PolicyNotRebuilt"
	ReasonPolicyPartUnused = "PolicyPartUnused"
)

// Reasons of ReplayDetectionShared.
const (
	ReasonSingleReplica = "SingleReplica"
	ReasonSharedStore   = "SharedStore"
	ReasonPerPodStore   = "PerPodStore"
)

// SecurityTokenService is a WS-Trust Security Token Service: the operator runs
// it as a Deployment of STS pods that authenticate callers and issue signed
// SAML tokens for the RelyingParty resources that name it. Every pod watches
// this object, its relying parties, its trusted issuers and the Secrets they
// name, and applies changes without a restart.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=stsvc,categories=trustbroker
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Issuer",type=string,JSONPath=`.spec.issuer`
// +kubebuilder:printcolumn:name="Endpoint",type=string,JSONPath=`.spec.endpoint`
// +kubebuilder:printcolumn:name="Replicas",type=integer,JSONPath=`.status.readyReplicas`
// +kubebuilder:printcolumn:name="RPs",type=integer,JSONPath=`.status.relyingParties`
// +kubebuilder:printcolumn:name="Signing Cert Expiry",type=string,JSONPath=`.status.signingCertificate.notAfter`,description="When the signing certificate expires (RFC 3339, UTC)"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`,priority=1
type SecurityTokenService struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   SecurityTokenServiceSpec   `json:"spec"`
	Status SecurityTokenServiceStatus `json:"status,omitempty"`
}

// SecurityTokenServiceSpec is the desired state of an STS.
type SecurityTokenServiceSpec struct {
	// Issuer is the name this STS puts in the Issuer of every token it
	// issues, for example "https://sts.example.com/trust" or "urn:example:sts".
	// Relying parties check tokens against it.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Issuer string `json:"issuer"`

	// Endpoint is the public URL clients use to reach the STS (behind any load
	// balancer), for example "https://sts.example.com/sts". It is the address
	// in the WSDL and in metadata.
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() in ['http', 'https'] && url(self).getHostname() != ''",message="endpoint must be an absolute http or https URL, such as https://sts.example.com/sts"
	Endpoint string `json:"endpoint"`

	// Replicas is the number of STS pods (default 1). Every pod serves the
	// same policy. More than one needs replayDetection.store.redis: with the
	// memory store each pod keeps the replay records of its own requests,
	// and a captured request replayed to another pod would be answered
	// there (the condition ReplayDetectionShared says so).
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	Replicas *int32 `json:"replicas,omitempty"`

	// Image overrides the STS container image the operator runs.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Image string `json:"image,omitempty"`

	// PodTemplate adds labels, annotations, resources, scheduling rules and
	// image pull secrets to the STS pods.
	// +optional
	PodTemplate *STSPodTemplate `json:"podTemplate,omitempty"`

	// Signing says which key signs issued tokens (and responses, when
	// responseSecurity asks).
	Signing SigningSpec `json:"signing"`

	// TLS makes the STS serve HTTPS itself. Leave it out when a
	// TLS-terminating proxy or ingress sits in front.
	// +optional
	TLS *TLSSpec `json:"tls,omitempty"`

	// RequestDecryption lets clients encrypt their requests (the Body, a
	// UsernameToken, header blocks) for the STS, with a key pair of its own
	// (AD FS's token-decrypting certificate), never the signing key. Its
	// certificate is published in the WSDL and the metadata exchange.
	// Without it, an encrypted request is refused.
	// +optional
	RequestDecryption *RequestDecryptionSpec `json:"requestDecryption,omitempty"`

	// TokenLifetime is how long issued tokens are valid, as a duration such as
	// "1h" or "15m", at most 24h. A RelyingParty can set its own.
	// +optional
	// +kubebuilder:default="1h"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') && duration(self) > duration('0s') && duration(self) <= duration('24h')",message="tokenLifetime must be a duration such as 1h or 30m, greater than zero and at most 24h"
	TokenLifetime *metav1.Duration `json:"tokenLifetime,omitempty"`

	// MaxClockSkew is how far apart the clocks of callers and the STS may be
	// when timestamps and token validity are checked, such as "5m"; at most 1h.
	// +optional
	// +kubebuilder:default="5m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') && duration(self) >= duration('0s') && duration(self) <= duration('1h')",message="maxClockSkew must be a duration such as 5m, at most 1h"
	MaxClockSkew *metav1.Duration `json:"maxClockSkew,omitempty"`

	// Authentication says how callers prove who they are.
	// +optional
	// +kubebuilder:default={}
	Authentication AuthenticationSpec `json:"authentication,omitempty"`

	// ReplayDetection picks where the STS remembers the nonces, Kerberos
	// authenticators and signed messages it has seen, so that a replay is
	// refused (detection is always on).
	// +optional
	// +kubebuilder:default={}
	ReplayDetection ReplayDetectionSpec `json:"replayDetection,omitempty"`

	// TrustedAddresses lists the client addresses (IP addresses or CIDR
	// ranges such as "10.0.0.0/8") allowed to call the STS. Empty allows all.
	// +optional
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.all(a, isCIDR(a) || isIP(a))",message="trustedAddresses must be IP addresses or CIDR ranges such as 10.0.0.0/8"
	TrustedAddresses []string `json:"trustedAddresses,omitempty"`

	// OnBehalfOf governs token translation: requests that carry another
	// party's token in OnBehalfOf or ActAs.
	// +optional
	// +kubebuilder:default={}
	OnBehalfOf OnBehalfOfSpec `json:"onBehalfOf,omitempty"`

	// Renewal bounds Renew requests: only the token's subject, or a
	// requestor listed in onBehalfOf.allowedRequestors, may renew a token.
	// +optional
	// +kubebuilder:default={}
	Renewal RenewalSpec `json:"renewal,omitempty"`

	// ResponseSecurity signs the SOAP response itself, for clients that ask
	// for message-level protection.
	// +optional
	// +kubebuilder:default={}
	ResponseSecurity ResponseSecuritySpec `json:"responseSecurity,omitempty"`

	// SAML holds defaults for the assertions this STS builds; a RelyingParty
	// can override them.
	// +optional
	// +kubebuilder:default={}
	SAML SAMLSpec `json:"saml,omitempty"`

	// DefaultRelyingPartyRef names the RelyingParty used for requests that
	// carry no AppliesTo. Without it such requests are refused.
	// +optional
	DefaultRelyingPartyRef *LocalObjectReference `json:"defaultRelyingPartyRef,omitempty"`

	// SignInPage brands the WS-Federation passive sign-in page at /adfs/ls/
	// (served on the TLS listener) and keeps its sessions.
	// +optional
	SignInPage *SignInPageSpec `json:"signInPage,omitempty"`
}

// SignatureAlgorithm is an XML signature algorithm for issued tokens.
// +kubebuilder:validation:Enum=rsa-sha256;rsa-sha1;rsa-sha512;ecdsa-sha256
type SignatureAlgorithm string

// DigestAlgorithm is the digest of signed references.
// +kubebuilder:validation:Enum=sha256;sha1;sha512
type DigestAlgorithm string

// SigningSpec names the key that signs tokens: a Secret, or a key in a
// PKCS#11 token (an HSM) beside its certificate.
//
// +kubebuilder:validation:XValidation:rule="has(self.secretRef) != has(self.pkcs11)",message="give the signing key exactly one way: secretRef or pkcs11"
// +kubebuilder:validation:XValidation:rule="has(self.pkcs11) == has(self.certificate)",message="pkcs11 needs certificate, the signing key's certificate chain; with secretRef the Secret holds the chain"
type SigningSpec struct {
	// SecretRef names a kubernetes.io/tls Secret holding the certificate
	// chain (key "tls.crt", or the key given here) and its private key
	// ("tls.key"; PKCS#1, PKCS#8 or SEC1). Replacing the Secret's data rotates
	// the key within a second, with no restart.
	// +optional
	SecretRef *SecretKeySelector `json:"secretRef,omitempty"`

	// PKCS11 names a private key that never leaves a PKCS#11 token; the STS
	// signs through the token's module. Only the trustbroker-pkcs11 image
	// (built with PKCS#11 support) can use it; other builds report that
	// they cannot.
	// +optional
	PKCS11 *PKCS11Spec `json:"pkcs11,omitempty"`

	// Certificate is the certificate chain of the pkcs11 key, signing
	// certificate first: exactly one of secretRef, configMapRef or pem.
	// +optional
	Certificate *CertificateSource `json:"certificate,omitempty"`

	// SignatureAlgorithm signs tokens. rsa-sha256 by default; rsa-sha1 only
	// for relying parties that cannot verify anything newer; ecdsa-sha256
	// needs an EC key.
	// +optional
	// +kubebuilder:default=rsa-sha256
	SignatureAlgorithm SignatureAlgorithm `json:"signatureAlgorithm,omitempty"`

	// DigestAlgorithm digests the signed token. sha256 by default.
	// +optional
	// +kubebuilder:default=sha256
	DigestAlgorithm DigestAlgorithm `json:"digestAlgorithm,omitempty"`

	// PreviousCertificates lists the certificates of earlier signing keys
	// whose tokens are still accepted for Validate, Renew and OnBehalfOf/ActAs
	// after a rotation: exactly one of secretRef, configMapRef or pem. These
	// are the only older keys the STS accepts, so every replica, restarted or
	// not, decides alike. Keep a rotated-out certificate here until the last
	// tokens it signed have expired; never list one whose key may be
	// compromised. When the source cannot be read, no older key is accepted.
	// +optional
	PreviousCertificates *CertificateSource `json:"previousCertificates,omitempty"`
}

// PKCS11Spec finds a signing key in a PKCS#11 token.
//
// +kubebuilder:validation:XValidation:rule="has(self.keyLabel) != has(self.keyID)",message="name the key exactly one way: keyLabel or keyID"
type PKCS11Spec struct {
	// Module is the absolute path of the token's PKCS#11 library in the STS
	// container, such as /usr/lib/softhsm/libsofthsm2.so.
	// +kubebuilder:validation:MinLength=2
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:Pattern=`^/`
	Module string `json:"module"`

	// TokenLabel is the label of the token holding the key.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=32
	TokenLabel string `json:"tokenLabel"`

	// KeyLabel is the private key's label (CKA_LABEL).
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	KeyLabel string `json:"keyLabel,omitempty"`

	// KeyID is the private key's identifier (CKA_ID), in hexadecimal.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^([0-9a-fA-F]{2})+$`
	KeyID string `json:"keyID,omitempty"`

	// PINSecretRef names the Secret holding the user PIN (key "pin", or the
	// key given here). The PIN is never logged.
	PINSecretRef SecretKeySelector `json:"pinSecretRef"`
}

// RequestDecryptionSpec names the key that decrypts requests and the
// algorithms accepted.
type RequestDecryptionSpec struct {
	// SecretRef names a kubernetes.io/tls Secret ("tls.crt" and "tls.key")
	// holding an RSA key pair used for nothing else.
	SecretRef SecretKeySelector `json:"secretRef"`

	// DataAlgorithms lists the data encryption algorithms accepted. The
	// default accepts AES-GCM only; CBC and 3DES modes, open to padding
	// oracle attacks, are accepted only when listed here.
	// +optional
	// +kubebuilder:default={aes256-gcm,aes128-gcm}
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=6
	// +listType=set
	DataAlgorithms []DataAlgorithm `json:"dataAlgorithms,omitempty"`
}

// TLSSpec names the serving certificate.
type TLSSpec struct {
	// SecretRef names a kubernetes.io/tls Secret with the serving certificate
	// chain ("tls.crt") and key ("tls.key").
	SecretRef SecretKeySelector `json:"secretRef"`
}

// AuthenticationSpec lists the ways callers may authenticate. Enable at least
// one, or the STS refuses every request.
type AuthenticationSpec struct {
	// UsernameToken accepts a WS-Security UsernameToken (user name and
	// password) checked against a user store.
	// +optional
	UsernameToken *UsernameTokenSpec `json:"usernameToken,omitempty"`

	// X509 accepts requests signed with an X.509 certificate (WS-Security
	// signature) or a TLS client certificate.
	// +optional
	X509 *X509Spec `json:"x509,omitempty"`

	// Kerberos accepts a Kerberos AP-REQ in a WS-Security BinarySecurityToken.
	// +optional
	Kerberos *KerberosSpec `json:"kerberos,omitempty"`

	// MaxMessageAge is how old a request may be, by the Created time of its
	// wsu:Timestamp (and of a PasswordDigest UsernameToken), such as "5m".
	// An older one is refused as expired; an Expires further away than this
	// is shortened to it, so that a captured request cannot be replayed for
	// long. At most 1h.
	// +optional
	// +kubebuilder:default="5m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') && duration(self) > duration('0s') && duration(self) <= duration('1h')",message="maxMessageAge must be a duration such as 5m, greater than zero and at most 1h"
	MaxMessageAge *metav1.Duration `json:"maxMessageAge,omitempty"`

	// Lockout refuses sign-ins for a while after repeated failures (an
	// extranet lockout, as AD FS offers): per user name and per client
	// address, shared by all replicas when replayDetection uses Redis.
	// +optional
	Lockout *LockoutSpec `json:"lockout,omitempty"`

	// AllowedRoles, when set, lets only users holding one of these roles
	// obtain tokens (for example ["admin"]). Empty lets any authenticated
	// caller in. A RelyingParty can narrow this further.
	// +optional
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=256
	AllowedRoles []string `json:"allowedRoles,omitempty"`
}

// LockoutSpec configures the extranet lockout.
type LockoutSpec struct {
	// Threshold is how many failed authentications (wrong passwords; failed
	// certificate or Kerberos checks count for the client address) are
	// allowed within the window. Once reached, further attempts by that user
	// or from that address are refused, whatever the credentials, until the
	// window has passed. 0 (the default) turns lockout off.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=10000
	Threshold int32 `json:"threshold,omitempty"`

	// Window is how long failures are counted, and how long a lockout
	// lasts, as a duration such as "15m"; at most 24h.
	// +optional
	// +kubebuilder:default="15m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') && duration(self) > duration('0s') && duration(self) <= duration('24h')",message="lockout.window must be a duration such as 15m, greater than zero and at most 24h"
	Window *metav1.Duration `json:"window,omitempty"`
}

// UsernameTokenSpec configures user name and password authentication.
//
// +kubebuilder:validation:XValidation:rule="!self.enabled || has(self.userStore)",message="usernameToken.enabled needs a userStore: a secretRef to a users Secret, or ldap"
// +kubebuilder:validation:XValidation:rule="!self.enabled || self.allowPasswordText || self.allowPasswordDigest",message="usernameToken.enabled needs allowPasswordText or allowPasswordDigest (or both)"
type UsernameTokenSpec struct {
	// Enabled turns UsernameToken authentication on.
	Enabled bool `json:"enabled"`

	// AllowPasswordText accepts passwords sent in clear (type PasswordText or
	// no type, as ADAL, MSAL and most WS-Trust clients send them). Only safe
	// over TLS.
	// +optional
	// +kubebuilder:default=true
	AllowPasswordText bool `json:"allowPasswordText"`

	// AllowPasswordDigest accepts PasswordDigest (SHA-1 of nonce, created and
	// password). The user store must then hold the plain password.
	// +optional
	AllowPasswordDigest bool `json:"allowPasswordDigest,omitempty"`

	// UserStore is where users, their passwords, roles and attributes live.
	// +optional
	UserStore *UserStoreSpec `json:"userStore,omitempty"`
}

// UserStoreSpec is a Secret-backed user list or an LDAP directory. Give
// exactly one.
//
// +kubebuilder:validation:XValidation:rule="has(self.secretRef) != has(self.ldap)",message="userStore takes exactly one of secretRef or ldap"
type UserStoreSpec struct {
	// SecretRef names a Secret whose key "users.yaml" (or the key given)
	// lists users: username, passwordHash (bcrypt) or password (plain; needed
	// for PasswordDigest), roles and attributes.
	// +optional
	SecretRef *SecretKeySelector `json:"secretRef,omitempty"`

	// LDAP checks passwords by binding as the user and reads attributes and
	// groups from the directory.
	// +optional
	LDAP *LDAPSpec `json:"ldap,omitempty"`
}

// LDAPSpec connects the STS to an LDAP directory.
type LDAPSpec struct {
	// URL of the directory: ldap://host:389 or ldaps://host:636.
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="self.startsWith('ldap://') || self.startsWith('ldaps://')",message="ldap.url must start with ldap:// or ldaps://"
	URL string `json:"url"`

	// StartTLS upgrades an ldap:// connection to TLS before binding.
	// +optional
	StartTLS bool `json:"startTLS,omitempty"`

	// CA verifies the directory's certificate for ldaps:// and StartTLS.
	// Without it the system roots are used.
	// +optional
	CA *CertificateSource `json:"ca,omitempty"`

	// BindDN is the service account that searches for users and groups,
	// for example "cn=sts,ou=services,dc=example,dc=com".
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	BindDN string `json:"bindDN,omitempty"`

	// BindPasswordSecretRef holds the BindDN's password (default key "password").
	// +optional
	BindPasswordSecretRef *SecretKeySelector `json:"bindPasswordSecretRef,omitempty"`

	// UserBaseDN is where users are searched, for example "ou=people,dc=example,dc=com".
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	UserBaseDN string `json:"userBaseDN"`

	// UserFilter finds a user by name; "{0}" stands for the escaped user name.
	// +optional
	// +kubebuilder:default="(uid={0})"
	// +kubebuilder:validation:MaxLength=1024
	UserFilter string `json:"userFilter,omitempty"`

	// GroupBaseDN is where groups are searched. Without it groups are not read.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	GroupBaseDN string `json:"groupBaseDN,omitempty"`

	// GroupFilter finds the groups of a user; "{0}" stands for the user's DN
	// and "{1}" for the user name.
	// +optional
	// +kubebuilder:default="(member={0})"
	// +kubebuilder:validation:MaxLength=1024
	GroupFilter string `json:"groupFilter,omitempty"`

	// Attributes are the LDAP attributes read for each user, made available
	// to relying party attribute mappings, for example ["mail", "cn"].
	// +optional
	// +kubebuilder:validation:MaxItems=128
	// +kubebuilder:validation:items:MaxLength=256
	Attributes []string `json:"attributes,omitempty"`

	// Timeout bounds each LDAP operation, such as "5s".
	// +optional
	// +kubebuilder:default="5s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') && duration(self) > duration('0s') && duration(self) <= duration('1m')",message="timeout must be a duration such as 5s, at most 1m"
	Timeout *metav1.Duration `json:"timeout,omitempty"`
}

// X509Spec configures certificate authentication.
//
// +kubebuilder:validation:XValidation:rule="!self.enabled || has(self.trustedCASecretRef) || has(self.clientCertificates)",message="x509.enabled needs trustedCASecretRef or clientCertificates to say which certificates to trust"
type X509Spec struct {
	// Enabled turns X.509 authentication on.
	Enabled bool `json:"enabled"`

	// TrustedCASecretRef names a Secret with the CA certificates (key
	// "ca.crt") that client certificates must chain to.
	// +optional
	TrustedCASecretRef *SecretKeySelector `json:"trustedCASecretRef,omitempty"`

	// ClientCertificates registers individual client certificates, trusted
	// as they are without a CA.
	// +optional
	ClientCertificates *CertificateSource `json:"clientCertificates,omitempty"`

	// Identity lists, in order, where a caller's name is taken from: the
	// first the certificate has wins. upn is the Microsoft UPN in the
	// subject alternative name, email the SAN e-mail address (else the
	// subject's emailAddress), subjectDN the subject's distinguished name.
	// A certificate with none of them is refused. The common name alone
	// never names a caller: any CA-issued certificate could claim a user's
	// name that way. Relying parties may map the attributes upn, mail and
	// subjectDN whatever the choice.
	// +optional
	// +kubebuilder:default={upn,email,subjectDN}
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=3
	// +listType=set
	Identity []X509IdentitySource `json:"identity,omitempty"`
}

// X509IdentitySource is a part of a certificate that can name its holder.
// +kubebuilder:validation:Enum=upn;email;subjectDN
type X509IdentitySource string

// Certificate identity sources.
const (
	X509IdentityUPN       X509IdentitySource = "upn"
	X509IdentityEmail     X509IdentitySource = "email"
	X509IdentitySubjectDN X509IdentitySource = "subjectDN"
)

// KerberosSpec configures Kerberos authentication.
//
// +kubebuilder:validation:XValidation:rule="!self.enabled || (has(self.servicePrincipal) && has(self.keytabSecretRef))",message="kerberos.enabled needs servicePrincipal and keytabSecretRef"
type KerberosSpec struct {
	// Enabled turns Kerberos authentication on.
	Enabled bool `json:"enabled"`

	// ServicePrincipal is the STS's own principal, for example
	// "HTTP/sts.example.com@EXAMPLE.COM".
	// +optional
	// +kubebuilder:validation:MaxLength=512
	ServicePrincipal string `json:"servicePrincipal,omitempty"`

	// KeytabSecretRef names the Secret holding the service keytab (default
	// key "krb5.keytab").
	// +optional
	KeytabSecretRef *SecretKeySelector `json:"keytabSecretRef,omitempty"`
}

// ReplayDetectionSpec picks where replay records are kept. Detection itself
// is always on: a UsernameToken nonce, a Kerberos authenticator or a signed
// message seen before is refused.
type ReplayDetectionSpec struct {
	// Store is where seen messages are remembered. In memory by default,
	// which protects one pod; use redis so that every replica refuses a
	// replay seen by any other.
	// +optional
	Store *ReplayStoreSpec `json:"store,omitempty"`
}

// ReplayStoreSpec picks the replay store. Give at most one.
//
// +kubebuilder:validation:XValidation:rule="!(has(self.memory) && has(self.redis))",message="replayDetection.store takes memory or redis, not both"
type ReplayStoreSpec struct {
	// Memory keeps seen messages in each pod, bounded in size.
	// +optional
	Memory *MemoryStoreSpec `json:"memory,omitempty"`

	// Redis keeps seen messages in a Redis server shared by all replicas.
	// +optional
	Redis *RedisStoreSpec `json:"redis,omitempty"`
}

// MemoryStoreSpec configures the in-memory replay store.
type MemoryStoreSpec struct {
	// MaxEntries bounds each in-memory store (replay records, cancelled
	// tokens and lockout counters are kept apart). Expired records make
	// room; a live one is never dropped: when a store is full, requests that
	// need a new record in it are refused and
	// trustbroker_replay_store_full_total counts them.
	// +optional
	// +kubebuilder:default=100000
	// +kubebuilder:validation:Minimum=1000
	MaxEntries int32 `json:"maxEntries,omitempty"`
}

// RedisStoreSpec connects to a Redis server.
type RedisStoreSpec struct {
	// Address is host:port of the Redis server.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	Address string `json:"address"`

	// PasswordSecretRef holds the Redis password (default key "password").
	// +optional
	PasswordSecretRef *SecretKeySelector `json:"passwordSecretRef,omitempty"`

	// DB is the Redis database number.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=15
	DB int32 `json:"db,omitempty"`
}

// OnBehalfOfSpec governs token translation.
type OnBehalfOfSpec struct {
	// AllowedTokenTypes lists which tokens may appear in OnBehalfOf and
	// ActAs: "UsernameToken", "SAML11", "SAML20", or a custom token type URI,
	// which a TrustedIssuer of this STS must validate with its webhook
	// (status Ready=False, reason UnhandledTokenType, until one does). Empty
	// refuses translation.
	// +optional
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=512
	// +kubebuilder:validation:items:Pattern=`^(UsernameToken|SAML11|SAML20|[A-Za-z][A-Za-z0-9+.-]*:[^\s]+)$`
	AllowedTokenTypes []string `json:"allowedTokenTypes,omitempty"`

	// RequireAuthenticatedRequestor is kept so that existing manifests still
	// apply; it no longer changes anything. Every requestor of OnBehalfOf or
	// ActAs must authenticate and be listed in allowedRequestors, which
	// cannot name an anonymous caller, so anonymous translation is refused
	// whatever this says.
	// +optional
	// +kubebuilder:default=true
	RequireAuthenticatedRequestor bool `json:"requireAuthenticatedRequestor"`

	// AllowedRequestors names the callers that may send OnBehalfOf or ActAs
	// (a token for someone else), and renew tokens issued to someone else.
	// A caller is listed by its user name, any of its roles, or the
	// certificate it authenticated with. Empty allows nobody.
	// +optional
	AllowedRequestors AllowedRequestorsSpec `json:"allowedRequestors,omitempty"`
}

// AllowedRequestorsSpec names trusted requestors, typically a front-end
// service that calls back-ends on behalf of its users.
type AllowedRequestorsSpec struct {
	// Users are authenticated user names: the UsernameToken's user, the
	// Kerberos principal, or the name a certificate caller gets (see
	// authentication.x509).
	// +optional
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=256
	// +listType=set
	Users []string `json:"users,omitempty"`

	// Roles admit every requestor with one of these roles.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=256
	// +listType=set
	Roles []string `json:"roles,omitempty"`

	// Certificates admit a caller that proved it holds one of these
	// certificates: by an X.509 message signature or a TLS client
	// certificate.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	Certificates []RequestorCertificate `json:"certificates,omitempty"`
}

// RequestorCertificate names one certificate, by subject or by fingerprint.
// +kubebuilder:validation:XValidation:rule="has(self.subject) != has(self.sha256Fingerprint)",message="a certificate entry takes exactly one of subject or sha256Fingerprint"
type RequestorCertificate struct {
	// Subject is the certificate's subject distinguished name, most
	// specific part first, such as "CN=orders-service,O=Example"; compared
	// as a distinguished name, ignoring case and spaces around separators.
	// +optional
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=1024
	Subject string `json:"subject,omitempty"`

	// SHA256Fingerprint is the SHA-256 digest of the certificate (DER) in
	// hex, upper or lower case, with or without colons between bytes.
	// +optional
	// +kubebuilder:validation:Pattern=`^([0-9A-Fa-f]{64}|([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2})$`
	SHA256Fingerprint string `json:"sha256Fingerprint,omitempty"`
}

// RenewalSpec bounds WS-Trust Renew.
type RenewalSpec struct {
	// AllowAfterExpiry renews a token that has already expired, when the
	// request says wst:Renewing OK="true", until maxLifetime has passed
	// since the token was first issued. Off by default.
	// +optional
	AllowAfterExpiry bool `json:"allowAfterExpiry,omitempty"`

	// MaxLifetime is how long after its first issue a token can be renewed,
	// such as "8h"; no renewed token lives beyond it. At most 168h.
	// +optional
	// +kubebuilder:default="8h"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') && duration(self) > duration('0s') && duration(self) <= duration('168h')",message="renewal.maxLifetime must be a duration such as 8h, greater than zero and at most 168h"
	MaxLifetime *metav1.Duration `json:"maxLifetime,omitempty"`
}

// SignedPart is a part of the SOAP response that gets signed.
// +kubebuilder:validation:Enum=Body;Timestamp;To;Action;MessageID;RelatesTo;ReplyTo
type SignedPart string

// ReferenceType is how a signature refers to the STS certificate.
// +kubebuilder:validation:Enum=DirectReference;KeyIdentifier;IssuerSerial
type ReferenceType string

// ResponseSecuritySpec signs responses.
type ResponseSecuritySpec struct {
	// SignResponse signs the SOAP response with the signing key.
	// +optional
	SignResponse bool `json:"signResponse,omitempty"`

	// SignedParts lists what the response signature covers.
	// +optional
	// +kubebuilder:default={Body,Timestamp}
	// +kubebuilder:validation:MaxItems=7
	// +listType=set
	SignedParts []SignedPart `json:"signedParts,omitempty"`

	// ReferenceType is how the signature points at the STS certificate:
	// DirectReference to a BinarySecurityToken (default), KeyIdentifier
	// (subject key identifier) or IssuerSerial.
	// +optional
	// +kubebuilder:default=DirectReference
	ReferenceType ReferenceType `json:"referenceType,omitempty"`

	// SkipSignatureOverTLS leaves responses unsigned when the request came
	// over TLS, which already protects them.
	// +optional
	SkipSignatureOverTLS bool `json:"skipSignatureOverTLS,omitempty"`
}

// SAMLSpec holds STS-wide defaults for assertions.
type SAMLSpec struct {
	// AttributeNamespace is the namespace of SAML 1.1 attributes (and the
	// NameFormat of SAML 2.0 attributes) unless a mapping gives its own, for
	// example "http://schemas.xmlsoap.org/claims".
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	AttributeNamespace string `json:"attributeNamespace,omitempty"`

	// IncludeMemberships adds the user's roles as a multi-valued attribute.
	// +optional
	IncludeMemberships bool `json:"includeMemberships,omitempty"`

	// NameIDMapping is the default way subjects are named.
	// +optional
	NameIDMapping *NameIDMapping `json:"nameIDMapping,omitempty"`
}

// SecurityTokenServiceStatus is what the operator and the STS pods observed.
type SecurityTokenServiceStatus struct {
	// Conditions: Ready (the STS serves tokens with the current spec),
	// SigningKeyValid (the signing key and certificate are usable) and
	// Available (at least one pod is ready).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// SigningCertificate describes the certificate tokens are signed with.
	// +optional
	SigningCertificate *CertificateInfo `json:"signingCertificate,omitempty"`

	// Endpoint is the address the STS answers on.
	// +optional
	Endpoint string `json:"endpoint,omitempty"`

	// Replicas is the number of STS pods.
	// +optional
	Replicas int32 `json:"replicas,omitempty"`

	// ReadyReplicas is the number of STS pods ready to serve.
	// +optional
	ReadyReplicas int32 `json:"readyReplicas,omitempty"`

	// RelyingParties counts the RelyingParty resources that name this STS.
	// +optional
	RelyingParties int32 `json:"relyingParties,omitempty"`

	// TrustedIssuers counts the TrustedIssuer resources that name this STS.
	// +optional
	TrustedIssuers int32 `json:"trustedIssuers,omitempty"`

	// ObservedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// +kubebuilder:object:root=true

// SecurityTokenServiceList is a list of SecurityTokenService.
type SecurityTokenServiceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []SecurityTokenService `json:"items"`
}

func init() {
	SchemeBuilder.Register(&SecurityTokenService{}, &SecurityTokenServiceList{})
}
