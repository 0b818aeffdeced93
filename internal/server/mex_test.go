package server_test

import (
	"bytes"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/server"
	"github.com/trustbroker/trustbroker/internal/testfixture"
	"github.com/trustbroker/trustbroker/internal/testtools"
)

// Namespaces a mex reader (ADAL, MSAL) resolves names in.
const (
	mNSSP2005   = "http://schemas.xmlsoap.org/ws/2005/07/securitypolicy"
	mNSHTTP     = "http://schemas.microsoft.com/ws/06/2004/policy/http"
	mNSWSA10    = "http://www.w3.org/2005/08/addressing"
	mNSMex      = "http://schemas.xmlsoap.org/ws/2004/09/mex"
	mNSSOAP12   = "http://www.w3.org/2003/05/soap-envelope"
	mSoapOnHTTP = "http://schemas.xmlsoap.org/soap/http"
)

// mexEndpoint is a WS-Trust endpoint a mex reader found: how it
// authenticates ("username" or "integrated"), its WS-Trust version and URL.
type mexEndpoint struct {
	auth, version, url string
}

// mexEndpoints reads a mex document the way ADAL's and MSAL's readers do:
// a policy counts when it has a TransportBinding, a wsu:Id, and in one of
// its alternatives HTTP Negotiate ("integrated") or a UsernameToken 1.0
// (SP 1.2 SignedEncryptedSupportingTokens or SP 1.1 SignedSupportingTokens:
// "username"); a binding counts when it references such a policy, is bound
// to SOAP 1.2 over HTTP and its operation's soapAction is a WS-Trust Issue
// (which gives the version); a port of the first service counts when its
// binding (a QName) is such a binding, at its wsa10:EndpointReference
// address.
func mexEndpoints(t *testing.T, root *etree.Element) []mexEndpoint {
	t.Helper()
	auths := map[string]string{} // "#id" → auth
	for _, pol := range children(root, wNSWSP, "Policy") {
		id := attrNS(pol, wNSWSU, "Id")
		one := firstChildOrNil(pol, wNSWSP, "ExactlyOne")
		if id == "" || one == nil || (len(findAll(pol, wNSSP, "TransportBinding")) == 0 && len(findAll(pol, mNSSP2005, "TransportBinding")) == 0) {
			continue
		}
		for _, all := range findAll(one, wNSWSP, "All") {
			if len(children(all, mNSHTTP, "NegotiateAuthentication")) > 0 {
				auths["#"+id] = "integrated"
			}
			if usernameAlternative(all, wNSSP, "SignedEncryptedSupportingTokens") || usernameAlternative(all, mNSSP2005, "SignedSupportingTokens") {
				auths["#"+id] = "username"
			}
		}
	}
	type binding struct{ auth, version string }
	bindings := map[string]binding{}
	for _, b := range children(root, wNSWSDL, "binding") {
		for _, ref := range children(b, wNSWSP, "PolicyReference") {
			auth, ok := auths[ref.SelectAttrValue("URI", "")]
			name := b.SelectAttrValue("name", "")
			op := firstChildOrNil(b, wNSWSDL, "operation")
			sb := firstChildOrNil(b, wNSSOAP12, "binding")
			if !ok || name == "" || op == nil || sb == nil || !strings.EqualFold(sb.SelectAttrValue("transport", ""), mSoapOnHTTP) {
				continue
			}
			soapOp := firstChildOrNil(op, wNSSOAP12, "operation")
			if soapOp == nil {
				continue
			}
			switch action := soapOp.SelectAttrValue("soapAction", ""); {
			case strings.EqualFold(action, wNSTrust13+"/RST/Issue"):
				bindings[name] = binding{auth, "1.3"}
			case strings.EqualFold(action, wNSTrust2005+"/RST/Issue"):
				bindings[name] = binding{auth, "2005"}
			}
		}
	}
	service := firstChildOrNil(root, wNSWSDL, "service")
	if service == nil {
		t.Fatal("no wsdl:service")
	}
	var found []mexEndpoint
	for _, port := range children(service, wNSWSDL, "port") {
		_, name, ok := strings.Cut(port.SelectAttrValue("binding", ""), ":")
		b, known := bindings[name]
		epr := firstChildOrNil(port, mNSWSA10, "EndpointReference")
		if !ok || !known || epr == nil {
			continue
		}
		address := firstChildOrNil(epr, mNSWSA10, "Address")
		if address == nil {
			continue
		}
		u, err := url.Parse(strings.TrimSpace(address.Text()))
		if err != nil || !u.IsAbs() {
			continue
		}
		found = append(found, mexEndpoint{b.auth, b.version, u.String()})
	}
	return found
}

