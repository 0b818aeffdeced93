// Package soap reads SOAP 1.1 and 1.2 request envelopes and writes response
// and fault envelopes for the STS.
//
// Parse refuses hostile input before any tree is built (size, depth, element
// and attribute limits; DTDs, entities and processing instructions), then
// checks the envelope's structure, mustUnderstand header blocks and
// WS-Addressing headers. NewResponse and NewFaultResponse build answers as
// trees so that the WS-Security layer can add and sign its header before they
// are serialised. Every error a caller caused is a *Fault whose Reason is
// safe to send back; its Cause is for the log only.
//
// XML is matched on namespace URI and local name, never on prefix, and the
// helpers IsElement, ChildElement, AttrNS and CollapsedText do so for the
// packages above this one.
package soap
