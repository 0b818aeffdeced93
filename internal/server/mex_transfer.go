package server

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/soap"
)

// WS-Transfer and WS-MetadataExchange (2004/09), as WCF's metadata client and
// AD FS's mex endpoint speak them.
const (
	ActionTransferGet         = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Get"
	ActionTransferGetResponse = "http://schemas.xmlsoap.org/ws/2004/09/transfer/GetResponse"
	// ActionGetMetadata is WS-MetadataExchange's own request, answered alike.
	ActionGetMetadata         = "http://schemas.xmlsoap.org/ws/2004/09/mex/GetMetadata/Request"
	ActionGetMetadataResponse = "http://schemas.xmlsoap.org/ws/2004/09/mex/GetMetadata/Response"
	// NamespaceMex is WS-MetadataExchange's namespace.
	NamespaceMex = "http://schemas.xmlsoap.org/ws/2004/09/mex"
	// DialectWSDL is the MetadataSection dialect of a WSDL document.
	DialectWSDL = "http://schemas.xmlsoap.org/wsdl/"
)

// Bounds of a metadata request: it has an empty body (Get) or a tiny one
// (GetMetadata), so anything larger is not one.
const (
	maxMexRequestBytes = 64 << 10
	maxMexRequestDepth = 16
)

// metadataRequest is a parsed WS-Transfer Get or GetMetadata request.
type metadataRequest struct {
	version    soap.Version
	addressing soap.Addressing
	// responseAction answers the request's action.
	responseAction string
}

// serveMexGet answers a POSTed WS-Transfer Get (or GetMetadata) with a SOAP
// envelope whose body is a mex:Metadata holding the WSDL in a
// MetadataSection of the WSDL dialect.
func (s *Server) serveMexGet(w http.ResponseWriter, r *http.Request) {
	snap, ok := s.metadataSnapshot(w, r)
	if !ok {
		return
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, maxMexRequestBytes+1))
	if err != nil {
		s.writeMexFault(w, r, metadataRequest{}, soap.NewFault(soap.Sender, "The request could not be read.", err))
		return
	}
	req, err := parseMetadataRequest(data, r.Header.Get("Content-Type"), r.Header.Get("SOAPAction"))
	if err != nil {
		s.writeMexFault(w, r, req, soap.AsFault(err))
		return
	}
	doc, ok := s.metadata(w, r, snap)
	if !ok {
		return
	}
	resp := soap.NewResponse(req.version, req.addressing, req.responseAction, nil, metadataElement(doc.Root()))
	if err := writeSOAP(w, resp, http.StatusOK); err != nil {
		s.Log.Error(err, "writing the metadata", "remote", r.RemoteAddr)
	}
}

// metadataElement wraps the WSDL in mex:Metadata/mex:MetadataSection.
func metadataElement(wsdl *etree.Element) *etree.Element {
	md := etree.NewElement("mex:Metadata")
	md.CreateAttr("xmlns:mex", NamespaceMex)
	section := md.CreateElement("mex:MetadataSection")
	section.CreateAttr("Dialect", DialectWSDL)
	section.CreateAttr("Identifier", WSDLNamespace)
	section.AddChild(wsdl)
	return md
}

func (s *Server) writeMexFault(w http.ResponseWriter, r *http.Request, req metadataRequest, f *soap.Fault) {
	s.Log.Info("metadata request refused", "reason", f.Reason, "cause", errString(f.Cause), "remote", r.RemoteAddr)
	version := req.version
	if version == 0 {
		version = soap.VersionForContentType(r.Header.Get("Content-Type"))
	}
	resp := soap.NewFaultResponse(version, req.addressing, "", f)
	if err := writeSOAP(w, resp, soapStatus(resp)); err != nil {
		s.Log.Error(err, "writing a fault", "remote", r.RemoteAddr)
	}
}

