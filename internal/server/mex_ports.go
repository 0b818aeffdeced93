package server

import (
	"crypto/x509"
	"net/url"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/wstrust"
)

// Namespaces the metadata adds to the WSDL's.
const (
	// nsSP11 is WS-SecurityPolicy 1.1 (2005/07): AD FS writes the policies
	// of its WS-Trust 2005 bindings in it, and MSAL and ADAL look for the
	// 2005 usernamemixed policy there.
	nsSP11 = "http://schemas.xmlsoap.org/ws/2005/07/securitypolicy"
	// nsWSA10 addresses the ports: MSAL reads a port's address from its
	// wsa10:EndpointReference, not from soap12:address.
	nsWSA10 = soap.NamespaceWSA10
	// nsHTTPPolicy holds AD FS's NegotiateAuthentication assertion.
	nsHTTPPolicy = "http://schemas.microsoft.com/ws/06/2004/policy/http"
	// nsAddressingIdentity names the key of an endpoint.
	nsAddressingIdentity = "http://schemas.xmlsoap.org/ws/2006/02/addressingidentity"
)

// mexNamespaces are declared on the metadata's root beside the WSDL's.
var mexNamespaces = []struct{ prefix, uri string }{
	{"sp2005", nsSP11},
	{"wsa10", nsWSA10},
}

// securityPolicyVersion is the WS-SecurityPolicy version a policy is
// written in, with the prefix declared for it.
type securityPolicyVersion struct {
	prefix, namespace string
	// trust is the assertion naming the WS-Trust version.
	trust string
	// usernameSupporting wraps the UsernameToken of usernamemixed: SP 1.2's
	// SignedEncryptedSupportingTokens and SP 1.1's SignedSupportingTokens,
	// as AD FS writes them and as MSAL looks for them.
	usernameSupporting string
}

var (
	securityPolicy12 = securityPolicyVersion{prefix: "sp", namespace: nsSP12, trust: "Trust13", usernameSupporting: "SignedEncryptedSupportingTokens"}
	securityPolicy11 = securityPolicyVersion{prefix: "sp2005", namespace: nsSP11, trust: "Trust10", usernameSupporting: "SignedSupportingTokens"}
)

// securityPolicyFor is the WS-SecurityPolicy version of WS-Trust version v's policies.
func securityPolicyFor(v wstrust.Version) securityPolicyVersion {
	if v == wstrust.V2005 {
		return securityPolicy11
	}
	return securityPolicy12
}

func (sp securityPolicyVersion) name(local string) string { return sp.prefix + ":" + local }

// includeAlways is the IncludeToken value "always send it to the STS".
func (sp securityPolicyVersion) includeAlways() string {
	return sp.namespace + "/IncludeToken/AlwaysToRecipient"
}

// contractFor is the WSDL contract (port type) of WS-Trust version v.
func contractFor(v wstrust.Version) trustContract {
	if v == wstrust.V2005 {
		return contracts[1]
	}
	return contracts[0]
}

// advertised are the AD FS endpoints the metadata lists for snap: those of
// the mechanisms that can succeed, exactly what the STS serves.
func advertised(snap *policy.Snapshot) []endpoint {
	var eps []endpoint
	for _, ep := range adfsEndpoints {
		if ep.binding == "" {
			continue
		}
		switch {
		case ep.mechanism == usernameMixed && usernameTokenAssertion(snap) != nil,
			ep.mechanism == certificateMixed && snap.STS.X509.Enabled,
			ep.mechanism == windowsTransport && snap.STS.Kerberos != nil:
			eps = append(eps, ep)
		}
	}
	return eps
}

// addADFSEndpoints adds to the WSDL defs, for each endpoint, a policy (after
// the WSDL's policies), a SOAP 1.2 binding (after its bindings) and a port
// of the service, at the endpoint's path on the public endpoint's scheme
// and host.
func addADFSEndpoints(defs *etree.Element, snap *policy.Snapshot, public *url.URL, eps []endpoint) {
	service := soap.ChildElement(defs, nsWSDL, "service")
	policyAt := lastChildIndex(defs, nsWSP, "Policy") + 1
	for _, ep := range eps {
		defs.InsertChildAt(policyAt, adfsPolicy(snap, ep))
		policyAt++
		defs.InsertChildAt(service.Index(), newBinding(ep.binding, ep.policyID(), contractFor(ep.version), soapBindings[0]))
		address := (&url.URL{Scheme: public.Scheme, Host: public.Host, Path: ep.path}).String()
		service.AddChild(adfsPort(ep, address, decryptionCertificate(snap)))
	}
}

func (ep endpoint) policyID() string { return ep.binding + "_policy" }