// usernameAlternative reports whether a policy alternative asks for a
// UsernameToken 1.0 inside the supporting-token assertion sp:wrapper.
func usernameAlternative(all *etree.Element, sp, wrapper string) bool {
	for _, st := range children(all, sp, wrapper) {
		for _, p := range children(st, wNSWSP, "Policy") {
			for _, ut := range children(p, sp, "UsernameToken") {
				for _, p2 := range children(ut, wNSWSP, "Policy") {
					if len(children(p2, sp, "WssUsernameToken10")) > 0 {
						return true
					}
				}
			}
		}
	}
	return false
}

// pick is the endpoint a client chooses for auth: WS-Trust 1.3 first.
func pick(eps []mexEndpoint, auth string) (mexEndpoint, bool) {
	for _, v := range []string{"1.3", "2005"} {
		for _, ep := range eps {
			if ep.auth == auth && ep.version == v {
				return ep, true
			}
		}
	}
	return mexEndpoint{}, false
}

func firstChildOrNil(parent *etree.Element, ns, local string) *etree.Element {
	if c := children(parent, ns, local); len(c) > 0 {
		return c[0]
	}
	return nil
}

// checkMexStructure checks what holds for every AD FS mex in the corpus:
// every policy reference of a binding resolves to a policy of the document,
// every port's binding resolves to a binding, and a port's soap12:address
// and EndpointReference agree.
func checkMexStructure(t *testing.T, root *etree.Element) {
	t.Helper()
	ids := map[string]bool{}
	for _, pol := range children(root, wNSWSP, "Policy") {
		ids["#"+attrNS(pol, wNSWSU, "Id")] = true
	}
	bindingNames := map[string]bool{}
	for _, b := range children(root, wNSWSDL, "binding") {
		bindingNames[b.SelectAttrValue("name", "")] = true
		for _, ref := range children(b, wNSWSP, "PolicyReference") {
			if !ids[ref.SelectAttrValue("URI", "")] {
				t.Errorf("binding %s references policy %s, which is not in the document", b.SelectAttrValue("name", ""), ref.SelectAttrValue("URI", ""))
			}
		}
	}
	for _, port := range findAll(root, wNSWSDL, "port") {
		_, name, _ := strings.Cut(port.SelectAttrValue("binding", ""), ":")
		if !bindingNames[name] {
			t.Errorf("port %s names binding %q, which is not in the document", port.SelectAttrValue("name", ""), name)
		}
		soapAddr := firstChildOrNil(port, wNSSOAP12, "address")
		epr := firstChildOrNil(port, mNSWSA10, "EndpointReference")
		if soapAddr != nil && epr != nil {
			if a := firstChildOrNil(epr, mNSWSA10, "Address"); a == nil || strings.TrimSpace(a.Text()) != soapAddr.SelectAttrValue("location", "") {
				t.Errorf("port %s: EndpointReference and soap12:address differ", port.SelectAttrValue("name", ""))
			}
		}
	}
}

