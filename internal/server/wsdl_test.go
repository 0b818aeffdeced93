package server_test

import (
	"context"
	"flag"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/server"
	"github.com/trustbroker/trustbroker/internal/testtools"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// Namespaces a WSDL reader resolves names in.
const (
	wNSWSDL   = "http://schemas.xmlsoap.org/wsdl/"
	wNSSOAP11 = "http://schemas.xmlsoap.org/wsdl/soap/"
	wNSSOAP12 = "http://schemas.xmlsoap.org/wsdl/soap12/"
	wNSXS     = "http://www.w3.org/2001/XMLSchema"
	wNSWSP    = "http://schemas.xmlsoap.org/ws/2004/09/policy"
	wNSWSU    = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
	wNSWSAM   = "http://www.w3.org/2007/05/addressing/metadata"
	wNSSP     = "http://docs.oasis-open.org/ws-sx/ws-securitypolicy/200702"

	wNSTrust13   = "http://docs.oasis-open.org/ws-sx/ws-trust/200512"
	wNSTrust2005 = "http://schemas.xmlsoap.org/ws/2005/02/trust"
)

// anyUsers stands for a configured user store: the WSDL only asks whether
// there is one.
type anyUsers struct{}

func (anyUsers) Authenticate(context.Context, string, string) (*policy.User, error) {
	return nil, policy.ErrBadCredentials
}

func (anyUsers) PlainPassword(context.Context, string) (string, *policy.User, error) {
	return "", nil, policy.ErrBadCredentials
}

var (
	textAndDigest = policy.UsernameTokenAuth{Enabled: true, AllowText: true, AllowDigest: true}
	textOnly      = policy.UsernameTokenAuth{Enabled: true, AllowText: true}
	digestOnly    = policy.UsernameTokenAuth{Enabled: true, AllowDigest: true}
)

func wsdlSnapshot(endpoint string, ut policy.UsernameTokenAuth) *policy.Snapshot {
	return &policy.Snapshot{Generation: 1, STS: policy.STS{Endpoint: endpoint, UsernameToken: ut}, Users: anyUsers{}}
}

// renderWSDL generates the WSDL of snap and reads it back, as a client would.
func renderWSDL(t *testing.T, snap *policy.Snapshot) (*etree.Element, []byte) {
	t.Helper()
	doc, err := server.WSDL(snap)
	if err != nil {
		t.Fatal(err)
	}
	data, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return readWSDL(t, data), data
}

func readWSDL(t testing.TB, data []byte) *etree.Element {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(data); err != nil {
		t.Fatalf("the WSDL is not XML: %v\n%s", err, data)
	}
	root := doc.Root()
	if root == nil || !is(root, wNSWSDL, "definitions") {
		t.Fatalf("the root is not wsdl:definitions:\n%s", data)
	}
	return root
}

func TestWSDLGolden(t *testing.T) {
	_, got := renderWSDL(t, wsdlSnapshot("https://sts.example.com/sts", textAndDigest))
	testtools.Golden(t, filepath.Join("testdata", "wsdl-https-usernametoken.golden.xml"), got, *update)
}

// TestWSDLDescribesTheEndpoint follows every port down to the schema
// elements of its messages, as a WSDL reader does, and checks what it finds.
func TestWSDLDescribesTheEndpoint(t *testing.T) {
	const endpoint = "https://sts.example.com/adfs/services/trust"
	defs, _ := renderWSDL(t, wsdlSnapshot("  "+endpoint+"\n", textAndDigest))
	tns := defs.SelectAttrValue("targetNamespace", "")

	cases := []struct {
		port, soapNS, trustNS, inAction, outAction, response string
	}{
		{"Trust13Soap12", wNSSOAP12, wNSTrust13, wNSTrust13 + "/RST/Issue", wNSTrust13 + "/RSTRC/IssueFinal", "RequestSecurityTokenResponseCollection"},
		{"Trust13Soap11", wNSSOAP11, wNSTrust13, wNSTrust13 + "/RST/Issue", wNSTrust13 + "/RSTRC/IssueFinal", "RequestSecurityTokenResponseCollection"},
		{"TrustFeb2005Soap12", wNSSOAP12, wNSTrust2005, wNSTrust2005 + "/RST/Issue", wNSTrust2005 + "/RSTR/Issue", "RequestSecurityTokenResponse"},
		{"TrustFeb2005Soap11", wNSSOAP11, wNSTrust2005, wNSTrust2005 + "/RST/Issue", wNSTrust2005 + "/RSTR/Issue", "RequestSecurityTokenResponse"},
	}
	services := children(defs, wNSWSDL, "service")
	if len(services) != 1 {
		t.Fatalf("%d services, want 1", len(services))
	}
	if ports := children(services[0], wNSWSDL, "port"); len(ports) != len(cases) {
		t.Errorf("%d ports, want %d", len(ports), len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.port, func(t *testing.T) {
			port := named(t, services[0], wNSWSDL, "port", tc.port)
			address := children(port, tc.soapNS, "address")
			if len(address) != 1 || address[0].SelectAttrValue("location", "") != endpoint {
				t.Errorf("port address = %v, want one %s address at %q", address, tc.soapNS, endpoint)
			}
			binding := lookup(t, defs, tns, port, "binding", "binding")
			sb := children(binding, tc.soapNS, "binding")
			if len(sb) != 1 || sb[0].SelectAttrValue("style", "") != "document" || sb[0].SelectAttrValue("transport", "") != "http://schemas.xmlsoap.org/soap/http" {
				t.Errorf("binding %s: want one document-style SOAP-over-HTTP %s binding", binding.SelectAttrValue("name", ""), tc.soapNS)
			}
			bop := named(t, binding, wNSWSDL, "operation", "Issue")
			if so := children(bop, tc.soapNS, "operation"); len(so) != 1 || so[0].SelectAttrValue("soapAction", "") != tc.inAction {
				t.Errorf("soapAction = %v, want %s", so, tc.inAction)
			}
			for _, io := range []string{"input", "output"} {
				body := children(firstChild(t, bop, wNSWSDL, io), tc.soapNS, "body")
				if len(body) != 1 || body[0].SelectAttrValue("use", "") != "literal" {
					t.Errorf("%s body is not literal", io)
				}
			}

			portType := lookup(t, defs, tns, binding, "type", "portType")
			op := named(t, portType, wNSWSDL, "operation", "Issue")
			for _, io := range []struct{ tag, action, element string }{
				{"input", tc.inAction, "RequestSecurityToken"},
				{"output", tc.outAction, tc.response},
			} {
				el := firstChild(t, op, wNSWSDL, io.tag)
				if got := attrNS(el, wNSWSAM, "Action"); got != io.action {
					t.Errorf("%s wsam:Action = %q, want %q", io.tag, got, io.action)
				}
				msg := lookup(t, defs, tns, el, "message", "message")
				part := firstChild(t, msg, wNSWSDL, "part")
				ns, local := resolveQName(part, part.SelectAttrValue("element", ""))
				if ns != tc.trustNS || local != io.element {
					t.Errorf("%s part element = {%s}%s, want {%s}%s", io.tag, ns, local, tc.trustNS, io.element)
				}
				if schemaElement(defs, ns, local) == nil {
					t.Errorf("no schema declares {%s}%s", ns, local)
				}
			}
		})
	}
}

// TestWSDLSchemaIsOpen checks that the message types accept any content, so
// that every RST a client may send is valid against the WSDL.
func TestWSDLSchemaIsOpen(t *testing.T) {
	defs, _ := renderWSDL(t, wsdlSnapshot("http://127.0.0.1:8080/sts", textOnly))
	for _, ns := range []string{wNSTrust13, wNSTrust2005} {
		for _, name := range []string{"RequestSecurityToken", "RequestSecurityTokenResponse"} {
			el := schemaElement(defs, ns, name)
			if el == nil {
				t.Fatalf("no {%s}%s", ns, name)
			}
			typeNS, typeName := resolveQName(el, el.SelectAttrValue("type", ""))
			ct := schemaType(defs, typeNS, typeName)
			if ct == nil {
				t.Fatalf("{%s}%s has an undeclared type %s", ns, name, el.SelectAttrValue("type", ""))
			}
			anys := findAll(ct, wNSXS, "any")
			if len(anys) != 1 || anys[0].SelectAttrValue("maxOccurs", "") != "unbounded" || anys[0].SelectAttrValue("processContents", "") != "lax" {
				t.Errorf("{%s}%s: children are not open: %v", ns, name, anys)
			}
			if len(findAll(ct, wNSXS, "anyAttribute")) != 1 {
				t.Errorf("{%s}%s: attributes are not open", ns, name)
			}
		}
		for _, name := range []string{"RequestType", "KeyType", "TokenType", "RequestSecurityTokenResponseCollection"} {
			if schemaElement(defs, ns, name) == nil {
				t.Errorf("no global element {%s}%s for clients to build with", ns, name)
			}
		}
	}
}

// TestWSDLPolicyFollowsAuthentication checks that each binding's policy
// advertises what the snapshot accepts, and nothing else.
func TestWSDLPolicyFollowsAuthentication(t *testing.T) {
	cases := []struct {
		name      string
		endpoint  string
		ut        policy.UsernameTokenAuth
		noUsers   bool
		transport bool
		username  bool
		hash      bool
	}{
		{name: "https, text and digest", endpoint: "https://sts.example.com/sts", ut: textAndDigest, transport: true, username: true},
		{name: "https, text only", endpoint: "https://sts.example.com/sts", ut: textOnly, transport: true, username: true},
		{name: "https, digest only", endpoint: "https://sts.example.com/sts", ut: digestOnly, transport: true, username: true, hash: true},
		{name: "http, digest only", endpoint: "http://127.0.0.1:8080/sts", ut: digestOnly, username: true, hash: true},
		{name: "http, text", endpoint: "http://127.0.0.1:8080/sts", ut: textOnly, username: true},
		{name: "upper-case HTTPS scheme", endpoint: "HTTPS://STS.example.com/sts", ut: textOnly, transport: true, username: true},
		{name: "UsernameToken disabled", endpoint: "https://sts.example.com/sts", ut: policy.UsernameTokenAuth{AllowText: true}, transport: true},
		{name: "no password form allowed", endpoint: "https://sts.example.com/sts", ut: policy.UsernameTokenAuth{Enabled: true}, transport: true},
		{name: "no user store", endpoint: "https://sts.example.com/sts", ut: textAndDigest, noUsers: true, transport: true},
	}
	bindings := map[string]string{
		"Trust13Soap12Binding": "Trust13", "Trust13Soap11Binding": "Trust13",
		"TrustFeb2005Soap12Binding": "Trust10", "TrustFeb2005Soap11Binding": "Trust10",
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			snap := wsdlSnapshot(tc.endpoint, tc.ut)
			if tc.noUsers {
				snap.Users = nil
			}
			defs, data := renderWSDL(t, snap)
			for name, trust := range bindings {
				binding := named(t, defs, wNSWSDL, "binding", name)
				pol := bindingPolicy(t, defs, binding)
				alternatives := findAll(pol, wNSWSP, "All")
				if len(alternatives) != 1 {
					t.Fatalf("%s: %d policy alternatives, want 1", name, len(alternatives))
				}
				all := alternatives[0]
				checkAssertion(t, name, all, "TransportBinding", tc.transport)
				if tc.transport && len(findAll(all, wNSSP, "HttpsToken")) != 1 {
					t.Errorf("%s: TransportBinding without HttpsToken", name)
				}
				checkAssertion(t, name, all, "SignedSupportingTokens", tc.username)
				checkAssertion(t, name, all, "UsernameToken", tc.username)
				checkAssertion(t, name, all, "WssUsernameToken10", tc.username)
				checkAssertion(t, name, all, "HashPassword", tc.hash)
				checkAssertion(t, name, all, trust, true)
				other := map[string]string{"Trust13": "Trust10", "Trust10": "Trust13"}[trust]
				checkAssertion(t, name, all, other, false)
			}
			if t.Failed() {
				t.Logf("WSDL:\n%s", data)
			}
		})
	}
}

