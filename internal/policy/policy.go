// Package policy is the STS's issuance policy as plain, immutable Go values:
// the STS settings, its relying parties, trusted issuers, keys and users, and
// the lookups a request needs. A Snapshot is built once per configuration
// change (internal/source) and swapped in whole, so a request sees one
// consistent policy from start to end.
package policy

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"net/netip"
	"slices"
	"sync/atomic"
	"time"
)

// Snapshot is one consistent version of the policy. Never modify a Snapshot
// after it was published.
type Snapshot struct {
	// Generation increases with every new snapshot.
	Generation uint64
	STS        STS
	// RelyingParties is ordered for lookup: see RelyingPartyFor.
	RelyingParties []*RelyingParty
	TrustedIssuers []*TrustedIssuer
	// Users checks user names and passwords; nil when no user store is set.
	Users UserStore

	lookup relyingPartyIndex
}

// STS is the SecurityTokenService's settings.
type STS struct {
	Namespace, Name string
	// Issuer names the STS in every token it issues.
	Issuer string
	// Endpoint is the public URL of the STS.
	Endpoint      string
	Signing       SigningKey
	TokenLifetime time.Duration
	MaxClockSkew  time.Duration
	// MaxMessageAge bounds how old a request's Timestamp (or PasswordDigest
	// token) may be, and how far its Expires may lie after its Created.
	MaxMessageAge time.Duration
	// RequestDecryption decrypts encrypted requests; nil refuses them.
	RequestDecryption *RequestDecryption

	UsernameToken UsernameTokenAuth
	X509          X509Auth
	// Kerberos is nil when Kerberos authentication is off.
	Kerberos *KerberosAuth
	// TLS is the serving certificate; nil serves plain HTTP only.
	TLS *tls.Certificate
	// ResponseSecurity says whether and how responses are signed.
	ResponseSecurity ResponseSecurity
	// AllowedRoles lets only users with one of these roles obtain tokens;
	// empty allows every authenticated user.
	AllowedRoles []string
	// Lockout refuses callers after repeated failed sign-ins.
	Lockout Lockout

	Replay Replay

	// TrustedAddresses are the client networks allowed to call; empty allows all.
	TrustedAddresses []netip.Prefix

	SAML SAMLDefaults
	// OnBehalfOf governs token translation (OnBehalfOf and ActAs).
	OnBehalfOf OnBehalfOf
	// Renewal bounds Renew requests.
	Renewal Renewal
	// DefaultRelyingParty answers requests without AppliesTo; nil refuses them.
	DefaultRelyingParty *RelyingParty
	// SignInPage brands and keeps the passive sign-in.
	SignInPage SignInPage
}

// Lockout is the extranet lockout: after Threshold failed authentications
// within Window, by one user or from one client address, further attempts
// by that user or from that address are refused until Window has passed.
type Lockout struct {
	// Threshold is the number of failures allowed; 0 turns lockout off.
	Threshold int
	Window    time.Duration
}

// Enabled reports whether lockout is on.
func (l Lockout) Enabled() bool { return l.Threshold > 0 && l.Window > 0 }

// Replay says where seen nonces, authenticators and messages are kept;
// detection itself is always on.
type Replay struct {
	// MaxEntries bounds the in-memory store.
	MaxEntries int
	// Redis, when set, keeps seen messages in a Redis server shared by all
	// replicas instead of in memory.
	Redis *Redis
}

// RequestDecryption is the STS's key for encrypted requests, kept apart
// from the signing key.
type RequestDecryption struct {
	Key         crypto.Decrypter
	Certificate *x509.Certificate
	// DataAlgorithms lists the accepted data encryption algorithms by
	// their configuration names (aes256-gcm, ...).
	DataAlgorithms []string
}

// Redis is where a shared replay store lives.
type Redis struct {
	Address  string
	Password string
	DB       int
}

// SigningKey signs tokens: any crypto.Signer, so keys may live in an HSM.
type SigningKey struct {
	Signer crypto.Signer
	// Chain is the signing certificate first, then its issuers.
	Chain []*x509.Certificate
	// SignatureAlgorithm and DigestAlgorithm use the API's names
	// (rsa-sha256, sha256, ...).
	SignatureAlgorithm string
	DigestAlgorithm    string
	// Previous are the certificates of earlier signing keys listed in
	// spec.signing.previousCertificates: the only older keys whose tokens
	// are still validated, renewed and translated. They come from the
	// configuration, never from what a process happened to sign with, so
	// every replica, restarted or not, decides alike.
	Previous []*x509.Certificate
}

// OwnCertificates are the certificates tokens of this STS may be signed
// with: the current one, then the listed previous ones.
func (k SigningKey) OwnCertificates() []*x509.Certificate {
	if len(k.Chain) == 0 {
		return k.Previous
	}
	return append([]*x509.Certificate{k.Chain[0]}, k.Previous...)
}