// TestMexReaderOnCorpus proves the reader above against the mex documents
// real AD FS servers publish: it finds their usernamemixed endpoint, with
// the version its path says.
func TestMexReaderOnCorpus(t *testing.T) {
	for _, tc := range []struct{ file, wantUsername string }{
		{"adfs-mex-microsoft.xml", "https://corp.sts.microsoft.com/adfs/services/trust/13/usernamemixed"},
		{"adfs-mex-arupela.xml", "/adfs/services/trust/13/usernamemixed"},
		{"adfs-mex-archan.us.xml", "/adfs/services/trust/13/usernamemixed"},
		{"adfs-mex-msalnet-testmex.xml", "/adfs/services/trust/13/usernamemixed"},
		// usystech offers username only in WS-Trust 2005.
		{"adfs-mex-usystech.xml", "/adfs/services/trust/2005/usernamemixed"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			data := testtools.ReadCorpus(t, tc.file)
			root := readWSDL(t, bytes.TrimPrefix(data, []byte("\xEF\xBB\xBF")))
			checkMexStructure(t, root)
			eps := mexEndpoints(t, root)
			ep, ok := pick(eps, "username")
			if !ok || !strings.HasSuffix(ep.url, tc.wantUsername) {
				t.Fatalf("username endpoint %+v (found %v), want one ending in %s", ep, ok, tc.wantUsername)
			}
			if wantVersion := map[bool]string{true: "1.3", false: "2005"}[strings.Contains(ep.url, "/13/")]; ep.version != wantVersion {
				t.Errorf("version %s for %s", ep.version, ep.url)
			}
		})
	}
}

func mexSnapshot(endpoint string, ut policy.UsernameTokenAuth, x509Enabled bool) *policy.Snapshot {
	snap := wsdlSnapshot(endpoint, ut)
	if x509Enabled {
		snap.STS.X509 = policy.X509Auth{Enabled: true, Roots: x509.NewCertPool()}
	}
	return snap
}

func renderMex(t *testing.T, snap *policy.Snapshot) (*etree.Element, []byte) {
	t.Helper()
	doc, err := server.Metadata(snap)
	if err != nil {
		t.Fatal(err)
	}
	data, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return readWSDL(t, data), data
}

func portNames(root *etree.Element) []string {
	var names []string
	for _, port := range findAll(root, wNSWSDL, "port") {
		names = append(names, port.SelectAttrValue("name", ""))
	}
	return names
}

// TestMexAdvertisesTheEnabledMechanisms reads our mex with the AD FS
// client's rules: each enabled mechanism has its AD FS ports, at the AD FS
// paths on the public endpoint's scheme and host, and nothing else is
// advertised.
func TestMexAdvertisesTheEnabledMechanisms(t *testing.T) {
	const base = "https://sts.example.com/adfs/services/trust"
	usernamePorts := []string{"UserNameWSTrustBinding_IWSTrust13Async", "UserNameWSTrustBinding_IWSTrustFeb2005Async"}
	certificatePorts := []string{"CertificateWSTrustBinding_IWSTrust13Async", "CertificateWSTrustBinding_IWSTrustFeb2005Async"}
	for _, tc := range []struct {
		name      string
		ut        policy.UsernameTokenAuth
		x509      bool
		wantPorts []string
	}{
		{"passwords and certificates", textAndDigest, true, append(slices.Clone(usernamePorts), certificatePorts...)},
		{"passwords only", textOnly, false, usernamePorts},
		{"certificates only", policy.UsernameTokenAuth{}, true, certificatePorts},
		{"neither", policy.UsernameTokenAuth{}, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, data := renderMex(t, mexSnapshot("https://sts.example.com/tenant/sts", tc.ut, tc.x509))
			checkMexStructure(t, root)
			var adfsPorts []string
			for _, name := range portNames(root) {
				if strings.Contains(name, "WSTrustBinding") {
					adfsPorts = append(adfsPorts, name)
				}
			}
			if !slices.Equal(adfsPorts, tc.wantPorts) {
				t.Errorf("AD FS ports %v, want %v", adfsPorts, tc.wantPorts)
			}
			if strings.Contains(string(data), "windowstransport") || len(findAll(root, mNSHTTP, "NegotiateAuthentication")) > 0 {
				t.Error("windowstransport is advertised, but HTTP Negotiate is not served")
			}
			eps := mexEndpoints(t, root)
			ep, ok := pick(eps, "username")
			if tc.ut.Enabled != ok {
				t.Fatalf("username endpoint found: %v (%+v), want %v", ok, eps, tc.ut.Enabled)
			}
			if ok {
				if ep != (mexEndpoint{"username", "1.3", base + "/13/usernamemixed"}) {
					t.Errorf("a client picks %+v, want our 1.3 usernamemixed", ep)
				}
				if !slices.Contains(eps, mexEndpoint{"username", "2005", base + "/2005/usernamemixed"}) {
					t.Errorf("no 2005 usernamemixed among %+v (clients fall back to it)", eps)
				}
			}
			for _, name := range certificatePorts {
				if !slices.Contains(tc.wantPorts, name) {
					continue
				}
				pol := bindingPolicy(t, root, named(t, root, wNSWSDL, "binding", name))
				sp := map[bool]string{true: wNSSP, false: mNSSP2005}[strings.Contains(name, "13")]
				if len(findAll(pol, sp, "EndorsingSupportingTokens")) != 1 || len(findAll(pol, sp, "X509Token")) != 1 || len(findAll(pol, sp, "TransportBinding")) != 2 {
					t.Errorf("%s: the policy does not offer an endorsing X509Token or a client certificate, both over TLS", name)
				}
			}
		})
	}
}

