package wstrust

import "github.com/trustbroker/trustbroker/internal/soap"

// WS-Trust namespaces.
const (
	// Namespace13 is WS-Trust 1.3 (OASIS, 2005/12).
	Namespace13 = soap.DefaultTrustNamespace
	// Namespace2005 is WS-Trust February 2005, what WIF and AD FS call
	// "trust/2005".
	Namespace2005 = "http://schemas.xmlsoap.org/ws/2005/02/trust"
	// Namespace14 is WS-Trust 1.4 (OASIS, 2008/02). No request is in it:
	// WCF and CXF put its ActAs inside 1.3 and 2005/02 requests.
	Namespace14 = "http://docs.oasis-open.org/ws-sx/ws-trust/200802"
)

// WS-Trust 1.3 actions. An Issue is answered with an RSTR collection
// (RSTRC/IssueFinal); Validate, Renew and Cancel with a single RSTR.
const (
	ActionIssue13         = Namespace13 + "/RST/Issue"
	ActionIssueFinal13    = Namespace13 + "/RSTRC/IssueFinal"
	ActionValidate13      = Namespace13 + "/RST/Validate"
	ActionValidateFinal13 = Namespace13 + "/RSTR/ValidateFinal"
	ActionRenew13         = Namespace13 + "/RST/Renew"
	ActionRenewFinal13    = Namespace13 + "/RSTR/RenewFinal"
	ActionCancel13        = Namespace13 + "/RST/Cancel"
	ActionCancelFinal13   = Namespace13 + "/RSTR/CancelFinal"
)

// WS-Trust 2005/02 actions. Every answer is a bare RSTR.
const (
	ActionIssue2005            = Namespace2005 + "/RST/Issue"
	ActionIssueResponse2005    = Namespace2005 + "/RSTR/Issue"
	ActionValidate2005         = Namespace2005 + "/RST/Validate"
	ActionValidateResponse2005 = Namespace2005 + "/RSTR/Validate"
	ActionRenew2005            = Namespace2005 + "/RST/Renew"
	ActionRenewResponse2005    = Namespace2005 + "/RSTR/Renew"
	ActionCancel2005           = Namespace2005 + "/RST/Cancel"
	ActionCancelResponse2005   = Namespace2005 + "/RSTR/Cancel"
)

// RequestType URIs. They are not the actions: .../Issue, not .../RST/Issue.
const (
	RequestTypeIssue13      = Namespace13 + "/Issue"
	RequestTypeValidate13   = Namespace13 + "/Validate"
	RequestTypeRenew13      = Namespace13 + "/Renew"
	RequestTypeCancel13     = Namespace13 + "/Cancel"
	RequestTypeIssue2005    = Namespace2005 + "/Issue"
	RequestTypeValidate2005 = Namespace2005 + "/Validate"
	RequestTypeRenew2005    = Namespace2005 + "/Renew"
	RequestTypeCancel2005   = Namespace2005 + "/Cancel"
)

// KeyType URIs. WS-Trust 2005/02 has no bearer key type: WIF, ADAL, MSAL and
// AD FS use the identity namespace's NoProofKey instead, and a 2005 answer
// must echo it.
const (
	KeyTypeBearer13       = Namespace13 + "/Bearer"
	KeyTypeSymmetric13    = Namespace13 + "/SymmetricKey"
	KeyTypePublic13       = Namespace13 + "/PublicKey"
	KeyTypeSymmetric2005  = Namespace2005 + "/SymmetricKey"
	KeyTypePublic2005     = Namespace2005 + "/PublicKey"
	KeyTypeNoProofKey2005 = "http://schemas.xmlsoap.org/ws/2005/05/identity/NoProofKey"
)

// TokenType URIs. Each SAML version has two spellings, both seen in real
// requests; an RSTR echoes the one the client asked for.
const (
	TokenTypeSAML20        = soap.NamespaceSAML20
	TokenTypeSAML20Profile = "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV2.0"
	TokenTypeSAML11        = soap.NamespaceSAML11
	TokenTypeSAML11Profile = "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV1.1"
	TokenTypeStatus13      = Namespace13 + "/RSTR/Status"
	TokenTypeStatus2005    = Namespace2005 + "/RSTR/Status"
)

// Validate status codes.
const (
	StatusValid13     = Namespace13 + "/status/valid"
	StatusInvalid13   = Namespace13 + "/status/invalid"
	StatusValid2005   = Namespace2005 + "/status/valid"
	StatusInvalid2005 = Namespace2005 + "/status/invalid"
)

// BinarySecret types and the computed-key algorithm.
const (
	BinarySecretNonce13           = Namespace13 + "/Nonce"
	BinarySecretSymmetricKey13    = Namespace13 + "/SymmetricKey"
	BinarySecretAsymmetricKey13   = Namespace13 + "/AsymmetricKey"
	BinarySecretNonce2005         = Namespace2005 + "/Nonce"
	BinarySecretSymmetricKey2005  = Namespace2005 + "/SymmetricKey"
	BinarySecretAsymmetricKey2005 = Namespace2005 + "/AsymmetricKey"
	ComputedKeyPSHA1_13           = Namespace13 + "/CK/PSHA1"
	ComputedKeyPSHA1_2005         = Namespace2005 + "/CK/PSHA1"
)

// WS-Policy namespaces of AppliesTo. Clients send 2004/09; 1.5 is accepted.
const (
	NamespacePolicy200409 = "http://schemas.xmlsoap.org/ws/2004/09/policy"
	NamespacePolicy15     = "http://www.w3.org/ns/ws-policy"
)

// WS-Security namespaces and the SAML token reference profile values.
const (
	NamespaceSecext   = soap.NamespaceSecext
	NamespaceSecext11 = soap.NamespaceSecext11
	NamespaceUtility  = soap.NamespaceUtility

	// ValueTypeSAMLAssertionID identifies a SAML 1.1 assertion by AssertionID.
	ValueTypeSAMLAssertionID = "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.0#SAMLAssertionID"
	// ValueTypeSAMLID identifies a SAML 2.0 assertion by ID.
	ValueTypeSAMLID = "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLID"
)

// WS-Addressing namespaces of the EndpointReference inside AppliesTo.
const (
	namespaceWSA10     = soap.NamespaceWSA10
	namespaceWSA200408 = soap.NamespaceWSA200408
)