// X509Auth says which certificates authenticate callers, by a WS-Security
// signature or a TLS client certificate.
type X509Auth struct {
	Enabled bool
	// Roots are the CAs client certificates must chain to; nil for none.
	Roots *x509.CertPool
	// Pinned are registered client certificates, trusted as they are.
	Pinned []*x509.Certificate
	// Identity lists, in order, the parts of a certificate that may name
	// its holder (IdentityUPN, IdentityEmail, IdentitySubjectDN): the first
	// the certificate has is the caller's name; one with none is refused.
	Identity []string
}

// Certificate identity sources, named as in the API.
const (
	IdentityUPN       = "upn"
	IdentityEmail     = "email"
	IdentitySubjectDN = "subjectDN"
)

// DefaultIdentity is the identity order when none is configured.
var DefaultIdentity = []string{IdentityUPN, IdentityEmail, IdentitySubjectDN}

// ResponseSecurity signs responses with the signing key.
type ResponseSecurity struct {
	Sign bool
	// Parts are the signed parts: Body, Timestamp, or a WS-Addressing
	// header's name (To, Action, MessageID, RelatesTo, ReplyTo).
	Parts []string
	// ReferenceType names the certificate: DirectReference, KeyIdentifier
	// or IssuerSerial.
	ReferenceType string
	// SkipOverTLS leaves responses to requests that came over TLS unsigned.
	SkipOverTLS bool
}

// KerberosAuth is the STS's own Kerberos service identity.
type KerberosAuth struct {
	// ServicePrincipal is e.g. HTTP/sts.example.com@EXAMPLE.COM.
	ServicePrincipal string
	// Keytab holds the service principal's keys (MIT keytab format).
	Keytab []byte
}

// UsernameTokenAuth says which UsernameTokens are accepted.
type UsernameTokenAuth struct {
	Enabled     bool
	AllowText   bool
	AllowDigest bool
}

// OnBehalfOf says which tokens may be translated and by whom.
type OnBehalfOf struct {
	// AllowedTokenTypes are "UsernameToken", "SAML11", "SAML20" or custom
	// token type URIs that a trusted issuer's webhook validates; empty
	// refuses translation.
	AllowedTokenTypes []string
	// RequireAuthenticatedRequestor refuses translation to a caller that
	// did not authenticate itself before the issuer sees the request; the
	// issuer refuses anonymous requestors in any case, as AllowedRequestors
	// cannot name them.
	RequireAuthenticatedRequestor bool
	// AllowedRequestors may send OnBehalfOf or ActAs, and renew tokens
	// issued to someone else; empty allows nobody.
	AllowedRequestors Requestors
}

// Requestors names authenticated callers by user name, role or the
// certificate they proved they hold.
type Requestors struct {
	Users []string
	Roles []string
	// Certificates match the caller's certificate (a message signature's or
	// a TLS client's), by subject or fingerprint.
	Certificates []RequestorCertificate
}

// RequestorCertificate names a certificate by exactly one of its subject
// or its fingerprint.
type RequestorCertificate struct {
	// Subject is the subject distinguished name as configured (RFC 4514,
	// most specific part first); it is compared as a DN, ignoring case.
	Subject string
	// SHA256 is the SHA-256 fingerprint of the DER certificate, lower-case
	// hex without separators.
	SHA256 string
}

// Renewal bounds the renewal of tokens.
type Renewal struct {
	// AllowAfterExpiry renews an expired token (when the request accepts
	// that), still within MaxLifetime.
	AllowAfterExpiry bool
	// MaxLifetime is how long after its first issue a token may be renewed
	// and no renewed token outlives; zero means DefaultRenewalMaxLifetime.
	MaxLifetime time.Duration
}

// DefaultRenewalMaxLifetime bounds renewal when nothing else is set.
const DefaultRenewalMaxLifetime = 8 * time.Hour

// UserLookup is implemented by user stores that can find a user without
// checking a password. Token translation uses it for a UsernameToken
// without a password, presented by an authenticated requestor: the subject's
// roles and attributes then come from the store.
type UserLookup interface {
	// Lookup returns the user, or an error wrapping ErrBadCredentials when
	// the store does not know the name.
	Lookup(ctx context.Context, username string) (*User, error)
}

// AllowsTokenType reports whether tokens of type t may be translated.
func (o OnBehalfOf) AllowsTokenType(t string) bool {
	for _, a := range o.AllowedTokenTypes {
		if a == t {
			return true
		}
	}
	return false
}

// SAMLDefaults are the STS-wide assertion settings a relying party inherits.
type SAMLDefaults struct {
	AttributeNamespace string
	IncludeMemberships bool
	NameID             NameID
}

// NameID says how a token's subject is named.
type NameID struct {
	// Format is the NameID format URI.
	Format string
	// Attribute is the user attribute used as NameID; empty = the user name.
	Attribute string
}

// TokenType is the kind of token a relying party receives.
type TokenType string

// Token types.
const (
	SAML20 TokenType = "SAML20"
	SAML11 TokenType = "SAML11"
)

// KeyType is a kind of proof a token carries.
type KeyType string

// Key types, named as in the API.
const (
	Bearer        KeyType = "Bearer"
	SymmetricKey  KeyType = "SymmetricKey"
	PublicKey     KeyType = "PublicKey"
	SenderVouches KeyType = "SenderVouches"
)