// TestMexGolden pins the whole document.
func TestMexGolden(t *testing.T) {
	_, got := renderMex(t, mexSnapshot("https://sts.example.com/sts", textAndDigest, true))
	testtools.Golden(t, filepath.Join("testdata", "mex-https-usernametoken-x509.golden.xml"), got, *update)
}

// TestMexDigestOnly: an STS that accepts only PasswordDigest says so.
func TestMexDigestOnly(t *testing.T) {
	root, _ := renderMex(t, mexSnapshot("https://sts.example.com/sts", digestOnly, false))
	pol := bindingPolicy(t, root, named(t, root, wNSWSDL, "binding", "UserNameWSTrustBinding_IWSTrust13Async"))
	if len(findAll(pol, wNSSP, "HashPassword")) != 1 {
		t.Error("the usernamemixed policy of a digest-only STS has no sp:HashPassword")
	}
}

// getMex fetches a mex document over HTTP.
func getMex(t *testing.T, url string) *etree.Element {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/xml") {
		t.Fatalf("GET %s: status %d, %s:\n%s", url, resp.StatusCode, resp.Header.Get("Content-Type"), data)
	}
	return readWSDL(t, data)
}

// TestMexFollowsConfiguration: both mex paths serve the live policy, and a
// change of the configuration changes the mex, with no restart.
func TestMexFollowsConfiguration(t *testing.T) {
	sts := testfixture.StartSTS(t, nil)
	base := strings.TrimSuffix(sts.URL, "/sts")
	for _, path := range []string{"/sts/mex", "/adfs/services/trust/mex"} {
		eps := mexEndpoints(t, getMex(t, base+path))
		if ep, ok := pick(eps, "username"); !ok || ep.url != "http://127.0.0.1:8080/adfs/services/trust/13/usernamemixed" {
			t.Errorf("%s: username endpoint %+v, %v; want the sample's endpoint host with the AD FS path", path, ep, ok)
		}
	}

	manifests := stsManifest(t, "  endpoint: http://127.0.0.1:8080/sts\n", "  endpoint: https://sts.example.org/sts\n")
	sts.WriteManifest(t, "sts.yaml", strings.Replace(manifests["sts.yaml"], "      allowPasswordText: true\n", "      allowPasswordText: false\n", 1))
	if err := sts.Source.Load(); err != nil {
		t.Fatal(err)
	}
	root := getMex(t, base+"/sts/mex")
	if ep, ok := pick(mexEndpoints(t, root), "username"); !ok || ep.url != "https://sts.example.org/adfs/services/trust/13/usernamemixed" {
		t.Errorf("after the change: username endpoint %+v, %v; want the new endpoint's host", ep, ok)
	}
	pol := bindingPolicy(t, root, named(t, root, wNSWSDL, "binding", "UserNameWSTrustBinding_IWSTrust13Async"))
	if len(findAll(pol, wNSSP, "HashPassword")) != 1 {
		t.Error("after turning PasswordText off the policy does not ask for a digest")
	}
}