func TestWSDLRefusesUnusableEndpoints(t *testing.T) {
	for _, endpoint := range []string{"", "  ", "/sts", "ftp://sts.example.com/sts", "https://", "urn:example:sts", "http://sts.example.com/\x01", "http://sts.example.com/\xff", "http://sts.example.com/\uFFFE"} {
		if _, err := server.WSDL(wsdlSnapshot(endpoint, textOnly)); err == nil {
			t.Errorf("endpoint %q was accepted", endpoint)
		}
	}
}

func TestServeWSDL(t *testing.T) {
	holder := &policy.Holder{}
	handler := (&server.Server{Policy: holder}).Handler()
	get := func(target string) *httptest.ResponseRecorder {
		t.Helper()
		req := httptest.NewRequest(http.MethodGet, target, nil)
		req.RemoteAddr = "192.0.2.10:40000"
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		return rec
	}

	if rec := get("/sts?wsdl"); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("without a policy: status %d, want 503", rec.Code)
	}

	holder.Publish(wsdlSnapshot("https://sts.example.com/sts", textOnly))
	for _, target := range []string{"/sts?wsdl", "/sts?WSDL", "/sts?wsdl="} {
		rec := get(target)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: status %d: %s", target, rec.Code, rec.Body)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "text/xml; charset=utf-8" {
			t.Errorf("GET %s: Content-Type %q", target, ct)
		}
		defs := readWSDL(t, rec.Body.Bytes())
		if got := addresses(defs); len(got) != 4 || got[0] != "https://sts.example.com/sts" {
			t.Errorf("GET %s: addresses %v", target, got)
		}
	}
	if rec := get("/sts"); rec.Code != http.StatusBadRequest {
		t.Errorf("GET /sts without ?wsdl: status %d, want 400", rec.Code)
	}

	// A new policy changes the next WSDL: no restart, no stale copy.
	next := wsdlSnapshot("https://sts2.example.com/trust", policy.UsernameTokenAuth{})
	next.Generation = 2
	holder.Publish(next)
	rec := get("/sts?wsdl")
	defs := readWSDL(t, rec.Body.Bytes())
	if got := addresses(defs); got[0] != "https://sts2.example.com/trust" {
		t.Errorf("after a policy change the address is %v", got)
	}
	if n := len(findAll(defs, wNSSP, "UsernameToken")); n != 0 {
		t.Errorf("UsernameToken still advertised after it was disabled (%d)", n)
	}

	refusing := wsdlSnapshot("https://sts.example.com/sts", textOnly)
	refusing.STS.TrustedAddresses = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	holder.Publish(refusing)
	if rec := get("/sts?wsdl"); rec.Code != http.StatusForbidden || strings.Contains(rec.Body.String(), "definitions") {
		t.Errorf("a caller outside trustedAddresses: status %d, want 403 without the WSDL", rec.Code)
	}

	holder.Publish(wsdlSnapshot("ftp://sts.example.com/sts", textOnly))
	if rec := get("/sts?wsdl"); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("an unusable endpoint: status %d, want 503", rec.Code)
	}
}

