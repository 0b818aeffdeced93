package wssec

import (
	"bytes"
	"errors"
	"fmt"
)

// The DER encodings (tag, length, value) of the Kerberos v5 GSS-API
// mechanism OIDs. Windows SSPI has also used the second one, a mistyped
// copy of the first, in its tokens; both name the same mechanism.
var (
	oidKerberosV5   = []byte{0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02} // 1.2.840.113554.1.2.2
	oidKerberosV5MS = []byte{0x06, 0x09, 0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02} // 1.2.840.48018.1.2.2
)

// ASN.1 tags at the start of the tokens: the GSS-API InitialContextToken is
// [APPLICATION 0] constructed, a KRB_AP_REQ is [APPLICATION 14] constructed.
const (
	tagGSSInitialContext = 0x60
	tagAPREQ             = 0x6e
)

// tokIDAPREQ is the RFC 1964 §1.1 token identifier of an AP-REQ inside a
// Kerberos GSS-API initial context token.
var tokIDAPREQ = []byte{0x01, 0x00}

var (
	errKrbTruncated   = errors.New("token is truncated")
	errKrbLength      = errors.New("bad DER length")
	errKrbTrailing    = errors.New("bytes after the end of the token")
	errKrbMechanism   = errors.New("GSS-API mechanism is not Kerberos v5")
	errKrbNotAPREQ    = errors.New("token is not a KRB_AP_REQ")
	errKrbUnknownForm = errors.New("token is neither a GSS-API initial context token nor a bare KRB_AP_REQ")
)

// KerberosAPREQ returns the DER KRB_AP_REQ inside a Kerberos
// BinarySecurityToken value. The value is either a GSS-API initial context
// token (RFC 2743 §3.1 framing with the Kerberos v5 OID, RFC 1964/4121
// TOK_ID 01 00, then the AP-REQ), which is what WCF, WSS4J and AD FS send as
// GSS_Kerberosv5_AP_REQ, or a bare AP-REQ (Kerberosv5_AP_REQ). The first
// byte tells the two forms apart, so both are accepted under either
// ValueType. The outer lengths must cover the value exactly; the AP-REQ's
// contents are left to the Kerberos decoder.
func KerberosAPREQ(value []byte) ([]byte, error) {
	if len(value) == 0 {
		return nil, errKrbTruncated
	}
	switch value[0] {
	case tagAPREQ:
		return value, krbSingleTLV(value)
	case tagGSSInitialContext:
		return unwrapKrbGSSInitialContext(value)
	default:
		return nil, fmt.Errorf("%w (first byte 0x%02x)", errKrbUnknownForm, value[0])
	}
}

// unwrapKrbGSSInitialContext strips the InitialContextToken framing.
func unwrapKrbGSSInitialContext(value []byte) ([]byte, error) {
	inner, rest, err := krbDERContents(value)
	if err != nil {
		return nil, fmt.Errorf("GSS-API framing: %w", err)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("GSS-API framing: %w (%d)", errKrbTrailing, len(rest))
	}
	switch {
	case bytes.HasPrefix(inner, oidKerberosV5):
		inner = inner[len(oidKerberosV5):]
	case bytes.HasPrefix(inner, oidKerberosV5MS):
		inner = inner[len(oidKerberosV5MS):]
	default:
		return nil, errKrbMechanism
	}
	if len(inner) < len(tokIDAPREQ) {
		return nil, fmt.Errorf("GSS-API token ID: %w", errKrbTruncated)
	}
	if !bytes.Equal(inner[:2], tokIDAPREQ) {
		return nil, fmt.Errorf("%w (GSS-API token ID %02x %02x)", errKrbNotAPREQ, inner[0], inner[1])
	}
	apReq := inner[2:]
	if len(apReq) == 0 || apReq[0] != tagAPREQ {
		return nil, errKrbNotAPREQ
	}
	return apReq, krbSingleTLV(apReq)
}

// krbSingleTLV checks that b is exactly one DER element.
func krbSingleTLV(b []byte) error {
	_, rest, err := krbDERContents(b)
	if err != nil {
		return fmt.Errorf("AP-REQ: %w", err)
	}
	if len(rest) != 0 {
		return fmt.Errorf("AP-REQ: %w (%d)", errKrbTrailing, len(rest))
	}
	return nil
}

// krbDERContents splits a DER element with a one-byte tag into its contents
// and what follows it. Only definite lengths of up to four bytes occur
// (tokens are bounded by MaxBinaryTokenSize anyway); an indefinite length is
// BER, not DER, and refused.
func krbDERContents(b []byte) (contents, rest []byte, err error) {
	if len(b) < 2 {
		return nil, nil, errKrbTruncated
	}
	n, hdr := uint64(b[1]), 2
	if n >= 0x80 {
		k := int(n & 0x7f)
		if k == 0 || k > 4 {
			return nil, nil, fmt.Errorf("%w (length byte 0x%02x)", errKrbLength, b[1])
		}
		if len(b) < 2+k {
			return nil, nil, errKrbTruncated
		}
		n = 0
		for _, c := range b[2 : 2+k] {
			n = n<<8 | uint64(c)
		}
		hdr += k
	}
	if n > uint64(len(b)-hdr) {
		return nil, nil, fmt.Errorf("%w: length %d, %d bytes left", errKrbTruncated, n, len(b)-hdr)
	}
	end := hdr + int(n)
	return b[hdr:end], b[end:], nil
}
