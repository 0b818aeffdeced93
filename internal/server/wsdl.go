package server

import (
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/wstrust"
	"github.com/trustbroker/trustbroker/internal/xmlsec"
)

// WSDLNamespace is the target namespace of the WSDL the STS describes itself with.
const WSDLNamespace = "urn:trustbroker:sts"

// WSDLContentType is the Content-Type of GET /sts?wsdl.
const WSDLContentType = "text/xml; charset=utf-8"

// Namespaces of the WSDL document.
const (
	nsWSDL       = "http://schemas.xmlsoap.org/wsdl/"
	nsWSDLSOAP11 = "http://schemas.xmlsoap.org/wsdl/soap/"
	nsWSDLSOAP12 = "http://schemas.xmlsoap.org/wsdl/soap12/"
	nsXS         = "http://www.w3.org/2001/XMLSchema"
	// WS-Policy 2004/09 is what AD FS metadata and the clients that read it
	// (ADAL, MSAL, WIF) use.
	nsWSP  = wstrust.NamespacePolicy200409
	nsWSU  = soap.NamespaceUtility
	nsWSAM = "http://www.w3.org/2007/05/addressing/metadata"
	nsWSAW = "http://www.w3.org/2006/05/addressing/wsdl"
	nsSP12 = "http://docs.oasis-open.org/ws-sx/ws-securitypolicy/200702"

	// soapOverHTTP is the transport of both SOAP bindings: WSDL 1.1's SOAP
	// 1.2 binding names the same HTTP transport URI.
	soapOverHTTP = "http://schemas.xmlsoap.org/soap/http"
	// includeAlways says a token is always sent to the STS.
	includeAlways = nsSP12 + "/IncludeToken/AlwaysToRecipient"
)

// The service's name in the WSDL.
const wsdlServiceName = "SecurityTokenService"

// trustContract is one WS-Trust version's Issue operation as the WSDL
// offers it: its port type, its two bindings and their policy.
type trustContract struct {
	// name prefixes every WSDL name of this version: Trust13Soap12, ...
	name string
	// prefix is bound to namespace in the document.
	prefix, namespace string
	// inputAction and outputAction are the WS-Addressing actions of Issue.
	inputAction, outputAction string
	// response is the local name of the Issue answer's body element.
	response string
	// trustAssertion is the WS-SecurityPolicy assertion naming the version.
	trustAssertion string
}

// contracts are the WS-Trust versions the endpoint serves, 1.3 first.
var contracts = []trustContract{
	{
		name: "Trust13", prefix: "wst", namespace: wstrust.Namespace13,
		inputAction: wstrust.ActionIssue13, outputAction: wstrust.ActionIssueFinal13,
		response: "RequestSecurityTokenResponseCollection", trustAssertion: "Trust13",
	},
	{
		// AD FS answers a 2005 Issue with a bare RSTR, and clients expect it.
		name: "TrustFeb2005", prefix: "t", namespace: wstrust.Namespace2005,
		inputAction: wstrust.ActionIssue2005, outputAction: wstrust.ActionIssueResponse2005,
		response: "RequestSecurityTokenResponse", trustAssertion: "Trust10",
	},
}

func (c trustContract) portType() string { return c.name }
func (c trustContract) policyID() string { return c.name + "Policy" }
func (c trustContract) requestMessage() string {
	return c.name + "IssueRequest"
}
func (c trustContract) responseMessage() string {
	return c.name + "IssueResponse"
}

// soapBinding is one of the two SOAP versions a port type is bound to;
// prefix is bound to its WSDL binding namespace on the root.
type soapBinding struct {
	name, prefix string
}

// soapBindings lists SOAP 1.2 first: it is what WS-Trust clients normally use.
var soapBindings = []soapBinding{
	{name: "Soap12", prefix: "soap12"},
	{name: "Soap11", prefix: "soap"},
}

func bindingName(c trustContract, b soapBinding) string { return c.name + b.name + "Binding" }
func portName(c trustContract, b soapBinding) string    { return c.name + b.name }

