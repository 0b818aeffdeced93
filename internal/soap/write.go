package soap

import (
	"bytes"
	"github.com/beevik/etree"
)

// Prefixes of the response envelope. AD FS uses the same ones; clients match
// on namespaces, so they are cosmetic.
const (
	prefixEnvelope   = "s"
	prefixAddressing = "a"
)

// Response is a SOAP response envelope. It is built as a tree so that the
// WS-Security layer can add its header block and wsu:Id attributes (and sign)
// before the envelope is serialised.
type Response struct {
	// Version is the SOAP version of the response (that of the request).
	Version Version
	// Document holds the envelope.
	Document *etree.Document
	// Header is the SOAP Header element; the addressing headers come first.
	Header *etree.Element
	// Body is the SOAP Body element.
	Body *etree.Element
	// Fault is set when the Body holds a SOAP Fault (both SOAP HTTP
	// bindings answer it with status 500).
	Fault bool
}

// NewResponse builds a response envelope of version v (SOAP 1.2 when v is
// zero) answering a request with addressing req. It writes wsa:Action and,
// when the request carried a MessageID, wsa:RelatesTo, in the addressing
// namespace the request used (2005/08 when it used none); then the given
// header blocks, then body inside the Body. Action carries mustUnderstand "1"
// (as AD FS writes it) when the request used WS-Addressing; a client that
// sent none may not understand it, and WCF rejects a mandatory header it
// does not understand.
// The elements are moved into the envelope and must carry their own
// namespace declarations.
func NewResponse(v Version, req Addressing, action string, headers []*etree.Element, body *etree.Element) *Response {
	r := newEnvelope(v, req, action)
	for _, h := range headers {
		r.Header.AddChild(h)
	}
	if body != nil {
		r.Body.AddChild(body)
	}
	return r
}

// newEnvelope builds the Envelope with the addressing reply headers and an
// empty Body.
func newEnvelope(v Version, req Addressing, action string) *Response {
	if v != V11 {
		v = V12
	}
	wsa := req.Namespace
	if wsa == "" {
		wsa = NamespaceWSA10
	}
	doc := etree.NewDocument()
	env := doc.CreateElement(prefixEnvelope + ":Envelope")
	env.CreateAttr("xmlns:"+prefixEnvelope, v.Namespace())
	env.CreateAttr("xmlns:"+prefixAddressing, wsa)
	header := env.CreateElement(prefixEnvelope + ":Header")
	act := header.CreateElement(prefixAddressing + ":Action")
	if req.Namespace != "" {
		act.CreateAttr(prefixEnvelope+":mustUnderstand", "1")
	}
	act.SetText(action)
	if req.MessageID != "" {
		header.CreateElement(prefixAddressing + ":RelatesTo").SetText(req.MessageID)
	}
	body := env.CreateElement(prefixEnvelope + ":Body")
	return &Response{Version: v, Document: doc, Header: header, Body: body}
}

// ContentType returns the Content-Type of the response.
func (r *Response) ContentType() string { return r.Version.ContentType() }

// Bytes serialises the envelope, without an XML declaration (AD FS sends
// none; UTF-8 is the default).
func (r *Response) Bytes() ([]byte, error) {
	return SerializeExact(r.Document.Child...), nil
}

// AppendTo serialises the envelope as Bytes does, into b.
func (r *Response) AppendTo(b *bytes.Buffer) {
	AppendExact(b, r.Document.Child...)
}