const transferGet = `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://www.w3.org/2005/08/addressing">` +
	`<s:Header><a:Action s:mustUnderstand="1">
	http://schemas.xmlsoap.org/ws/2004/09/transfer/Get </a:Action>` +
	`<a:MessageID>urn:uuid:0b5c7f0e-2f7b-4b5e-9d59-2f0a4d5e6f70</a:MessageID><a:To s:mustUnderstand="1">https://sts.example.com/adfs/services/trust/mex</a:To></s:Header>` +
	`<s:Body/></s:Envelope>`

// TestMexTransferGet: a POSTed WS-Transfer Get (and GetMetadata) gets the
// same WSDL inside mex:Metadata; anything else a fault.
func TestMexTransferGet(t *testing.T) {
	sts := testfixture.StartSTS(t, nil)
	mex := strings.TrimSuffix(sts.URL, "/sts") + "/adfs/services/trust/mex"
	const soap11Get = `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body></s:Body></s:Envelope>`
	const getMetadata = `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing">` +
		`<s:Header><a:Action>http://schemas.xmlsoap.org/ws/2004/09/mex/GetMetadata/Request</a:Action></s:Header>` +
		`<s:Body><m:GetMetadata xmlns:m="http://schemas.xmlsoap.org/ws/2004/09/mex"/></s:Body></s:Envelope>`
	for _, tc := range []struct {
		name, body, contentType, soapAction string
		wantAction, wantRelatesTo           string
	}{
		{"SOAP 1.2 with WS-Addressing", transferGet, "application/soap+xml; charset=utf-8", "",
			"http://schemas.xmlsoap.org/ws/2004/09/transfer/GetResponse", "urn:uuid:0b5c7f0e-2f7b-4b5e-9d59-2f0a4d5e6f70"},
		{"SOAP 1.1 with SOAPAction only", soap11Get, "text/xml; charset=utf-8", `"http://schemas.xmlsoap.org/ws/2004/09/transfer/Get"`,
			"http://schemas.xmlsoap.org/ws/2004/09/transfer/GetResponse", ""},
		{"GetMetadata in WS-Addressing 2004/08", getMetadata, "application/soap+xml", "",
			"http://schemas.xmlsoap.org/ws/2004/09/mex/GetMetadata/Response", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, mex, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", tc.contentType)
			if tc.soapAction != "" {
				req.Header.Set("SOAPAction", tc.soapAction)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			data, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d:\n%s", resp.StatusCode, data)
			}
			doc := parse(t, data)
			if got := doc.FindElement("//Header/Action"); got == nil || got.Text() != tc.wantAction {
				t.Errorf("Action %v, want %s", got, tc.wantAction)
			}
			if got := doc.FindElement("//Header/RelatesTo"); (got == nil) != (tc.wantRelatesTo == "") || (got != nil && got.Text() != tc.wantRelatesTo) {
				t.Errorf("RelatesTo %v, want %q", got, tc.wantRelatesTo)
			}
			body := doc.FindElement("//Body")
			md := firstChildOrNil(body, mNSMex, "Metadata")
			if md == nil || len(body.ChildElements()) != 1 {
				t.Fatalf("the body is not one mex:Metadata:\n%s", data)
			}
			sections := children(md, mNSMex, "MetadataSection")
			if len(sections) != 1 || sections[0].SelectAttrValue("Dialect", "") != "http://schemas.xmlsoap.org/wsdl/" {
				t.Fatalf("want one MetadataSection of the WSDL dialect:\n%s", data)
			}
			defs := firstChildOrNil(sections[0], wNSWSDL, "definitions")
			if defs == nil {
				t.Fatalf("the section holds no wsdl:definitions:\n%s", data)
			}
			checkMexStructure(t, defs)
			if _, ok := pick(mexEndpoints(t, defs), "username"); !ok {
				t.Error("the wrapped WSDL offers no usernamemixed endpoint")
			}
		})
	}

	for _, tc := range []struct{ name, body, reason string }{
		{"another action", strings.Replace(transferGet, "transfer/Get", "transfer/Put", 1), "answers WS-Transfer Get"},
		{"a Get with a body", strings.Replace(transferGet, "<s:Body/>", "<s:Body><x/></s:Body>", 1), "empty Body"},
		{"a DTD", `<!DOCTYPE s:Envelope [<!ENTITY x "y">]>` + transferGet, "DTDs"},
		{"not XML", "<s:Envelope", "well-formed"},
	} {
		t.Run("refused: "+tc.name, func(t *testing.T) {
			resp, err := http.Post(mex, "application/soap+xml; charset=utf-8", strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			data, _ := io.ReadAll(resp.Body)
			reason := parse(t, data).FindElement("//Fault/Reason/Text")
			if resp.StatusCode != http.StatusInternalServerError || reason == nil || !strings.Contains(reason.Text(), tc.reason) {
				t.Fatalf("status %d, want 500 and a fault saying %q:\n%s", resp.StatusCode, tc.reason, data)
			}
		})
	}
}

