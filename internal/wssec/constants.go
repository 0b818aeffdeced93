package wssec

import "github.com/trustbroker/trustbroker/internal/soap"

// Namespaces of the WS-Security header.
const (
	// NSSecExt is the WS-Security 1.0 secext namespace: Security,
	// UsernameToken, BinarySecurityToken, SecurityTokenReference.
	NSSecExt = soap.NamespaceSecext
	// NSSecExt11 is the WS-Security 1.1 secext namespace (wsse11:TokenType,
	// SignatureConfirmation, Salt, Iteration).
	NSSecExt11 = soap.NamespaceSecext11
	// NSUtility is the WS-Security utility namespace: Timestamp, Created,
	// Expires and the wsu:Id attribute.
	NSUtility = soap.NamespaceUtility
	// NSDSig is the XML Signature namespace.
	NSDSig = soap.NamespaceDSig
	// NSSAML11 is the SAML 1.x assertion namespace.
	NSSAML11 = soap.NamespaceSAML11
	// NSSAML20 is the SAML 2.0 assertion namespace.
	NSSAML20 = soap.NamespaceSAML20
)

// UsernameToken profile 1.0/1.1 password types (both profile versions use
// the 1.0 URIs).
const (
	PasswordText   = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText"
	PasswordDigest = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
)

// EncodingBase64Binary is the EncodingType of base64 BinarySecurityTokens and
// UsernameToken nonces (SOAP Message Security 1.0 §6.3).
const EncodingBase64Binary = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"

// BinarySecurityToken value types.
const (
	// ValueTypeX509v3 is a single DER certificate (X.509 token profile 1.0).
	ValueTypeX509v3 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
	// ValueTypeX509PKIPathv1 is a DER PkiPath certificate chain.
	ValueTypeX509PKIPathv1 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509PKIPathv1"
	// ValueTypeKerberosGSSAPREQ is a GSS-API wrapped Kerberos v5 AP-REQ, the
	// form WCF and AD FS kerberosmixed use (Kerberos token profile 1.1).
	ValueTypeKerberosGSSAPREQ = "http://docs.oasis-open.org/wss/oasis-wss-kerberos-token-profile-1.1#GSS_Kerberosv5_AP_REQ"
	// ValueTypeKerberosAPREQ is a bare Kerberos v5 AP-REQ.
	ValueTypeKerberosAPREQ = "http://docs.oasis-open.org/wss/oasis-wss-kerberos-token-profile-1.1#Kerberosv5_AP_REQ"
)

// Limits on what one Security header may carry. Real clients send at most a
// handful of children; a Kerberos AP-REQ with a large PAC is the biggest
// token (Windows caps it at 64 KiB).
const (
	// MaxHeaderChildren bounds the number of child elements of wsse:Security.
	MaxHeaderChildren = 64
	// MaxBinaryTokenSize bounds the decoded size of one BinarySecurityToken.
	MaxBinaryTokenSize = 96 << 10
	// MaxNonceSize bounds the decoded size of a UsernameToken nonce.
	MaxNonceSize = 1 << 10
	// MaxTextSize bounds Username, Password and date values.
	MaxTextSize = 4 << 10
)
