package wssec

import (
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// X509IssuerName is a distinguished name in string form, and every stack
// writes it a little differently: Java and Go in RFC 2253 order with short
// names ("CN=ca,O=Example"), .NET with ", " separators, xmlsec with
// "emailAddress=" or hex-encoded values for types it has no name for. So
// names are compared as sets of (attribute type, value) pairs with the
// types resolved to OIDs and values compared case-insensitively with
// whitespace collapsed (LDAP caseIgnoreMatch). The issuer only selects a
// candidate together with the serial number; trust is decided afterwards
// on the selected certificate, never on the name.

// dnAttr is one attribute of a distinguished name.
type dnAttr struct {
	oid, value string
}

// attributeOIDs maps the names RFC 4514, Java, .NET and OpenSSL print to
// attribute type OIDs.
var attributeOIDs = map[string]string{
	"CN": "2.5.4.3", "SN": "2.5.4.4", "SURNAME": "2.5.4.4", "SERIALNUMBER": "2.5.4.5",
	"C": "2.5.4.6", "L": "2.5.4.7", "ST": "2.5.4.8", "S": "2.5.4.8", "STREET": "2.5.4.9",
	"O": "2.5.4.10", "OU": "2.5.4.11", "T": "2.5.4.12", "TITLE": "2.5.4.12",
	"POSTALCODE": "2.5.4.17", "GIVENNAME": "2.5.4.42", "G": "2.5.4.42",
	"DC": "0.9.2342.19200300.100.1.25", "UID": "0.9.2342.19200300.100.1.1",
	"E": "1.2.840.113549.1.9.1", "EMAIL": "1.2.840.113549.1.9.1", "EMAILADDRESS": "1.2.840.113549.1.9.1",
}

// sameIssuer reports whether the string name means cert's issuer.
func sameIssuer(name string, cert *x509.Certificate) bool {
	got, err := parseDN(name)
	if err != nil {
		return false
	}
	want := make([]dnAttr, 0, len(cert.Issuer.Names))
	for _, n := range cert.Issuer.Names {
		v, ok := n.Value.(string)
		if !ok {
			v = fmt.Sprint(n.Value)
		}
		want = append(want, dnAttr{oid: n.Type.String(), value: foldValue(v)})
	}
	return sameAttrs(got, want)
}

func sameAttrs(a, b []dnAttr) bool {
	if len(a) != len(b) {
		return false
	}
	cmp := func(x, y dnAttr) int {
		if c := strings.Compare(x.oid, y.oid); c != 0 {
			return c
		}
		return strings.Compare(x.value, y.value)
	}
	a, b = slices.Clone(a), slices.Clone(b)
	slices.SortFunc(a, cmp)
	slices.SortFunc(b, cmp)
	return slices.Equal(a, b)
}

// foldValue applies caseIgnoreMatch: case folded, whitespace collapsed.
func foldValue(v string) string {
	return strings.ToLower(strings.Join(strings.Fields(v), " "))
}

// maxDNLength bounds the issuer name parsed.
const maxDNLength = 4 << 10

// parseDN reads an RFC 4514 (or RFC 2253 / RFC 1779) distinguished name:
// attributes separated by ',', ';' or '+', values with backslash escapes,
// quotes, or '#' followed by hex-encoded BER.
func parseDN(s string) ([]dnAttr, error) {
	if len(s) > maxDNLength {
		return nil, errors.New("distinguished name too long")
	}
	var out []dnAttr
	for rest := strings.TrimSpace(s); rest != ""; {
		eq := strings.IndexByte(rest, '=')
		if eq <= 0 {
			return nil, fmt.Errorf("attribute without '=' in %q", truncate(rest, 60))
		}
		oid, err := attributeOID(strings.TrimSpace(rest[:eq]))
		if err != nil {
			return nil, err
		}
		value, remainder, err := dnValue(strings.TrimLeft(rest[eq+1:], " "))
		if err != nil {
			return nil, err
		}
		out = append(out, dnAttr{oid: oid, value: foldValue(value)})
		rest = strings.TrimSpace(remainder)
	}
	if len(out) == 0 {
		return nil, errors.New("empty distinguished name")
	}
	return out, nil
}

func attributeOID(t string) (string, error) {
	upper := strings.ToUpper(t)
	if oid, ok := attributeOIDs[upper]; ok {
		return oid, nil
	}
	oid := strings.TrimPrefix(upper, "OID.")
	for _, part := range strings.Split(oid, ".") {
		if part == "" || strings.Trim(part, "0123456789") != "" {
			return "", fmt.Errorf("unknown attribute type %q", truncate(t, 60))
		}
	}
	return oid, nil
}

// dnValue reads one attribute value and returns it with the text after
// its separator.
func dnValue(s string) (value, rest string, err error) {
	switch {
	case strings.HasPrefix(s, "#"):
		end := strings.IndexAny(s, ",;+")
		if end < 0 {
			v, err := berString(strings.TrimSpace(s[1:]))
			return v, "", err
		}
		v, err := berString(strings.TrimSpace(s[1:end]))
		return v, s[end+1:], err
	case strings.HasPrefix(s, `"`):
		var b strings.Builder
		for i := 1; i < len(s); i++ {
			switch s[i] {
			case '\\':
				if i+1 < len(s) {
					i++
					b.WriteByte(s[i])
				}
			case '"':
				after := strings.TrimLeft(s[i+1:], " ")
				if after != "" && !strings.ContainsRune(",;+", rune(after[0])) {
					return "", "", errors.New("text after a quoted value")
				}
				if after != "" {
					after = after[1:]
				}
				return b.String(), after, nil
			default:
				b.WriteByte(s[i])
			}
		}
		return "", "", errors.New("unterminated quoted value")
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			v, _ := hex.DecodeString(s[i+1 : i+3])
			b.WriteByte(v[0])
			i += 2
		case c == '\\' && i+1 < len(s):
			i++
			b.WriteByte(s[i])
		case c == ',' || c == ';' || c == '+':
			return b.String(), s[i+1:], nil
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), "", nil
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// berString decodes a '#'-prefixed hex value: the BER encoding of a
// directory string (UTF8String, PrintableString, IA5String, ...).
func berString(h string) (string, error) {
	der, err := hex.DecodeString(h)
	if err != nil {
		return "", fmt.Errorf("hex value: %w", err)
	}
	var raw asn1.RawValue
	rest, err := asn1.Unmarshal(der, &raw)
	if err != nil || len(rest) != 0 || raw.Class != asn1.ClassUniversal {
		return "", errors.New("hex value is not a single universal string")
	}
	return string(raw.Bytes), nil
}