// RelyingParty is an application the STS issues tokens for.
type RelyingParty struct {
	Namespace, Name string
	// Endpoint is compared with the request's AppliesTo.
	Endpoint string
	// Prefix matches every AppliesTo that starts with Endpoint.
	Prefix          bool
	Audiences       []string
	TokenType       TokenType
	AllowedKeyTypes []KeyType
	NameID          NameID
	Attributes      []AttributeMapping
	// IncludeMemberships adds the user's roles as an attribute.
	IncludeMemberships     bool
	AttributeStatementOnly bool
	TokenLifetime          time.Duration
	AllowedRoles           []string
	// Encryption is nil when the relying party has no certificate.
	Encryption *Encryption
	// WSFederation is nil when browsers may not sign in to it passively.
	WSFederation *WSFederation
	// Issuer replaces the STS's issuer in this relying party's tokens; ""
	// keeps it.
	Issuer string
}

// AttributeMapping puts the user attribute From into the token as Name.
type AttributeMapping struct {
	Name      string
	From      string
	Namespace string
}

// Encryption is what the STS encrypts for a relying party, and how.
type Encryption struct {
	// Tokens encrypts whole tokens; without it the certificate serves only
	// to encrypt holder-of-key proof keys.
	Tokens bool
	// Certificates are the relying party's; the first is encrypted for.
	Certificates  []*x509.Certificate
	DataAlgorithm string
	KeyTransport  string
	// AllowRSA15 admits keyTransport rsa-1_5 (the resource's explicit opt-in).
	AllowRSA15 bool
}

// TrustedIssuer is another issuer whose tokens the STS accepts.
type TrustedIssuer struct {
	Namespace, Name string
	Issuer          string
	Certificates    []*x509.Certificate
	AllowedUsages   []string
	TokenTypes      []TokenType
	// AllowSHA1 accepts the issuer's SHA-1 signatures (the resource's opt-in).
	AllowSHA1 bool
	// Webhook validates the issuer's tokens of the custom types in
	// TokenTypes; nil when the issuer has none.
	Webhook *Webhook
}

// Webhook is an HTTPS endpoint that reviews custom tokens for a trusted
// issuer.
type Webhook struct {
	URL string
	// CAs verify the webhook's serving certificate; empty trusts the
	// system's roots.
	CAs     []*x509.Certificate
	Timeout time.Duration
	// TokenTypes are the custom token types this webhook reviews: those of
	// the issuer's tokenTypes that no trusted issuer taking precedence
	// claims too.
	TokenTypes []string
}

// Webhook timeouts: the default and the most the API allows.
const (
	DefaultWebhookTimeout = 5 * time.Second
	MaxWebhookTimeout     = 30 * time.Second
)

// BuiltinTokenTypes are the token types of onBehalfOf.allowedTokenTypes the
// STS validates itself; any other is a custom type URI that a trusted
// issuer's webhook must validate.
var BuiltinTokenTypes = []string{"UsernameToken", string(SAML11), string(SAML20)}

// TokenReviewerFor returns the trusted issuer whose webhook validates
// tokens of the custom type t. Of several issuers listing t only the one
// that takes precedence (ResolveClaims) reviews it, so the answer is unique.
func (s *Snapshot) TokenReviewerFor(t string) (*TrustedIssuer, bool) {
	for _, ti := range s.TrustedIssuers {
		if ti.Webhook != nil && slices.Contains(ti.Webhook.TokenTypes, t) {
			return ti, true
		}
	}
	return nil, false
}

// Trusted issuer usages, named as in the API.
const (
	UsageOnBehalfOf     = "OnBehalfOf"
	UsageActAs          = "ActAs"
	UsageValidate       = "Validate"
	UsageAuthentication = "Authentication"
)

// AllowsUsage reports whether the issuer's tokens may be used for u.
func (ti *TrustedIssuer) AllowsUsage(u string) bool {
	for _, a := range ti.AllowedUsages {
		if a == u {
			return true
		}
	}
	return false
}

// AcceptsTokenType reports whether the issuer's tokens of type t are
// accepted; an empty list accepts both SAML versions.
func (ti *TrustedIssuer) AcceptsTokenType(t TokenType) bool {
	if len(ti.TokenTypes) == 0 {
		return true
	}
	for _, a := range ti.TokenTypes {
		if a == t {
			return true
		}
	}
	return false
}

// AllowsKeyType reports whether the relying party accepts tokens of kind k.
func (rp *RelyingParty) AllowsKeyType(k KeyType) bool {
	for _, a := range rp.AllowedKeyTypes {
		if a == k {
			return true
		}
	}
	return false
}

// Holder publishes the current snapshot to concurrent readers. Readers take
// the snapshot once per request and use only that one.
type Holder struct {
	current atomic.Pointer[Snapshot]
}

// Load returns the current snapshot, or nil before the first was published.
func (h *Holder) Load() *Snapshot { return h.current.Load() }

// Publish makes s the current snapshot.
func (h *Holder) Publish(s *Snapshot) { h.current.Store(s) }