// parseMetadataRequest reads a WS-Transfer Get or WS-MetadataExchange
// GetMetadata request. The action comes from wsa:Action (either
// WS-Addressing namespace), else the SOAP 1.2 content type's action
// parameter, else the SOAP 1.1 SOAPAction header. A Get has an empty body;
// GetMetadata a mex:GetMetadata. DTDs are refused. Errors are *soap.Fault;
// the returned request holds what was read before the error, to answer in.
func parseMetadataRequest(data []byte, contentType, soapAction string) (metadataRequest, error) {
	var req metadataRequest
	if len(data) > maxMexRequestBytes {
		return req, soap.Faultf(soap.Sender, "A metadata request is at most %d bytes.", maxMexRequestBytes)
	}
	data = bytes.TrimPrefix(data, []byte("\xEF\xBB\xBF"))
	upper := bytes.ToUpper(data)
	if bytes.Contains(upper, []byte("<!DOCTYPE")) || bytes.Contains(upper, []byte("<!ENTITY")) {
		return req, soap.Faultf(soap.Sender, "DTDs are not accepted.")
	}
	doc := etree.NewDocument()
	doc.ReadSettings.MaxDepth = maxMexRequestDepth
	if err := doc.ReadFromBytes(data); err != nil {
		return req, soap.NewFault(soap.Sender, "The request is not well-formed XML.", err)
	}
	root := doc.Root()
	switch {
	case root == nil || root.Tag != "Envelope":
		return req, soap.Faultf(soap.Sender, "The request is not a SOAP envelope.")
	case root.NamespaceURI() == soap.V12.Namespace():
		req.version = soap.V12
	case root.NamespaceURI() == soap.V11.Namespace():
		req.version = soap.V11
	default:
		return req, soap.Faultf(soap.VersionMismatch, "Unknown SOAP envelope namespace.")
	}
	ns := root.NamespaceURI()
	if header := soap.ChildElement(root, ns, "Header"); header != nil {
		req.addressing = metadataAddressing(header)
	}
	action := req.addressing.Action
	if action == "" {
		action = requestAction(contentType, soapAction)
	}
	body := soap.ChildElement(root, ns, "Body")
	if body == nil {
		return req, soap.Faultf(soap.Sender, "The envelope has no Body.")
	}
	switch action {
	case ActionTransferGet:
		if len(body.ChildElements()) != 0 {
			return req, soap.Faultf(soap.Sender, "A WS-Transfer Get has an empty Body.")
		}
		req.responseAction = ActionTransferGetResponse
	case ActionGetMetadata:
		kids := body.ChildElements()
		if len(kids) != 1 || !soap.IsElement(kids[0], NamespaceMex, "GetMetadata") {
			return req, soap.Faultf(soap.Sender, "A GetMetadata request has one mex:GetMetadata in its Body.")
		}
		if d := soap.ChildElement(kids[0], NamespaceMex, "Dialect"); d != nil && soap.CollapsedText(d) != DialectWSDL {
			return req, soap.Faultf(soap.Sender, "Only the WSDL dialect %s is available.", DialectWSDL)
		}
		req.responseAction = ActionGetMetadataResponse
	default:
		return req, soap.NewFault(soap.Sender, fmt.Sprintf("This endpoint answers WS-Transfer Get (%s) and GET requests.", ActionTransferGet),
			fmt.Errorf("action %q", action))
	}
	return req, nil
}

// metadataAddressing reads the WS-Addressing Action and MessageID headers,
// in the namespace of the first addressing header.
func metadataAddressing(header *etree.Element) soap.Addressing {
	var a soap.Addressing
	for _, h := range header.ChildElements() {
		ns := h.NamespaceURI()
		if !soap.IsAddressingNamespace(ns) || (a.Namespace != "" && ns != a.Namespace) {
			continue
		}
		a.Namespace = ns
		switch h.Tag {
		case "Action":
			a.Action = soap.CollapsedText(h)
		case "MessageID":
			a.MessageID = soap.CollapsedText(h)
		}
	}
	return a
}

// requestAction is the action outside the envelope: the SOAP 1.2 content
// type's action parameter, else the SOAPAction header, unquoted.
func requestAction(contentType, soapAction string) string {
	if _, params, err := mime.ParseMediaType(contentType); err == nil {
		if a := strings.TrimSpace(params["action"]); a != "" {
			return a
		}
	}
	return strings.Trim(strings.TrimSpace(soapAction), `"`)
}