// FuzzWSDLEndpoint checks that whatever the endpoint setting holds, the WSDL
// is either refused or well-formed with exactly that (trimmed) address.
func FuzzWSDLEndpoint(f *testing.F) {
	for _, seed := range []string{
		"https://sts.example.com/sts", " http://127.0.0.1:8080/sts\n", "https://sts.example.com/sts?a=1&b=<2>",
		`https://sts.example.com/"quoted"`, "https://[::1]:8443/sts", "http://sts.example.com/\x00", "https://ex\u00e4mple.com/s\u00fc",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, endpoint string) {
		doc, err := server.WSDL(wsdlSnapshot(endpoint, textAndDigest))
		if err != nil {
			return
		}
		data, err := doc.WriteToBytes()
		if err != nil {
			t.Fatal(err)
		}
		defs := readWSDL(t, data)
		want := strings.Trim(endpoint, " \t\r\n")
		for _, got := range addresses(defs) {
			if got != want {
				t.Fatalf("address %q, want %q", got, want)
			}
		}
	})
}

// checkAssertion checks that a WS-SecurityPolicy assertion is in the policy
// alternative, or is not.
func checkAssertion(t *testing.T, binding string, all *etree.Element, local string, want bool) {
	t.Helper()
	if got := len(findAll(all, wNSSP, local)) > 0; got != want {
		t.Errorf("%s: sp:%s present = %v, want %v", binding, local, got, want)
	}
}

