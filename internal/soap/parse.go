package soap

import (
	"bytes"
	"errors"
	"fmt"
	"mime"
	"strings"

	"github.com/beevik/etree"
)

// Envelope is a parsed SOAP request.
type Envelope struct {
	// Version is the SOAP version, taken from the Envelope namespace.
	Version Version
	// Header holds the header blocks in document order (all of them, also
	// those addressed to other SOAP roles).
	Header []*etree.Element
	// Body is the single child element of the SOAP Body.
	Body *etree.Element
	// Addressing holds the WS-Addressing headers of the request.
	Addressing Addressing
	// ContentAction is the action parameter of a SOAP 1.2 content type
	// (trimmed), empty when absent. SOAP 1.1's SOAPAction is an HTTP header
	// and is the server's to read.
	ContentAction string
	// Document is the whole parsed document; signature verification needs
	// it to resolve references by ID.
	Document *etree.Document
}

// utf8BOM is stripped before parsing: ADAL, AD FS and MSAL send it, and the
// tokenizer, like encoding/xml, would read it as text before the root.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// Parse reads a SOAP 1.1 or 1.2 request. contentType is the HTTP
// Content-Type ("" when unknown, e.g. a message read from a file); lim bounds
// the input (zero fields take defaults).
//
// Every error is a *Fault safe to answer with: Sender for malformed input or
// input over the limits, wst:InvalidRequest for XML that XML Namespaces or
// SOAP forbids although it parses (a duplicate attribute, a misused xml or
// xmlns prefix, text in the Header, an endpoint reference with two
// Addresses), VersionMismatch for an unknown envelope namespace or a content
// type that contradicts the envelope, MustUnderstand for a mandatory header
// block the STS does not process. When Parse fails the server answers in
// VersionForContentType(contentType), SOAP 1.2 when that is unknown.
func Parse(data []byte, contentType string, lim Limits) (*Envelope, error) {
	lim = lim.WithDefaults()
	if int64(len(data)) > lim.MaxBytes {
		return nil, NewFault(Sender, fmt.Sprintf("message larger than %d bytes", lim.MaxBytes), ErrTooLarge)
	}
	data = bytes.TrimPrefix(data, utf8BOM)
	ctVersion, ctAction, err := parseContentType(contentType)
	if err != nil {
		return nil, err
	}
	doc, err := ReadTree(data, lim)
	if err != nil {
		return nil, NewFault(scanCode(err), scanReason(err), err)
	}
	env, err := readEnvelope(doc, ctVersion)
	if err != nil {
		return nil, err
	}
	env.ContentAction = ctAction
	return env, nil
}

// scanCode is the fault code of a pre-scan error: wst:InvalidRequest for
// XML that is well-formed but that XML Namespaces forbids, Sender for the
// rest.
func scanCode(err error) FaultCode {
	if errors.Is(err, ErrDuplicateAttr) || errors.Is(err, ErrReservedNamespace) || errors.Is(err, ErrNotQName) {
		return InvalidRequest
	}
	return Sender
}

// scanReason turns a pre-scan error into a short reason for the caller that
// quotes nothing from the request; the cause, which is only logged, may name
// an attribute or prefix (bounded in length).
func scanReason(err error) string {
	switch {
	case errors.Is(err, ErrDuplicateAttr):
		return "an element has the same attribute twice"
	case errors.Is(err, ErrReservedNamespace):
		return "a namespace declaration rebinds the reserved xml or xmlns prefix or namespace"
	case errors.Is(err, ErrNotQName):
		return "an element or attribute name begins or ends with a colon"
	case errors.Is(err, ErrTooDeep):
		return "message nested too deeply"
	case errors.Is(err, ErrTooManyElems):
		return "message has too many elements"
	case errors.Is(err, ErrTooManyAttrs):
		return "an element has too many attributes"
	case errors.Is(err, ErrDTD):
		return "DTDs and entity declarations are not allowed"
	case errors.Is(err, ErrProcInst):
		return "processing instructions are not allowed in a SOAP message"
	case errors.Is(err, ErrNotUTF8):
		return "the XML declaration names an encoding other than UTF-8, the only one accepted"
	case errors.Is(err, ErrNotOneRoot), errors.Is(err, ErrTextOutsideDoc):
		return "message must be a single SOAP Envelope element"
	}
	return "malformed XML"
}

