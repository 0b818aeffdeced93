package soap

import (
	"github.com/beevik/etree"
)

// Addressing holds the WS-Addressing headers of a request. Every value is
// whitespace-collapsed; absent headers are empty.
type Addressing struct {
	// Namespace is the WS-Addressing namespace the request used
	// (NamespaceWSA10 or NamespaceWSA200408), empty when it had no
	// addressing header. Replies use the same one.
	Namespace string
	// Action is wsa:Action, e.g. the WS-Trust RST/Issue action.
	Action string
	// MessageID is wsa:MessageID, echoed as RelatesTo. ADAL's misspelt
	// wsa:messageID is not one, so ADAL gets no RelatesTo, as from AD FS.
	MessageID string
	// To is wsa:To.
	To string
	// ReplyTo is the Address of wsa:ReplyTo.
	ReplyTo string
}

// readAddressing collects the WS-Addressing headers addressed to this node.
// The headers are optional (the CXF demo and the eHealth request lack To, some
// clients send no addressing at all); a message that mixes the two
// namespaces, repeats a header or gives an endpoint reference two
// Addresses is refused because its meaning is ambiguous.
func readAddressing(e *Envelope) (Addressing, error) {
	var a Addressing
	seen := map[string]bool{}
	for _, h := range e.Header {
		ns := h.NamespaceURI()
		if !IsAddressingNamespace(ns) || !e.targetsUs(h) {
			continue
		}
		if a.Namespace == "" {
			a.Namespace = ns
		} else if a.Namespace != ns {
			return Addressing{}, Faultf(Sender, "the message mixes WS-Addressing namespaces %s and %s", a.Namespace, ns)
		}
		if isEndpointReference(h.Tag) && len(ChildElements(h, ns, "Address")) > 1 {
			// Readers would disagree on which Address counts.
			return Addressing{}, Faultf(InvalidRequest, "wsa:%s has more than one wsa:Address", h.Tag)
		}
		target := a.field(h.Tag)
		if target == nil {
			continue // RelatesTo, From, FaultTo, misspellings: not used
		}
		if seen[h.Tag] {
			return Addressing{}, Faultf(Sender, "duplicate wsa:%s header", h.Tag)
		}
		seen[h.Tag] = true
		value, err := addressingValue(h, ns)
		if err != nil {
			return Addressing{}, err
		}
		*target = value
	}
	if seen["Action"] && a.Action == "" {
		return Addressing{}, Faultf(Sender, "empty wsa:Action header")
	}
	return a, nil
}

// field returns where the value of the header with local name tag goes.
func (a *Addressing) field(tag string) *string {
	switch tag {
	case "Action":
		return &a.Action
	case "MessageID":
		return &a.MessageID
	case "To":
		return &a.To
	case "ReplyTo":
		return &a.ReplyTo
	}
	return nil
}

// isEndpointReference reports whether the header with local name tag is an
// endpoint reference.
func isEndpointReference(tag string) bool {
	return tag == "ReplyTo" || tag == "FaultTo" || tag == "From"
}

// addressingValue returns a header's value: its text, or for an endpoint
// reference (ReplyTo) the text of its Address.
func addressingValue(h *etree.Element, ns string) (string, error) {
	if h.Tag != "ReplyTo" {
		return CollapsedText(h), nil
	}
	addr := ChildElement(h, ns, "Address")
	if addr == nil {
		return "", Faultf(Sender, "wsa:ReplyTo has no wsa:Address")
	}
	return CollapsedText(addr), nil
}

// IsAnonymous reports whether an address is WS-Addressing's anonymous
// address (the reply travels back on the same HTTP connection). An empty
// address counts as anonymous: it is the default.
func IsAnonymous(address string) bool {
	return address == "" || address == AnonymousWSA10 || address == AnonymousWSA200408
}
