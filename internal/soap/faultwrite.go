package soap

import (
	"encoding/xml"
	"strconv"
	"unicode/utf8"

	"github.com/beevik/etree"
)

// maxReasonBytes caps the reason text written into a fault.
const maxReasonBytes = 1024

// Prefixes bound to the namespace of a fault's subcode QName.
const (
	prefixTrust    = "wst"
	prefixSecurity = "wsse"
)

// NewFaultResponse builds the fault envelope for f in version v (SOAP 1.2
// when zero) answering a request with addressing req: Action is the
// WS-Addressing fault action of the request's addressing namespace, RelatesTo
// is written when the request's MessageID was understood, and the status is
// 500. trustNS is the WS-Trust namespace of the request, which qualifies
// WS-Trust fault codes (DefaultTrustNamespace when empty); WS-Security codes
// use the secext namespace. headers are added after the addressing headers
// (AD FS sends a Security header with a Timestamp). f.Cause is never written.
func NewFaultResponse(v Version, req Addressing, trustNS string, f *Fault, headers ...*etree.Element) *Response {
	if f == nil {
		f = AsFault(nil)
	}
	action := FaultActionWSA10
	if req.Namespace == NamespaceWSA200408 {
		action = FaultActionWSA200408
	}
	r := newEnvelope(v, req, action)
	r.Fault = true
	faultHeaders(r, f)
	for _, h := range headers {
		r.Header.AddChild(h)
	}
	if trustNS == "" {
		trustNS = DefaultTrustNamespace
	}
	if r.Version == V11 {
		writeFault11(r.Body, f, trustNS)
	} else {
		writeFault12(r.Body, f, trustNS)
	}
	return r
}

// writeFault11 writes a SOAP 1.1 Fault: faultcode is the specific QName
// (wst:InvalidRequest, wsse:FailedAuthentication) or an envelope code.
func writeFault11(body *etree.Element, f *Fault, trustNS string) {
	fault := body.CreateElement(prefixEnvelope + ":Fault")
	code := fault.CreateElement("faultcode")
	if f.Code.Family == FamilyEnvelope {
		code.SetText(prefixEnvelope + ":" + envelopeCode11(f.Code))
	} else {
		setQNameText(code, f.Code, trustNS)
	}
	fault.CreateElement("faultstring").SetText(reasonText(f))
}

// writeFault12 writes a SOAP 1.2 Fault as AD FS does: Code/Value Sender or
// Receiver with the specific QName as Subcode/Value, Reason/Text in English.
func writeFault12(body *etree.Element, f *Fault, trustNS string) {
	fault := body.CreateElement(prefixEnvelope + ":Fault")
	code := fault.CreateElement(prefixEnvelope + ":Code")
	code.CreateElement(prefixEnvelope + ":Value").SetText(prefixEnvelope + ":" + envelopeCode12(f.Code))
	if f.Code.Family != FamilyEnvelope {
		sub := code.CreateElement(prefixEnvelope + ":Subcode")
		setQNameText(sub.CreateElement(prefixEnvelope+":Value"), f.Code, trustNS)
	}
	text := fault.CreateElement(prefixEnvelope + ":Reason").CreateElement(prefixEnvelope + ":Text")
	text.CreateAttr("xml:lang", "en")
	text.SetText(reasonText(f))
}

// envelopeCode11 returns the SOAP 1.1 fault code local name.
func envelopeCode11(c FaultCode) string {
	switch {
	case c == VersionMismatch || c == MustUnderstand:
		return c.Local
	case c.Receiver:
		return "Server"
	}
	return "Client"
}

// envelopeCode12 returns the SOAP 1.2 Code/Value local name.
func envelopeCode12(c FaultCode) string {
	switch {
	case c == VersionMismatch || c == MustUnderstand:
		return c.Local
	case c.Receiver:
		return "Receiver"
	}
	return "Sender"
}

// setQNameText writes the fault code as a QName whose prefix is declared on
// the element itself, so the value resolves wherever the element ends up.
func setQNameText(e *etree.Element, c FaultCode, trustNS string) {
	prefix, ns := prefixTrust, trustNS
	if c.Family == FamilySecurity {
		prefix, ns = prefixSecurity, NamespaceSecext
	}
	e.CreateAttr("xmlns:"+prefix, ns)
	e.SetText(prefix + ":" + c.Local)
}

// reasonText returns the fault's reason, capped, or the code's name when the
// reason is empty. Characters XML cannot carry are replaced when written.
func reasonText(f *Fault) string {
	s := f.Reason
	if s == "" {
		s = f.Code.Local
	}
	if len(s) <= maxReasonBytes {
		return s
	}
	cut := maxReasonBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// faultHeaders adds the SOAP 1.2 header blocks that explain an envelope
// fault: NotUnderstood for each header block not understood (SOAP 1.2 only),
// and Upgrade listing the supported envelopes for a VersionMismatch (in the
// SOAP 1.2 namespace in both versions, as SOAP 1.2 part 1 appendix A
// recommends).
func faultHeaders(r *Response, f *Fault) {
	if f.Code == MustUnderstand && r.Version == V12 {
		for i, n := range f.NotUnderstood {
			nu := r.Header.CreateElement(prefixEnvelope + ":NotUnderstood")
			nu.CreateAttr("qname", declareQName(nu, n, "ns"+strconv.Itoa(i+1)))
		}
	}
	if f.Code == VersionMismatch {
		prefix := prefixEnvelope
		up := etree.NewElement(prefix + ":Upgrade")
		if r.Version != V12 {
			prefix = "s12"
			up = etree.NewElement(prefix + ":Upgrade")
			up.CreateAttr("xmlns:"+prefix, NamespaceSOAP12)
		}
		for i, ns := range []string{NamespaceSOAP12, NamespaceSOAP11} {
			se := up.CreateElement(prefix + ":SupportedEnvelope")
			se.CreateAttr("qname", declareQName(se, xml.Name{Space: ns, Local: "Envelope"}, "ns"+strconv.Itoa(i+1)))
		}
		r.Header.AddChild(up)
	}
}

// declareQName declares n's namespace on e under prefix and returns the
// prefixed name.
func declareQName(e *etree.Element, n xml.Name, prefix string) string {
	if n.Space == "" {
		return n.Local
	}
	e.CreateAttr("xmlns:"+prefix, n.Space)
	return prefix + ":" + n.Local
}