// wsdlNamespaces are declared on the root, so every QName in attribute
// values (type=, element=, binding=) resolves from anywhere in the document.
var wsdlNamespaces = []struct{ prefix, uri string }{
	{"wsdl", nsWSDL},
	{"soap", nsWSDLSOAP11},
	{"soap12", nsWSDLSOAP12},
	{"xs", nsXS},
	{"wsp", nsWSP},
	{"wsu", nsWSU},
	{"wsam", nsWSAM},
	{"wsaw", nsWSAW},
	{"sp", nsSP12},
	{"wst", wstrust.Namespace13},
	{"t", wstrust.Namespace2005},
	{"tns", WSDLNamespace},
}

// WSDL describes the STS of snap as a WSDL 1.1 document: the WS-Trust 1.3
// and 2005/02 Issue operations, each bound to SOAP 1.2 and SOAP 1.1
// (document/literal) at the STS's public endpoint, an open-content schema of
// the messages, and the WS-Policy each binding requires. It fails when the
// endpoint is not an absolute http(s) URL that XML can carry.
func WSDL(snap *policy.Snapshot) (*etree.Document, error) {
	return describe(snap, true)
}

// describe is the WSDL of snap; without stsPorts it has the port types
// and messages but no /sts policies, bindings or ports (the service is
// empty), for the AD FS metadata to add its own to.
func describe(snap *policy.Snapshot, stsPorts bool) (*etree.Document, error) {
	address, endpoint, err := publicEndpoint(snap.STS.Endpoint)
	if err != nil {
		return nil, err
	}
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="utf-8"`)
	defs := doc.CreateElement("wsdl:definitions")
	defs.CreateAttr("name", wsdlServiceName)
	defs.CreateAttr("targetNamespace", WSDLNamespace)
	for _, ns := range wsdlNamespaces {
		defs.CreateAttr("xmlns:"+ns.prefix, ns.uri)
	}
	// WS-Policy attachment puts the policies first, as AD FS does.
	if stsPorts {
		for _, c := range contracts {
			defs.AddChild(securityPolicy(snap, c, endpoint))
		}
	}
	types := defs.CreateElement("wsdl:types")
	for _, c := range contracts {
		types.AddChild(trustSchema(c))
	}
	for _, c := range contracts {
		addMessages(defs, c)
	}
	for _, c := range contracts {
		addPortType(defs, c)
	}
	svc := etree.NewElement("wsdl:service")
	svc.CreateAttr("name", wsdlServiceName)
	if stsPorts {
		for _, c := range contracts {
			for _, b := range soapBindings {
				addBinding(defs, c, b)
			}
		}
		addPorts(svc, address, decryptionCertificate(snap))
	}
	defs.AddChild(svc)
	doc.Indent(2)
	return doc, nil
}

// publicEndpoint checks the STS's public URL and returns it as the WSDL
// writes it, with surrounding XML whitespace dropped (xs:anyURI collapse)
// and otherwise as configured, and parsed. It must be an absolute http or
// https URL of characters XML can hold.
func publicEndpoint(raw string) (string, *url.URL, error) {
	s := strings.Trim(raw, " \t\r\n")
	if s == "" {
		return "", nil, errors.New("the STS has no endpoint")
	}
	if !isXMLText(s) {
		return "", nil, fmt.Errorf("the STS endpoint %q has characters XML cannot carry", s)
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", nil, fmt.Errorf("the STS endpoint is not a URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", nil, fmt.Errorf("the STS endpoint %q is not an absolute http or https URL", s)
	}
	return s, u, nil
}

// isXMLText reports whether s is valid UTF-8 made of XML 1.0 characters.
func isXMLText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		ok := r == '\t' || r == '\n' || r == '\r' ||
			(r >= 0x20 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF)
		if !ok {
			return false
		}
	}
	return true
}

// securityPolicy returns the WS-Policy (2004/09) that the SOAP bindings of
// one WS-Trust version reference, with WS-SecurityPolicy 1.2 assertions
// derived from the snapshot, so that policy-driven clients (WCF, CXF, MSAL's
// metadata reader) know what to send:
//   - sp:TransportBinding with an HttpsToken when the endpoint is https;
//   - sp:SignedSupportingTokens with a WSS 1.0 sp:UsernameToken when
//     UsernameToken authentication can succeed (enabled, a user store, a
//     password form allowed), with sp:HashPassword only when PasswordDigest
//     is the sole form accepted;
//   - sp:Trust13 or sp:Trust10 for the WS-Trust version;
//   - WS-Addressing as optional: the STS understands it but does not need it.
//
// It advertises exactly what the STS accepts: clients pick an endpoint by its
// policy. Other credentials (X.509, Kerberos) add their assertions here.
func securityPolicy(snap *policy.Snapshot, c trustContract, endpoint *url.URL) *etree.Element {
	pol := etree.NewElement("wsp:Policy")
	pol.CreateAttr("wsu:Id", c.policyID())
	all := pol.CreateElement("wsp:ExactlyOne").CreateElement("wsp:All")
	if endpoint.Scheme == "https" {
		all.AddChild(transportBinding())
	}
	if ut := usernameTokenAssertion(snap); ut != nil {
		nestedPolicy(all.CreateElement("sp:SignedSupportingTokens")).AddChild(ut)
	}
	nestedPolicy(all.CreateElement("sp:" + c.trustAssertion)).CreateElement("sp:MustSupportIssuedTokens")
	addressing := all.CreateElement("wsaw:UsingAddressing")
	addressing.CreateAttr("wsp:Optional", "true")
	return pol
}

// transportBinding says the message is protected by TLS alone. Layout is Lax
// because the STS reads header blocks in any order; no Timestamp is
// required, as MSAL's and eHealth's clients may send none.
func transportBinding() *etree.Element {
	tb := etree.NewElement("sp:TransportBinding")
	p := nestedPolicy(tb)
	nestedPolicy(nestedPolicy(p.CreateElement("sp:TransportToken")).CreateElement("sp:HttpsToken"))
	nestedPolicy(p.CreateElement("sp:AlgorithmSuite")).CreateElement("sp:Basic256Sha256")
	nestedPolicy(p.CreateElement("sp:Layout")).CreateElement("sp:Lax")
	return tb
}

// usernameTokenAssertion is the sp:UsernameToken the STS accepts, or nil when
// no UsernameToken can authenticate, mirroring what authenticate checks.
func usernameTokenAssertion(snap *policy.Snapshot) *etree.Element {
	auth := snap.STS.UsernameToken
	if !auth.Enabled || snap.Users == nil || (!auth.AllowText && !auth.AllowDigest) {
		return nil
	}
	ut := etree.NewElement("sp:UsernameToken")
	ut.CreateAttr("sp:IncludeToken", includeAlways)
	p := nestedPolicy(ut)
	if auth.AllowDigest && !auth.AllowText {
		p.CreateElement("sp:HashPassword")
	}
	p.CreateElement("sp:WssUsernameToken10")
	return ut
}

// nestedPolicy adds the wsp:Policy child that WS-SecurityPolicy assertions
// carry their parameters in, and returns it.
func nestedPolicy(assertion *etree.Element) *etree.Element {
	return assertion.CreateElement("wsp:Policy")
}

// trustSchema is the schema of one WS-Trust namespace's messages, in the
// spirit of the OASIS schema: RST, RSTR and RSTRC have open content, so any
// RST a client builds is valid, and the simple elements a client sets
// (RequestType, TokenType, KeyType, KeySize) are declared globally so that
// schema-driven clients can create them.
func trustSchema(c trustContract) *etree.Element {
	schema := etree.NewElement("xs:schema")
	schema.CreateAttr("targetNamespace", c.namespace)
	schema.CreateAttr("elementFormDefault", "qualified")
	q := func(local string) string { return c.prefix + ":" + local }

	for _, name := range []string{"RequestSecurityToken", "RequestSecurityTokenResponse"} {
		element(schema, name, q(name+"Type"))
		openType(schema, name+"Type", "##any", "0", "unbounded", contextAttribute())
	}
	element(schema, "RequestSecurityTokenResponseCollection", q("RequestSecurityTokenResponseCollectionType"))
	rstrc := complexType(schema, "RequestSecurityTokenResponseCollectionType")
	ref := rstrc.CreateElement("xs:sequence").CreateElement("xs:element")
	ref.CreateAttr("ref", q("RequestSecurityTokenResponse"))
	ref.CreateAttr("minOccurs", "1")
	ref.CreateAttr("maxOccurs", "unbounded")
	anyAttribute(rstrc)

	for _, name := range []string{"TokenType", "RequestType", "KeyType"} {
		element(schema, name, "xs:anyURI")
	}
	element(schema, "KeySize", "xs:unsignedInt")
	element(schema, "RequestedSecurityToken", q("RequestedSecurityTokenType"))
	openType(schema, "RequestedSecurityTokenType", "##other", "1", "1")
	return schema
}

// element declares a global element of the given type.
func element(schema *etree.Element, name, typ string) {
	el := schema.CreateElement("xs:element")
	el.CreateAttr("name", name)
	el.CreateAttr("type", typ)
}

// complexType declares a named complex type and returns it.
func complexType(schema *etree.Element, name string) *etree.Element {
	ct := schema.CreateElement("xs:complexType")
	ct.CreateAttr("name", name)
	return ct
}

// openType declares a complex type whose children are any elements of
// namespaces (laxly validated), with the given attribute declarations and
// any other attributes from other namespaces.
func openType(schema *etree.Element, name, namespaces, minOccurs, maxOccurs string, attrs ...*etree.Element) {
	ct := complexType(schema, name)
	anyEl := ct.CreateElement("xs:sequence").CreateElement("xs:any")
	anyEl.CreateAttr("namespace", namespaces)
	anyEl.CreateAttr("processContents", "lax")
	anyEl.CreateAttr("minOccurs", minOccurs)
	anyEl.CreateAttr("maxOccurs", maxOccurs)
	for _, a := range attrs {
		ct.AddChild(a)
	}
	anyAttribute(ct)
}

// contextAttribute is the optional Context attribute an RST and its RSTR share.
func contextAttribute() *etree.Element {
	attr := etree.NewElement("xs:attribute")
	attr.CreateAttr("name", "Context")
	attr.CreateAttr("type", "xs:anyURI")
	attr.CreateAttr("use", "optional")
	return attr
}

func anyAttribute(ct *etree.Element) {
	a := ct.CreateElement("xs:anyAttribute")
	a.CreateAttr("namespace", "##other")
	a.CreateAttr("processContents", "lax")
}

// addMessages declares the Issue request and response messages of c.
func addMessages(defs *etree.Element, c trustContract) {
	for _, m := range []struct{ name, part, element string }{
		{c.requestMessage(), "request", "RequestSecurityToken"},
		{c.responseMessage(), "response", c.response},
	} {
		msg := defs.CreateElement("wsdl:message")
		msg.CreateAttr("name", m.name)
		part := msg.CreateElement("wsdl:part")
		part.CreateAttr("name", m.part)
		part.CreateAttr("element", c.prefix+":"+m.element)
	}
}

// addPortType declares c's port type with its Issue operation. Both
// addressing-metadata spellings of the actions are written: WCF and zeep
// read wsam, older stacks wsaw.
func addPortType(defs *etree.Element, c trustContract) {
	pt := defs.CreateElement("wsdl:portType")
	pt.CreateAttr("name", c.portType())
	op := pt.CreateElement("wsdl:operation")
	op.CreateAttr("name", "Issue")
	for _, io := range []struct{ tag, message, action string }{
		{"wsdl:input", c.requestMessage(), c.inputAction},
		{"wsdl:output", c.responseMessage(), c.outputAction},
	} {
		el := op.CreateElement(io.tag)
		el.CreateAttr("message", "tns:"+io.message)
		el.CreateAttr("wsam:Action", io.action)
		el.CreateAttr("wsaw:Action", io.action)
	}
}

// addBinding binds c's port type to SOAP version b, document/literal, with
// the version's policy attached.
func addBinding(defs *etree.Element, c trustContract, b soapBinding) {
	defs.AddChild(newBinding(bindingName(c, b), c.policyID(), c, b))
}

// newBinding is a binding named name of c's port type to SOAP version b,
// document/literal, with the policy policyID attached.
func newBinding(name, policyID string, c trustContract, b soapBinding) *etree.Element {
	binding := etree.NewElement("wsdl:binding")
	binding.CreateAttr("name", name)
	binding.CreateAttr("type", "tns:"+c.portType())
	binding.CreateElement("wsp:PolicyReference").CreateAttr("URI", "#"+policyID)
	sb := binding.CreateElement(b.prefix + ":binding")
	sb.CreateAttr("transport", soapOverHTTP)
	sb.CreateAttr("style", "document")
	op := binding.CreateElement("wsdl:operation")
	op.CreateAttr("name", "Issue")
	so := op.CreateElement(b.prefix + ":operation")
	so.CreateAttr("soapAction", c.inputAction)
	so.CreateAttr("style", "document")
	for _, tag := range []string{"wsdl:input", "wsdl:output"} {
		op.CreateElement(tag).CreateElement(b.prefix+":body").CreateAttr("use", "literal")
	}
	return binding
}

// addPorts declares one port per binding, all at the public endpoint;
// with a request-decryption certificate, each port also names it in an
// endpoint reference, where WCF and other clients look for the key to
// encrypt requests with.
func addPorts(svc *etree.Element, address string, decryption *x509.Certificate) {
	for _, c := range contracts {
		for _, b := range soapBindings {
			port := svc.CreateElement("wsdl:port")
			port.CreateAttr("name", portName(c, b))
			port.CreateAttr("binding", "tns:"+bindingName(c, b))
			port.CreateElement(b.prefix+":address").CreateAttr("location", address)
			if decryption != nil {
				epr := port.CreateElement("wsa10:EndpointReference")
				epr.CreateAttr("xmlns:wsa10", nsWSA10)
				epr.CreateElement("wsa10:Address").SetText(address)
				epr.AddChild(identity(decryption))
			}
		}
	}
}

// decryptionCertificate is the certificate clients encrypt requests for,
// nil when the STS accepts no encrypted requests (never the signing
// certificate).
func decryptionCertificate(snap *policy.Snapshot) *x509.Certificate {
	if d := snap.STS.RequestDecryption; d != nil {
		return d.Certificate
	}
	return nil
}

// identity is the WS-AddressingIdentity element naming cert, as AD FS and
// WCF publish their token-decrypting certificate in an endpoint reference.
func identity(cert *x509.Certificate) *etree.Element {
	id := etree.NewElement("Identity")
	id.CreateAttr("xmlns", nsAddressingIdentity)
	ki := id.CreateElement("KeyInfo")
	ki.CreateAttr("xmlns", xmlsec.NamespaceDSig)
	ki.CreateElement("X509Data").CreateElement("X509Certificate").SetText(base64.StdEncoding.EncodeToString(cert.Raw))
	return id
}

// wantsWSDL reports whether the query asks for the WSDL: ?wsdl, in any case.
func wantsWSDL(u *url.URL) bool {
	for key := range u.Query() {
		if strings.EqualFold(key, "wsdl") {
			return true
		}
	}
	return false
}

// serveWSDL answers GET /sts?wsdl with the WSDL of the current policy.
func (s *Server) serveWSDL(w http.ResponseWriter, r *http.Request) {
	if !wantsWSDL(r.URL) {
		http.Error(w, "GET on this endpoint serves the WSDL only: ask for ?wsdl; tokens are issued on POST.", http.StatusBadRequest)
		return
	}
	snap := s.Policy.Load()
	if snap == nil {
		w.Header().Set("Retry-After", "5")
		http.Error(w, "The STS has no policy loaded yet; try again shortly.", http.StatusServiceUnavailable)
		return
	}
	if err := checkAddress(snap, r, s.TrustedProxies); err != nil {
		s.Log.Info("WSDL refused", "cause", errString(err), "remote", r.RemoteAddr)
		http.Error(w, "Access denied: this address may not call the STS.", http.StatusForbidden)
		return
	}
	doc, err := WSDL(snap)
	if err != nil {
		s.Log.Error(err, "describing the STS", "policyGeneration", snap.Generation)
		http.Error(w, "The STS cannot describe itself: its endpoint setting is not a usable URL.", http.StatusServiceUnavailable)
		return
	}
	body, err := doc.WriteToBytes()
	if err != nil {
		s.Log.Error(err, "writing the WSDL")
		http.Error(w, "The STS could not write its WSDL.", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", WSDLContentType)
	// The WSDL follows the policy, which may change at any time.
	h.Set("Cache-Control", "no-cache")
	if _, err := w.Write(body); err != nil {
		s.Log.Error(err, "writing the WSDL", "remote", r.RemoteAddr)
	}
}
