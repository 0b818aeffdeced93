package soap

import (
	"mime"
	"strings"
)

// Namespaces of the vocabularies every layer shares, written once here;
// the other packages name them by these constants.
const (
	// NamespaceSOAP11 is the SOAP 1.1 envelope namespace.
	NamespaceSOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
	// NamespaceSOAP12 is the SOAP 1.2 envelope namespace.
	NamespaceSOAP12 = "http://www.w3.org/2003/05/soap-envelope"

	// NamespaceWSA10 is WS-Addressing 1.0 (W3C, 2005/08), what clients send.
	NamespaceWSA10 = "http://www.w3.org/2005/08/addressing"
	// NamespaceWSA200408 is the WS-Addressing member submission (2004/08).
	NamespaceWSA200408 = "http://schemas.xmlsoap.org/ws/2004/08/addressing"

	// NamespaceSecext is WS-Security 1.0 secext, home of wsse:Security and
	// of the WS-Security fault codes.
	NamespaceSecext = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
	// NamespaceSecext11 is the WS-Security 1.1 secext namespace (wsse11).
	NamespaceSecext11 = "http://docs.oasis-open.org/wss/oasis-wss-wssecurity-secext-1.1.xsd"
	// NamespaceUtility is the WS-Security utility namespace (wsu).
	NamespaceUtility = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"

	// NamespaceDSig is XML Signature.
	NamespaceDSig = "http://www.w3.org/2000/09/xmldsig#"
	// NamespaceXEnc is XML Encryption.
	NamespaceXEnc = "http://www.w3.org/2001/04/xmlenc#"
	// NamespaceSAML20 and NamespaceSAML11 are the SAML assertion namespaces
	// (SAML 1.1 kept the 1.0 namespace).
	NamespaceSAML20 = "urn:oasis:names:tc:SAML:2.0:assertion"
	NamespaceSAML11 = "urn:oasis:names:tc:SAML:1.0:assertion"

	// DefaultTrustNamespace is WS-Trust 1.3, used for trust fault codes
	// when the request's WS-Trust version is not known.
	DefaultTrustNamespace = "http://docs.oasis-open.org/ws-sx/ws-trust/200512"
)

// WS-Addressing constants written in replies.
const (
	// FaultActionWSA10 is the Action of a fault under WS-Addressing 1.0.
	FaultActionWSA10 = "http://www.w3.org/2005/08/addressing/soap/fault"
	// FaultActionWSA200408 is the Action of a fault under the 2004/08 submission.
	FaultActionWSA200408 = "http://schemas.xmlsoap.org/ws/2004/08/addressing/fault"
	// AnonymousWSA10 is the anonymous address (reply on the same connection).
	AnonymousWSA10 = "http://www.w3.org/2005/08/addressing/anonymous"
	// AnonymousWSA200408 is the 2004/08 anonymous address.
	AnonymousWSA200408 = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
)

// Media types of the two SOAP bindings.
const (
	mediaSOAP11 = "text/xml"
	mediaSOAP12 = "application/soap+xml"

	// ContentType11 is the Content-Type of a SOAP 1.1 response.
	ContentType11 = "text/xml; charset=utf-8"
	// ContentType12 is the Content-Type of a SOAP 1.2 response.
	ContentType12 = "application/soap+xml; charset=utf-8"
)

// Version is a SOAP version. The zero value means "not known".
type Version int

// SOAP versions.
const (
	V11 Version = 1
	V12 Version = 2
)

// Namespace returns the envelope namespace of the version.
func (v Version) Namespace() string {
	switch v {
	case V11:
		return NamespaceSOAP11
	case V12:
		return NamespaceSOAP12
	}
	return ""
}

// ContentType returns the Content-Type a response in this version carries.
func (v Version) ContentType() string {
	if v == V11 {
		return ContentType11
	}
	return ContentType12
}

func (v Version) String() string {
	switch v {
	case V11:
		return "SOAP 1.1"
	case V12:
		return "SOAP 1.2"
	}
	return "unknown SOAP version"
}

// versionFromNamespace maps an envelope namespace to its version (0 if unknown).
func versionFromNamespace(ns string) Version {
	switch ns {
	case NamespaceSOAP11:
		return V11
	case NamespaceSOAP12:
		return V12
	}
	return 0
}

// VersionForContentType returns the SOAP version an HTTP Content-Type
// announces: V11 for text/xml, V12 for application/soap+xml, 0 for an empty
// or other type. The server uses it to pick the version of a fault when the
// envelope itself could not be read.
func VersionForContentType(contentType string) Version {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return 0
	}
	switch strings.ToLower(mt) {
	case mediaSOAP11:
		return V11
	case mediaSOAP12:
		return V12
	}
	return 0
}

// IsAddressingNamespace reports whether ns is one of the two WS-Addressing
// namespaces.
func IsAddressingNamespace(ns string) bool {
	return ns == NamespaceWSA10 || ns == NamespaceWSA200408
}