// FuzzMexRequest posts arbitrary bodies to the mex endpoint: the answer is
// always the metadata or a SOAP fault, never a crash.
func FuzzMexRequest(f *testing.F) {
	f.Add([]byte(transferGet), "application/soap+xml")
	f.Add([]byte(`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>`), "text/xml")
	f.Add([]byte(`<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><m:GetMetadata xmlns:m="http://schemas.xmlsoap.org/ws/2004/09/mex"><m:Dialect>x</m:Dialect></m:GetMetadata></s:Body></s:Envelope>`), `application/soap+xml; action="http://schemas.xmlsoap.org/ws/2004/09/mex/GetMetadata/Request"`)
	f.Add([]byte("\xEF\xBB\xBF<!doctype x>"), "")
	holder := &policy.Holder{}
	holder.Publish(mexSnapshot("https://sts.example.com/sts", textOnly, true))
	handler := (&server.Server{Policy: holder}).Handler()
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		req := httptest.NewRequest(http.MethodPost, "/sts/mex", bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK:
			if !bytes.Contains(rec.Body.Bytes(), []byte("MetadataSection")) {
				t.Fatalf("200 without metadata:\n%s", rec.Body.Bytes())
			}
		case http.StatusInternalServerError:
			if !bytes.Contains(rec.Body.Bytes(), []byte("Fault")) {
				t.Fatalf("500 without a fault:\n%s", rec.Body.Bytes())
			}
		default:
			t.Fatalf("status %d", rec.Code)
		}
	})
}

// TestADFSMexIsSOAP12Only: /adfs/services/trust/mex carries what AD FS's
// does, the AD FS endpoints bound to SOAP 1.2 and nothing of /sts (MSAL's
// reader fails on the first binding without soap12:binding), while
// /sts/mex still lists /sts in both SOAP versions.
func TestADFSMexIsSOAP12Only(t *testing.T) {
	snap := mexSnapshot("https://sts.example.com/sts", textAndDigest, true)
	doc, err := server.ADFSMetadata(snap)
	if err != nil {
		t.Fatal(err)
	}
	data, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	root := readWSDL(t, data)
	checkMexStructure(t, root)
	for _, b := range children(root, wNSWSDL, "binding") {
		if firstChildOrNil(b, wNSSOAP12, "binding") == nil || firstChildOrNil(b, wNSSOAP11, "binding") != nil {
			t.Errorf("binding %s is not bound to SOAP 1.2 alone", b.SelectAttrValue("name", ""))
		}
	}
	for _, port := range findAll(root, wNSWSDL, "port") {
		if !strings.Contains(port.SelectAttrValue("name", ""), "WSTrustBinding") {
			t.Errorf("port %s is not an AD FS endpoint", port.SelectAttrValue("name", ""))
		}
	}
	if got := len(findAll(root, wNSWSDL, "port")); got != 4 {
		t.Errorf("%d ports, want usernamemixed and certificatemixed in both versions", got)
	}
	full, _ := renderMex(t, snap)
	if !slices.Contains(portNames(full), "Trust13Soap11") {
		t.Errorf("/sts/mex lost the /sts SOAP 1.1 port: %v", portNames(full))
	}
}
