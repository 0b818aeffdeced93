package soap

import (
	"encoding/xml"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/beevik/etree"
	"github.com/trustbroker/trustbroker/internal/testtools"
)

// rstrcBody returns a small stand-in for a WS-Trust response body.
func rstrcBody() *etree.Element {
	e := etree.NewElement("trust:RequestSecurityTokenResponseCollection")
	e.CreateAttr("xmlns:trust", "http://docs.oasis-open.org/ws-sx/ws-trust/200512")
	e.CreateElement("trust:RequestSecurityTokenResponse")
	return e
}

// timestampHeader returns a Security header like the one AD FS answers with.
func timestampHeader() *etree.Element {
	sec := etree.NewElement("o:Security")
	sec.CreateAttr("xmlns:o", NamespaceSecext)
	ts := sec.CreateElement("u:Timestamp")
	ts.CreateAttr("xmlns:u", NamespaceUtility)
	ts.CreateAttr("u:Id", "_0")
	ts.CreateElement("u:Created").SetText("2013-11-15T03:08:25.221Z")
	ts.CreateElement("u:Expires").SetText("2013-11-15T03:13:25.221Z")
	return sec
}

func TestResponseGolden(t *testing.T) {
	const issueFinal = "http://docs.oasis-open.org/ws-sx/ws-trust/200512/RSTRC/IssueFinal"
	tests := []struct {
		golden  string
		v       Version
		req     Addressing
		headers func() []*etree.Element
	}{
		{"response-soap12-relatesto.xml", V12, Addressing{Namespace: NamespaceWSA10, MessageID: "urn:uuid:b052e0d8-349c-4d73-9ddb-0782043a440e"},
			func() []*etree.Element { return []*etree.Element{timestampHeader()} }},
		{"response-soap12-no-messageid.xml", V12, Addressing{Namespace: NamespaceWSA10}, nil},
		{"response-soap11-no-addressing.xml", V11, Addressing{}, nil},
		{"response-soap12-wsa200408.xml", V12, Addressing{Namespace: NamespaceWSA200408, MessageID: "urn:uuid:2"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			var headers []*etree.Element
			if tt.headers != nil {
				headers = tt.headers()
			}
			r := NewResponse(tt.v, tt.req, issueFinal, headers, rstrcBody())
			b, err := r.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			testtools.Golden(t, filepath.Join("testdata", "golden", tt.golden), b, *update)
			if r.Fault {
				t.Error("a response marked as a fault")
			}
			// What we write, we read back with the same meaning.
			env, err := Parse(b, r.ContentType(), Limits{})
			if err != nil {
				t.Fatalf("re-parse: %v", err)
			}
			wantNS := tt.req.Namespace
			if wantNS == "" {
				wantNS = NamespaceWSA10
			}
			if env.Addressing.Namespace != wantNS || env.Addressing.Action != issueFinal {
				t.Errorf("re-parsed addressing %+v", env.Addressing)
			}
			relates := ""
			if e := env.Block(wantNS, "RelatesTo"); e != nil {
				relates = CollapsedText(e)
			}
			if relates != tt.req.MessageID {
				t.Errorf("RelatesTo = %q, want %q", relates, tt.req.MessageID)
			}
			_, mandatory := AttrNS(env.Block(wantNS, "Action"), tt.v.Namespace(), "mustUnderstand")
			if mandatory != (tt.req.Namespace != "") {
				t.Errorf("Action mustUnderstand present = %v, want it only when the request used WS-Addressing", mandatory)
			}
		})
	}
}

func TestResponseContentTypes(t *testing.T) {
	if got := NewResponse(V11, Addressing{}, "urn:a", nil, nil).ContentType(); got != "text/xml; charset=utf-8" {
		t.Errorf("1.1 content type %q", got)
	}
	if got := NewResponse(V12, Addressing{}, "urn:a", nil, nil).ContentType(); got != "application/soap+xml; charset=utf-8" {
		t.Errorf("1.2 content type %q", got)
	}
	if got := NewResponse(0, Addressing{}, "urn:a", nil, nil).Version; got != V12 {
		t.Errorf("unknown version answers in %v, want SOAP 1.2", got)
	}
}

func TestFaultGolden(t *testing.T) {
	const trust2005 = "http://schemas.xmlsoap.org/ws/2005/02/trust"
	wsa := Addressing{Namespace: NamespaceWSA10, MessageID: "urn:uuid:a4444a44-aaaa-4444-4444-aaaaaaaaaa"}
	tests := []struct {
		golden  string
		v       Version
		req     Addressing
		trustNS string
		fault   *Fault
	}{
		{"fault-soap12-trust2005-failedauthentication.xml", V12, wsa, trust2005, NewFault(TrustFailedAuthentication, "MSIS7068: Access denied.", nil)},
		{"fault-soap12-trust13-invalidrequest.xml", V12, Addressing{}, "", NewFault(InvalidRequest, "wst:RequestType is missing", nil)},
		{"fault-soap12-wsse-messageexpired.xml", V12, wsa, "", NewFault(MessageExpired, "the message has expired", nil)},
		{"fault-soap12-receiver.xml", V12, wsa, "", NewFault(RequestFailed, "the request could not be processed", nil)},
		{"fault-soap12-mustunderstand.xml", V12, wsa, "", &Fault{Code: MustUnderstand, Reason: "header {urn:custom}Custom is not understood",
			NotUnderstood: []xml.Name{{Space: "urn:custom", Local: "Custom"}}}},
		{"fault-soap12-versionmismatch.xml", V12, Addressing{}, "", NewFault(VersionMismatch, "unknown SOAP envelope namespace", nil)},
		{"fault-soap12-wsa200408-sender.xml", V12, Addressing{Namespace: NamespaceWSA200408}, "", NewFault(Sender, "malformed XML", nil)},
		{"fault-soap11-trust13-invalidrequest.xml", V11, Addressing{}, "", NewFault(InvalidRequest, "wst:KeySize is not a number", nil)},
		{"fault-soap11-wsse-failedauthentication.xml", V11, wsa, "", NewFault(FailedAuthentication, "authentication failed", nil)},
		{"fault-soap11-client.xml", V11, Addressing{}, "", NewFault(Sender, "the Body is empty", nil)},
		{"fault-soap11-server.xml", V11, Addressing{}, "", NewFault(Receiver, "the request could not be processed", nil)},
		{"fault-soap11-versionmismatch.xml", V11, Addressing{}, "", NewFault(VersionMismatch, "unknown SOAP envelope namespace", nil)},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			r := NewFaultResponse(tt.v, tt.req, tt.trustNS, tt.fault)
			b, err := r.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			testtools.Golden(t, filepath.Join("testdata", "golden", tt.golden), b, *update)
			if !r.Fault {
				t.Error("a fault not marked as one")
			}
		})
	}
}

