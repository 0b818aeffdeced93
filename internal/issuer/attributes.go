package issuer

import (
	"strings"

	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/saml"
)

// Attribute names between SAML versions follow the WIF convention: a
// SAML 1.1 attribute with AttributeNamespace N and AttributeName A is the
// SAML 2.0 attribute named "N/A" with NameFormat uri, and a SAML 2.0 name
// is split at its last "/" into namespace and name for SAML 1.1. A SAML 2.0
// name without "/" keeps its name and gets the STS's attribute namespace
// (http://schemas.xmlsoap.org/claims by default).

// translateAttributes carries a presented token's attributes into version
// v: an attribute the relying party maps (its "from" equals the incoming
// name, in either form) is issued under the mapped name; every other one is
// carried over with its name converted between versions.
func translateAttributes(snap *policy.Snapshot, rp *policy.RelyingParty, id *Identity, v saml.Version) []saml.Attribute {
	from := id.Version
	if from == 0 {
		from = saml.SAML20
	}
	var out []saml.Attribute
	for _, at := range id.Attributes {
		if m, ok := mappingFor(rp, at.Name, claimName(at, from)); ok {
			out = append(out, saml.Attribute{Name: m.Name, Namespace: attributeNamespace(m, v), Values: at.Values})
			continue
		}
		out = append(out, convertAttribute(at, from, v, snap.STS.SAML.AttributeNamespace))
	}
	return out
}

// mappingFor finds the relying party's mapping whose From is one of names.
func mappingFor(rp *policy.RelyingParty, names ...string) (policy.AttributeMapping, bool) {
	for _, m := range rp.Attributes {
		for _, n := range names {
			if m.From == n {
				return m, true
			}
		}
	}
	return policy.AttributeMapping{}, false
}

// claimName is an attribute's name in SAML 2.0 (claim) form.
func claimName(at saml.Attribute, v saml.Version) string {
	if v == saml.SAML11 {
		return joinClaim(at.Namespace, at.Name)
	}
	return at.Name
}

func joinClaim(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return strings.TrimRight(namespace, "/") + "/" + name
}

// convertAttribute renames an attribute of version from for version to.
// namespace11 is the SAML 1.1 namespace for names that carry none.
func convertAttribute(at saml.Attribute, from, to saml.Version, namespace11 string) saml.Attribute {
	out := saml.Attribute{Values: append([]string(nil), at.Values...)}
	switch {
	case from == to:
		out.Name, out.Namespace = at.Name, at.Namespace
	case to == saml.SAML20:
		out.Name, out.Namespace = joinClaim(at.Namespace, at.Name), saml.AttrNameFormatURI
	default:
		if i := strings.LastIndex(at.Name, "/"); i > 0 && i < len(at.Name)-1 {
			out.Namespace, out.Name = at.Name[:i], at.Name[i+1:]
		} else {
			out.Namespace, out.Name = namespace11, at.Name
			if out.Namespace == "" {
				out.Namespace = defaultNamespace11
			}
		}
	}
	return out
}
