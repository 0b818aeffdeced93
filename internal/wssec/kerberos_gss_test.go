package wssec

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"

	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/testtools"
)

// krbGoldenToken is a GSS-framed AP-REQ that gokrb5 made against the test
// KDC (for HTTP/sts.example.com@EXAMPLE.COM; the KDC and its keys are gone).
func krbGoldenToken(t testing.TB) []byte {
	t.Helper()
	v, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(testtools.ReadTestdata(t, "kerberos-gss-apreq.b64"))))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// krbFrame wraps an AP-REQ in a GSS-API initial context token with the given
// OID (DER TLV) and token ID.
func krbFrame(oid, tokID, apReq []byte) []byte {
	inner := append(append(bytes.Clone(oid), tokID...), apReq...)
	return append([]byte{tagGSSInitialContext}, append(krbDERLength(len(inner)), inner...)...)
}

func krbDERLength(n int) []byte {
	switch {
	case n < 0x80:
		return []byte{byte(n)}
	case n < 0x100:
		return []byte{0x81, byte(n)}
	default:
		return []byte{0x82, byte(n >> 8), byte(n)}
	}
}

// krbTLV is a DER element with a one-byte tag.
func krbTLV(tag byte, content []byte) []byte {
	return append(append([]byte{tag}, krbDERLength(len(content))...), content...)
}

func TestKerberosAPREQFraming(t *testing.T) {
	golden := krbGoldenToken(t)
	goldenAPREQ := golden[len(golden)-len(mustKrbAPREQ(t, golden)):]
	small := krbTLV(tagAPREQ, []byte{0x30, 0x00})
	large := krbTLV(tagAPREQ, bytes.Repeat([]byte{0x04}, 300)) // two-byte length
	spnegoOID := []byte{0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02}

	tests := []struct {
		name  string
		in    []byte
		want  []byte // nil: an error is expected
		error error
	}{
		{"gokrb5 token", golden, goldenAPREQ, nil},
		{"bare AP-REQ", goldenAPREQ, goldenAPREQ, nil},
		{"short lengths", krbFrame(oidKerberosV5, tokIDAPREQ, small), small, nil},
		{"long lengths", krbFrame(oidKerberosV5, tokIDAPREQ, large), large, nil},
		{"legacy Microsoft OID", krbFrame(oidKerberosV5MS, tokIDAPREQ, small), small, nil},
		{"empty", nil, nil, errKrbTruncated},
		{"unknown first byte", []byte{0x30, 0x00}, nil, errKrbUnknownForm},
		{"SPNEGO, not Kerberos", krbFrame(spnegoOID, tokIDAPREQ, small), nil, errKrbMechanism},
		{"AP-REP token ID", krbFrame(oidKerberosV5, []byte{0x02, 0x00}, small), nil, errKrbNotAPREQ},
		{"KRB-ERROR token ID", krbFrame(oidKerberosV5, []byte{0x03, 0x00}, small), nil, errKrbNotAPREQ},
		{"no token ID", krbFrame(oidKerberosV5, nil, nil), nil, errKrbTruncated},
		{"token ID but no AP-REQ", krbFrame(oidKerberosV5, tokIDAPREQ, nil), nil, errKrbNotAPREQ},
		{"AP-REQ tag wrong", krbFrame(oidKerberosV5, tokIDAPREQ, krbTLV(0x6f, nil)), nil, errKrbNotAPREQ},
		{"outer length too long", append([]byte{0x60, 0x7f}, golden[2:20]...), nil, errKrbTruncated},
		{"trailing bytes after frame", append(bytes.Clone(krbFrame(oidKerberosV5, tokIDAPREQ, small)), 0x00), nil, errKrbTrailing},
		{"trailing bytes after AP-REQ", krbFrame(oidKerberosV5, tokIDAPREQ, append(bytes.Clone(small), 0x00)), nil, errKrbTrailing},
		{"bare AP-REQ with trailing bytes", append(bytes.Clone(small), 0x00), nil, errKrbTrailing},
		{"indefinite length", []byte{0x60, 0x80, 0x06, 0x00, 0x00, 0x00}, nil, errKrbLength},
		{"five length bytes", []byte{0x60, 0x85, 0x01, 0x00, 0x00, 0x00, 0x00}, nil, errKrbLength},
		{"huge four-byte length", []byte{0x60, 0x84, 0xff, 0xff, 0xff, 0xff, 0x06}, nil, errKrbTruncated},
		{"length bytes missing", []byte{0x60, 0x82, 0x01}, nil, errKrbTruncated},
		{"one byte", []byte{0x60}, nil, errKrbTruncated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := KerberosAPREQ(tc.in)
			if tc.want != nil {
				if err != nil || !bytes.Equal(got, tc.want) {
					t.Fatalf("KerberosAPREQ = %x, %v; want %x", got, err, tc.want)
				}
				return
			}
			if !errors.Is(err, tc.error) {
				t.Fatalf("KerberosAPREQ error = %v, want %v", err, tc.error)
			}
		})
	}
}

