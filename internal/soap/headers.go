package soap

import (
	"encoding/xml"
	"strings"

	"github.com/beevik/etree"
)

// SOAP roles (1.2) and actors (1.1) under which this STS processes a header
// block. A block with no role is for the ultimate receiver, which the STS is.
const (
	roleNext12             = "http://www.w3.org/2003/05/soap-envelope/role/next"
	roleUltimateReceiver12 = "http://www.w3.org/2003/05/soap-envelope/role/ultimateReceiver"
	actorNext11            = "http://schemas.xmlsoap.org/soap/actor/next"
)

// Block returns the first header block with the namespace URI space and local
// name local that is addressed to this node (no role, or the next or
// ultimate-receiver role), or nil. Blocks for other roles are not ours to
// process: WS-Security, for one, forbids acting on a Security header
// addressed to another actor.
func (e *Envelope) Block(space, local string) *etree.Element {
	if bs := e.Blocks(space, local); len(bs) > 0 {
		return bs[0]
	}
	return nil
}

// Blocks returns every header block with the namespace URI space and local
// name local that is addressed to this node, in document order. A caller that
// allows only one (wsse:Security) checks the length.
func (e *Envelope) Blocks(space, local string) []*etree.Element {
	var out []*etree.Element
	for _, h := range e.Header {
		if IsElement(h, space, local) && e.targetsUs(h) {
			out = append(out, h)
		}
	}
	return out
}

// targetsUs reports whether a header block is addressed to this node.
func (e *Envelope) targetsUs(h *etree.Element) bool {
	ns := e.Version.Namespace()
	if e.Version == V11 {
		actor, ok := AttrNS(h, ns, "actor")
		actor = strings.TrimSpace(actor)
		return !ok || actor == "" || actor == actorNext11
	}
	role, ok := AttrNS(h, ns, "role")
	role = strings.TrimSpace(role)
	return !ok || role == "" || role == roleNext12 || role == roleUltimateReceiver12
}

// understood reports whether the STS processes a header block: the
// WS-Addressing headers of both namespaces and the WS-Security 1.0 header.
func understood(h *etree.Element) bool {
	ns := h.NamespaceURI()
	return IsAddressingNamespace(ns) || (ns == NamespaceSecext && h.Tag == "Security")
}

// checkMustUnderstand refuses a message with a mandatory header block,
// addressed to this node, that the STS does not process (SOAP 1.1 §4.2.3,
// SOAP 1.2 part 1 §5.2.3). Values are xs:boolean ("1", "true", "0",
// "false"): AD FS clients send "1", WSO2 "true".
func checkMustUnderstand(e *Envelope) error {
	ns := e.Version.Namespace()
	var missing []xml.Name
	for _, h := range e.Header {
		raw, ok := AttrNS(h, ns, "mustUnderstand")
		if !ok {
			continue
		}
		must, valid := parseBool(raw)
		if !valid {
			return Faultf(Sender, "header %q has an invalid mustUnderstand value %q", h.Tag, strings.TrimSpace(raw))
		}
		if must && e.targetsUs(h) && !understood(h) {
			missing = append(missing, xml.Name{Space: h.NamespaceURI(), Local: h.Tag})
		}
	}
	if len(missing) == 0 {
		return nil
	}
	f := Faultf(MustUnderstand, "header %s is not understood", qnameText(missing[0]))
	f.NotUnderstood = missing
	return f
}

// parseBool reads an xs:boolean after whitespace collapse.
func parseBool(s string) (value, ok bool) {
	switch strings.TrimSpace(s) {
	case "1", "true":
		return true, true
	case "0", "false":
		return false, true
	}
	return false, false
}

// qnameText renders a name as {namespace}local for a fault reason.
func qnameText(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return "{" + n.Space + "}" + n.Local
}
