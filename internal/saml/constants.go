package saml

import (
	"strings"

	"github.com/trustbroker/trustbroker/internal/soap"
)

// Namespaces of the two assertion versions and of the types they use.
const (
	NamespaceSAML20 = soap.NamespaceSAML20
	// NamespaceSAML11 is shared by SAML 1.0 and 1.1 assertions.
	NamespaceSAML11 = soap.NamespaceSAML11
	NamespaceXS     = "http://www.w3.org/2001/XMLSchema"
	NamespaceXSI    = "http://www.w3.org/2001/XMLSchema-instance"
	NamespaceDSig   = soap.NamespaceDSig
)

// ID attribute names, as xmlsec1 --id-attr and the signature Reference use them.
const (
	IDAttrSAML20 = "ID"
	IDAttrSAML11 = "AssertionID"
)

// Subject confirmation method URIs.
const (
	CMBearer20        = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
	CMHolderOfKey20   = "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key"
	CMSenderVouches20 = "urn:oasis:names:tc:SAML:2.0:cm:sender-vouches"

	CMBearer11        = "urn:oasis:names:tc:SAML:1.0:cm:bearer"
	CMHolderOfKey11   = "urn:oasis:names:tc:SAML:1.0:cm:holder-of-key"
	CMSenderVouches11 = "urn:oasis:names:tc:SAML:1.0:cm:sender-vouches"
)

// Authentication method URIs: SAML 2.0 AuthnContextClassRef values and
// SAML 1.1 AuthenticationMethod values (SAML 1.1 core §7.1).
const (
	AuthnPassword20                   = "urn:oasis:names:tc:SAML:2.0:ac:classes:Password"
	AuthnPasswordProtectedTransport20 = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
	AuthnX50920                       = "urn:oasis:names:tc:SAML:2.0:ac:classes:X509"
	AuthnTLSClient20                  = "urn:oasis:names:tc:SAML:2.0:ac:classes:TLSClient"
	AuthnKerberos20                   = "urn:oasis:names:tc:SAML:2.0:ac:classes:Kerberos"
	AuthnPreviousSession20            = "urn:oasis:names:tc:SAML:2.0:ac:classes:PreviousSession"
	AuthnUnspecified20                = "urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified"

	AuthnPassword11    = "urn:oasis:names:tc:SAML:1.0:am:password"
	AuthnX50911        = "urn:oasis:names:tc:SAML:1.0:am:X509-PKI"
	AuthnTLSClient11   = "urn:ietf:rfc:2246"
	AuthnKerberos11    = "urn:ietf:rfc:1510"
	AuthnUnspecified11 = "urn:oasis:names:tc:SAML:1.0:am:unspecified"
)

// Name identifier formats commonly issued.
const (
	NameIDUnspecified = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
	NameIDEmail       = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
	NameIDPersistent  = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
	NameIDTransient   = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
)

// SAML 2.0 attribute NameFormat values.
const (
	AttrNameFormatURI         = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
	AttrNameFormatBasic       = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"
	AttrNameFormatUnspecified = "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified"
)

// ConfirmationMethod says how the presenter proves it is the subject.
type ConfirmationMethod int

// Confirmation methods; the zero value is bearer.
const (
	Bearer ConfirmationMethod = iota
	HolderOfKey
	SenderVouches
)

func (m ConfirmationMethod) String() string {
	switch m {
	case Bearer:
		return "bearer"
	case HolderOfKey:
		return "holder-of-key"
	case SenderVouches:
		return "sender-vouches"
	}
	return "unknown"
}

// URI is the method's identifier in the given version ("" if unknown).
func (m ConfirmationMethod) URI(v Version) string {
	uris := map[Version][3]string{
		SAML20: {CMBearer20, CMHolderOfKey20, CMSenderVouches20},
		SAML11: {CMBearer11, CMHolderOfKey11, CMSenderVouches11},
	}
	u, ok := uris[v]
	if !ok || m < 0 || int(m) >= len(u) {
		return ""
	}
	return u[m]
}

// confirmationMethodByURI recognises a method URI of either version.
func confirmationMethodByURI(uri string) (ConfirmationMethod, bool) {
	switch strings.TrimSpace(uri) {
	case CMBearer20, CMBearer11:
		return Bearer, true
	case CMHolderOfKey20, CMHolderOfKey11:
		return HolderOfKey, true
	case CMSenderVouches20, CMSenderVouches11:
		return SenderVouches, true
	}
	return 0, false
}

// AuthnKind is a version-neutral authentication method, for translating a
// token of one version into the other.
type AuthnKind int

// Authentication kinds; the zero value is unspecified.
const (
	AuthnUnspecified AuthnKind = iota
	AuthnPassword
	AuthnX509
	AuthnKerberos
	// AuthnPreviousSession is a token derived from an earlier token (e.g.
	// OnBehalfOf, ActAs); SAML 1.1 has no such method and says unspecified.
	AuthnPreviousSession
)

// AuthnMethodURI is the identifier of kind in version v. A password is
// reported as the Password class: whether the transport was protected is
// not known where the token is built (use AuthnPasswordProtectedTransport20
// directly when it is).
func AuthnMethodURI(v Version, kind AuthnKind) string {
	if v == SAML11 {
		switch kind {
		case AuthnPassword:
			return AuthnPassword11
		case AuthnX509:
			return AuthnX50911
		case AuthnKerberos:
			return AuthnKerberos11
		}
		return AuthnUnspecified11
	}
	switch kind {
	case AuthnPassword:
		return AuthnPassword20
	case AuthnX509:
		return AuthnX50920
	case AuthnKerberos:
		return AuthnKerberos20
	case AuthnPreviousSession:
		return AuthnPreviousSession20
	}
	return AuthnUnspecified20
}

// AuthnKindOf maps a method URI of either version to its kind; unknown
// URIs are unspecified.
func AuthnKindOf(uri string) AuthnKind {
	switch strings.TrimSpace(uri) {
	case AuthnPassword20, AuthnPasswordProtectedTransport20, AuthnPassword11:
		return AuthnPassword
	case AuthnX50920, AuthnTLSClient20, AuthnX50911, AuthnTLSClient11:
		return AuthnX509
	case AuthnKerberos20, AuthnKerberos11:
		return AuthnKerberos
	case AuthnPreviousSession20:
		return AuthnPreviousSession
	}
	return AuthnUnspecified
}