// bindingPolicy resolves the binding's wsp:PolicyReference to the policy.
func bindingPolicy(t *testing.T, defs, binding *etree.Element) *etree.Element {
	t.Helper()
	refs := children(binding, wNSWSP, "PolicyReference")
	if len(refs) != 1 {
		t.Fatalf("binding %s has %d policy references", binding.SelectAttrValue("name", ""), len(refs))
	}
	id, ok := strings.CutPrefix(refs[0].SelectAttrValue("URI", ""), "#")
	if !ok {
		t.Fatalf("policy reference %q is not local", refs[0].SelectAttrValue("URI", ""))
	}
	for _, p := range children(defs, wNSWSP, "Policy") {
		if attrNS(p, wNSWSU, "Id") == id {
			return p
		}
	}
	t.Fatalf("no policy with wsu:Id %q", id)
	return nil
}

func addresses(defs *etree.Element) []string {
	var out []string
	for _, svc := range children(defs, wNSWSDL, "service") {
		for _, port := range children(svc, wNSWSDL, "port") {
			for _, a := range port.ChildElements() {
				if is(a, wNSSOAP11, "address") || is(a, wNSSOAP12, "address") {
					out = append(out, a.SelectAttrValue("location", ""))
				}
			}
		}
	}
	return out
}