func mustKrbAPREQ(t testing.TB, token []byte) []byte {
	t.Helper()
	b, err := KerberosAPREQ(token)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestKerberosGoldenTokenContents: the saved token is a real AP-REQ for the
// STS principal, and a verifier without the KDC's key refuses it as a
// failed authentication (not as a malformed token).
func TestKerberosGoldenTokenContents(t *testing.T) {
	var ap messages.APReq
	if err := ap.Unmarshal(mustKrbAPREQ(t, krbGoldenToken(t))); err != nil {
		t.Fatal(err)
	}
	if got := ap.Ticket.SName.PrincipalNameString() + "@" + ap.Ticket.Realm; got != krbSTSWithRm {
		t.Fatalf("golden ticket is for %s, want %s", got, krbSTSWithRm)
	}
	kt := keytab.New()
	if err := kt.AddEntry(krbSTS, krbRealm, "not-the-kdc-key", time.Now(), uint8(ap.Ticket.EncPart.KVNO), ap.Ticket.EncPart.EType); err != nil {
		t.Fatal(err)
	}
	v := &KerberosVerifier{ServicePrincipal: krbSTSWithRm, Keytab: kt}
	_, err := v.Verify(context.Background(), &BinarySecurityToken{ValueType: ValueTypeKerberosGSSAPREQ, Value: krbGoldenToken(t)}, time.Now(), nil)
	wantFault(t, err, soap.FailedAuthentication, "cannot be decrypted with the service key")
}

// FuzzKerberosAPREQ checks that the framing decoder never panics, that what
// it accepts is one DER AP-REQ element taken from the end of the input, and
// that the whole verification path refuses every input it cannot parse with
// an InvalidSecurityToken fault rather than a crash or another error.
func FuzzKerberosAPREQ(f *testing.F) {
	golden := krbGoldenToken(f)
	f.Add(golden)
	f.Add(mustKrbAPREQ(f, golden))
	f.Add(golden[:len(golden)/2])
	f.Add(krbFrame(oidKerberosV5, tokIDAPREQ, krbTLV(tagAPREQ, []byte{0x30, 0x00})))
	f.Add(krbFrame(oidKerberosV5MS, tokIDAPREQ, krbTLV(tagAPREQ, bytes.Repeat([]byte{0x30}, 200))))
	f.Add([]byte{0x60, 0x84, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0x6e, 0x80, 0x00, 0x00})

	kt := keytab.New()
	if err := kt.AddEntry(krbSTS, krbRealm, "fuzz", time.Unix(0, 0), 1, 18); err != nil {
		f.Fatal(err)
	}
	v := &KerberosVerifier{ServicePrincipal: krbSTSWithRm, Keytab: kt}

	f.Fuzz(func(t *testing.T, data []byte) {
		ap, err := KerberosAPREQ(data)
		if err == nil {
			if len(ap) == 0 || ap[0] != tagAPREQ || !bytes.HasSuffix(data, ap) {
				t.Fatalf("accepted %x from %x: not an AP-REQ element at the end of the input", ap, data)
			}
			content, rest, err := krbDERContents(ap)
			if err != nil || len(rest) != 0 || len(content) > len(ap) {
				t.Fatalf("accepted AP-REQ %x is not one DER element: %v", ap, err)
			}
		}
		_, verr := v.Verify(context.Background(), &BinarySecurityToken{ValueType: ValueTypeKerberosGSSAPREQ, Value: data}, time.Unix(1700000000, 0), nil)
		var fault *soap.Fault
		if !errors.As(verr, &fault) {
			t.Fatalf("Verify returned %v, want a *soap.Fault", verr)
		}
		if err != nil && fault.Code != soap.InvalidSecurityToken {
			t.Fatalf("unframable input refused with %s, want InvalidSecurityToken", fault.Code.Local)
		}
	})
}