// parseContentType returns the SOAP version the Content-Type announces (0
// for an empty one) and the SOAP 1.2 action parameter.
func parseContentType(contentType string) (Version, string, error) {
	if strings.TrimSpace(contentType) == "" {
		return 0, "", nil
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return 0, "", NewFault(Sender, "malformed Content-Type", err)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(strings.TrimSpace(cs), "utf-8") {
		return 0, "", Faultf(Sender, "unsupported charset %q: only utf-8 is accepted", cs)
	}
	switch strings.ToLower(mt) {
	case mediaSOAP11:
		return V11, "", nil
	case mediaSOAP12:
		return V12, strings.TrimSpace(params["action"]), nil
	}
	return 0, "", Faultf(Sender, "unsupported Content-Type %q: use text/xml (SOAP 1.1) or application/soap+xml (SOAP 1.2)", mt)
}

// readEnvelope checks the envelope structure and reads its headers.
func readEnvelope(doc *etree.Document, ctVersion Version) (*Envelope, error) {
	root := doc.Root()
	if root == nil {
		return nil, Faultf(Sender, "message must be a single SOAP Envelope element")
	}
	if root.Tag != "Envelope" {
		return nil, Faultf(Sender, "root element is %q, not a SOAP Envelope", root.Tag)
	}
	v := versionFromNamespace(root.NamespaceURI())
	if v == 0 {
		return nil, Faultf(VersionMismatch, "unknown SOAP envelope namespace %q", root.NamespaceURI())
	}
	if ctVersion != 0 && ctVersion != v {
		return nil, Faultf(VersionMismatch, "Content-Type announces %s but the envelope is %s", ctVersion, v)
	}
	env := &Envelope{Version: v, Document: doc}
	if err := env.Reread(); err != nil {
		return nil, err
	}
	return env, nil
}

// Reread reads the header blocks, the Body's element and the addressing
// headers from the document again, with the same checks as Parse: for after
// decryption replaced encrypted parts by their plaintext.
func (env *Envelope) Reread() error {
	header, body, err := envelopeParts(env.Document.Root(), env.Version)
	if err != nil {
		return err
	}
	env.Header = nil
	if header != nil {
		env.Header = header.ChildElements()
	}
	if env.Body, err = bodyChild(body); err != nil {
		return err
	}
	if err := checkMustUnderstand(env); err != nil {
		return err
	}
	env.Addressing, err = readAddressing(env)
	return err
}

// envelopeParts returns the optional Header and the Body of the envelope and
// refuses any other child (SOAP 1.1 allows qualified elements after Body).
func envelopeParts(root *etree.Element, v Version) (header, body *etree.Element, err error) {
	ns := v.Namespace()
	if hasNonSpaceText(root) {
		return nil, nil, Faultf(Sender, "text is not allowed directly inside the Envelope")
	}
	for i, c := range root.ChildElements() {
		switch {
		case IsElement(c, ns, "Header") && i == 0:
			if hasNonSpaceText(c) {
				// SOAP allows only header blocks there.
				return nil, nil, Faultf(InvalidRequest, "text is not allowed directly inside the Header")
			}
			header = c
		case IsElement(c, ns, "Body") && body == nil:
			body = c
		case body != nil && v == V11 && c.NamespaceURI() != "" && c.NamespaceURI() != ns:
			// SOAP 1.1 §4.1.2: trailing qualified elements are permitted.
		default:
			return nil, nil, Faultf(Sender, "unexpected element %q in the Envelope", c.Tag)
		}
	}
	if body == nil {
		return nil, nil, Faultf(Sender, "the Envelope has no Body")
	}
	return header, body, nil
}

// bodyChild returns the single element inside the Body.
func bodyChild(body *etree.Element) (*etree.Element, error) {
	kids := body.ChildElements()
	switch {
	case hasNonSpaceText(body):
		return nil, Faultf(Sender, "text is not allowed directly inside the Body")
	case len(kids) == 0:
		return nil, Faultf(Sender, "the Body is empty")
	case len(kids) > 1:
		return nil, Faultf(Sender, "the Body must hold exactly one element, it holds %d", len(kids))
	}
	return kids[0], nil
}