// adfsPolicy says what ep accepts, in the shape AD FS and the clients that
// read its metadata use. Every AD FS endpoint is "mixed" or "transport":
// TLS protects the message, so each alternative starts with a
// TransportBinding.
func adfsPolicy(snap *policy.Snapshot, ep endpoint) *etree.Element {
	sp := securityPolicyFor(ep.version)
	pol := etree.NewElement("wsp:Policy")
	pol.CreateAttr("wsu:Id", ep.policyID())
	one := pol.CreateElement("wsp:ExactlyOne")
	switch ep.mechanism {
	case usernameMixed:
		all := alternative(one, sp, false)
		ut := nestedPolicy(all.CreateElement(sp.name(sp.usernameSupporting))).CreateElement(sp.name("UsernameToken"))
		ut.CreateAttr(sp.name("IncludeToken"), sp.includeAlways())
		p := nestedPolicy(ut)
		if auth := snap.STS.UsernameToken; auth.AllowDigest && !auth.AllowText {
			p.CreateElement(sp.name("HashPassword"))
		}
		p.CreateElement(sp.name("WssUsernameToken10"))
		finishAlternative(all, sp)
	case certificateMixed:
		// A signature by the caller's certificate...
		all := alternative(one, sp, false)
		x509 := nestedPolicy(all.CreateElement(sp.name("EndorsingSupportingTokens"))).CreateElement(sp.name("X509Token"))
		x509.CreateAttr(sp.name("IncludeToken"), sp.includeAlways())
		nestedPolicy(x509).CreateElement(sp.name("WssX509V3Token10"))
		finishAlternative(all, sp)
		// ...or the TLS client certificate alone.
		finishAlternative(alternative(one, sp, true), sp)
	case windowsTransport:
		// Kerberos rides on HTTP, as AD FS says it; clients look for this
		// assertion to find the endpoint for integrated Windows sign-in.
		all := one.CreateElement("wsp:All")
		all.CreateElement("http:NegotiateAuthentication").CreateAttr("xmlns:http", nsHTTPPolicy)
		tb := nestedPolicy(all.CreateElement(sp.name("TransportBinding")))
		nestedPolicy(nestedPolicy(tb.CreateElement(sp.name("TransportToken"))).CreateElement(sp.name("HttpsToken")))
		nestedPolicy(tb.CreateElement(sp.name("AlgorithmSuite"))).CreateElement(sp.name("Basic256Sha256"))
		finishAlternative(all, sp)
	}
	return pol
}

// alternative starts a policy alternative with a TransportBinding in sp,
// requiring a TLS client certificate when clientCert is set.
func alternative(one *etree.Element, sp securityPolicyVersion, clientCert bool) *etree.Element {
	all := one.CreateElement("wsp:All")
	tb := nestedPolicy(all.CreateElement(sp.name("TransportBinding")))
	https := nestedPolicy(tb.CreateElement(sp.name("TransportToken"))).CreateElement(sp.name("HttpsToken"))
	switch {
	case sp == securityPolicy11:
		// SP 1.1 says it with an attribute, SP 1.2 with a nested assertion.
		https.CreateAttr("RequireClientCertificate", map[bool]string{true: "true", false: "false"}[clientCert])
	case clientCert:
		nestedPolicy(https).CreateElement(sp.name("RequireClientCertificate"))
	default:
		nestedPolicy(https)
	}
	nestedPolicy(tb.CreateElement(sp.name("AlgorithmSuite"))).CreateElement(sp.name("Basic256Sha256"))
	nestedPolicy(tb.CreateElement(sp.name("Layout"))).CreateElement(sp.name("Lax"))
	return all
}

// finishAlternative ends an alternative with the WS-Trust version and
// optional WS-Addressing, as the WSDL's own policies do.
func finishAlternative(all *etree.Element, sp securityPolicyVersion) {
	nestedPolicy(all.CreateElement(sp.name(sp.trust))).CreateElement(sp.name("MustSupportIssuedTokens"))
	all.CreateElement("wsaw:UsingAddressing").CreateAttr("wsp:Optional", "true")
}

// adfsPort is the service's port for ep at address, with the address also
// as a WS-Addressing endpoint reference, naming the request-decryption
// certificate when there is one.
func adfsPort(ep endpoint, address string, decryption *x509.Certificate) *etree.Element {
	port := etree.NewElement("wsdl:port")
	port.CreateAttr("name", ep.binding)
	port.CreateAttr("binding", "tns:"+ep.binding)
	port.CreateElement("soap12:address").CreateAttr("location", address)
	epr := port.CreateElement("wsa10:EndpointReference")
	epr.CreateElement("wsa10:Address").SetText(address)
	if decryption != nil {
		epr.AddChild(identity(decryption))
	}
	return port
}

// lastChildIndex is the token index of parent's last child element named
// ns:local, or -1.
func lastChildIndex(parent *etree.Element, ns, local string) int {
	last := -1
	for _, c := range parent.ChildElements() {
		if c.NamespaceURI() == ns && c.Tag == local {
			last = c.Index()
		}
	}
	return last
}