// TestFaultMatchesADFS reads our SOAP 1.2 fault and AD FS's recorded one the
// same way a client does (namespace-resolved QNames) and compares them.
func TestFaultMatchesADFS(t *testing.T) {
	type shape struct{ action, relatesTo, code, subcodeNS, subcodeLocal, reason string }
	read := func(t *testing.T, data []byte) shape {
		t.Helper()
		env, err := Parse(data, "application/soap+xml", Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if !IsElement(env.Body, NamespaceSOAP12, "Fault") {
			t.Fatalf("body is %s", env.Body.Tag)
		}
		var s shape
		s.action = env.Addressing.Action
		if rel := env.Block(NamespaceWSA10, "RelatesTo"); rel != nil {
			s.relatesTo = CollapsedText(rel)
		}
		code := ChildElement(env.Body, NamespaceSOAP12, "Code")
		value := ChildElement(code, NamespaceSOAP12, "Value")
		s.code = resolveQName(value)
		sub := ChildElement(ChildElement(code, NamespaceSOAP12, "Subcode"), NamespaceSOAP12, "Value")
		ns, local, _ := strings.Cut(resolveQName(sub), "|")
		s.subcodeNS, s.subcodeLocal = ns, local
		s.reason = CollapsedText(ChildElement(ChildElement(env.Body, NamespaceSOAP12, "Reason"), NamespaceSOAP12, "Text"))
		return s
	}
	adfs := read(t, testtools.ReadCorpus(t, "adfs-soap12-fault-failedauthentication.xml"))
	ours := NewFaultResponse(V12, Addressing{Namespace: NamespaceWSA10, MessageID: adfs.relatesTo},
		"http://schemas.xmlsoap.org/ws/2005/02/trust", NewFault(TrustFailedAuthentication, adfs.reason, nil))
	b, err := ours.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if got := read(t, b); got != adfs {
		t.Errorf("our fault reads as %+v\nAD FS's reads as %+v", got, adfs)
	}
}

// resolveQName resolves a QName text value against e's namespace
// declarations and returns "namespace|local".
func resolveQName(e *etree.Element) string {
	prefix, local, ok := strings.Cut(CollapsedText(e), ":")
	if !ok {
		return "|" + prefix
	}
	for p := e; p != nil; p = p.Parent() {
		for _, a := range p.Attr {
			if a.Space == "xmlns" && a.Key == prefix {
				return a.Value + "|" + local
			}
		}
	}
	return "?|" + local
}

func TestFaultNeverWritesCause(t *testing.T) {
	const secret = "hunter2-password-value"
	f := NewFault(FailedAuthentication, "authentication failed", errors.New("bcrypt mismatch for password "+secret))
	for _, v := range []Version{V11, V12} {
		b, err := NewFaultResponse(v, Addressing{}, "", f).Bytes()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), secret) || strings.Contains(string(b), "bcrypt") {
			t.Errorf("%v fault leaks its cause: %s", v, b)
		}
	}
}

func TestFaultReasonIsBoundedAndEscaped(t *testing.T) {
	long := strings.Repeat("é", 2000) + "<tail>"
	b, err := NewFaultResponse(V12, Addressing{}, "", NewFault(InvalidRequest, long, nil)).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 3000 {
		t.Errorf("fault is %d bytes; the reason was not capped", len(b))
	}
	env, err := Parse(b, "", Limits{})
	if err != nil {
		t.Fatalf("fault with a long reason does not re-parse: %v", err)
	}
	text := CollapsedText(ChildElement(ChildElement(env.Body, NamespaceSOAP12, "Reason"), NamespaceSOAP12, "Text"))
	if !strings.HasPrefix(text, "éé") || strings.Contains(text, "<tail>") {
		t.Errorf("reason text %q", text[:20])
	}
	b, err = NewFaultResponse(V11, Addressing{}, "", NewFault(InvalidRequest, "bad \x00 <value> & \"more\"", nil)).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(b, "", Limits{}); err != nil {
		t.Fatalf("fault with markup in its reason does not re-parse: %v\n%s", err, b)
	}
}

func TestAsFault(t *testing.T) {
	f := NewFault(InvalidRequest, "bad", nil)
	if AsFault(f) != f {
		t.Error("AsFault did not return the fault itself")
	}
	wrapped := errors.Join(errors.New("context"), f)
	if AsFault(wrapped) != f {
		t.Error("AsFault did not unwrap")
	}
	internal := errors.New("database at 10.0.0.1 unreachable")
	g := AsFault(internal)
	if g.Code != Receiver || strings.Contains(g.Reason, "10.0.0.1") || !errors.Is(g, internal) {
		t.Errorf("AsFault(internal) = %+v", g)
	}
}