// lookup resolves the QName in attribute attr of el to the top-level WSDL
// element of that kind and name, which must be in the target namespace.
func lookup(t *testing.T, defs *etree.Element, tns string, el *etree.Element, attr, kind string) *etree.Element {
	t.Helper()
	ns, local := resolveQName(el, el.SelectAttrValue(attr, ""))
	if ns != tns {
		t.Fatalf("%s=%q is not in the target namespace %s", attr, el.SelectAttrValue(attr, ""), tns)
	}
	return named(t, defs, wNSWSDL, kind, local)
}

// named returns the one child of parent with the given name attribute.
func named(t *testing.T, parent *etree.Element, ns, local, name string) *etree.Element {
	t.Helper()
	var found []*etree.Element
	for _, c := range children(parent, ns, local) {
		if c.SelectAttrValue("name", "") == name {
			found = append(found, c)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d {%s}%s named %q, want 1", len(found), ns, local, name)
	}
	return found[0]
}

func firstChild(t *testing.T, parent *etree.Element, ns, local string) *etree.Element {
	t.Helper()
	c := children(parent, ns, local)
	if len(c) == 0 {
		t.Fatalf("%s has no {%s}%s", parent.Tag, ns, local)
	}
	return c[0]
}

// schemaElement finds the global element {ns}local in the embedded schemas.
func schemaElement(defs *etree.Element, ns, local string) *etree.Element {
	return schemaComponent(defs, ns, "element", local)
}

func schemaType(defs *etree.Element, ns, local string) *etree.Element {
	return schemaComponent(defs, ns, "complexType", local)
}

func schemaComponent(defs *etree.Element, ns, kind, local string) *etree.Element {
	for _, types := range children(defs, wNSWSDL, "types") {
		for _, schema := range children(types, wNSXS, "schema") {
			if schema.SelectAttrValue("targetNamespace", "") != ns {
				continue
			}
			for _, c := range children(schema, wNSXS, kind) {
				if c.SelectAttrValue("name", "") == local {
					return c
				}
			}
		}
	}
	return nil
}

// resolveQName resolves a prefixed name in an attribute value of el.
func resolveQName(el *etree.Element, qname string) (ns, local string) {
	prefix, local, ok := strings.Cut(qname, ":")
	if !ok {
		prefix, local = "", qname
	}
	for e := el; e != nil; e = e.Parent() {
		for _, a := range e.Attr {
			if (prefix == "" && a.Space == "" && a.Key == "xmlns") || (a.Space == "xmlns" && a.Key == prefix) {
				return a.Value, local
			}
		}
	}
	return "", local
}

func is(el *etree.Element, ns, local string) bool {
	return el.Tag == local && el.NamespaceURI() == ns
}

func children(parent *etree.Element, ns, local string) []*etree.Element {
	var out []*etree.Element
	for _, c := range parent.ChildElements() {
		if is(c, ns, local) {
			out = append(out, c)
		}
	}
	return out
}

func findAll(root *etree.Element, ns, local string) []*etree.Element {
	var out []*etree.Element
	for _, c := range root.ChildElements() {
		if is(c, ns, local) {
			out = append(out, c)
		}
		out = append(out, findAll(c, ns, local)...)
	}
	return out
}

func attrNS(el *etree.Element, ns, local string) string {
	for _, a := range el.Attr {
		if a.Key == local && a.NamespaceURI() == ns {
			return a.Value
		}
	}
	return ""
}
