package server

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/wssec"
)

// lookupStore is a user store that can look users up, and fails when told.
type lookupStore struct {
	users map[string]*policy.User
	err   error
}

func (s lookupStore) Authenticate(context.Context, string, string) (*policy.User, error) {
	return nil, policy.ErrBadCredentials
}

func (s lookupStore) PlainPassword(context.Context, string) (string, *policy.User, error) {
	return "", nil, policy.ErrNoPlainPassword
}

func (s lookupStore) Lookup(_ context.Context, name string) (*policy.User, error) {
	if s.err != nil {
		return nil, s.err
	}
	if u, ok := s.users[name]; ok {
		return u, nil
	}
	return nil, policy.ErrBadCredentials
}

func faultCodeOf(err error) soap.FaultCode {
	var f *soap.Fault
	if errors.As(err, &f) {
		return f.Code
	}
	return soap.FaultCode{}
}

// TestStoreFailureFailsTheRequest: a user store that cannot answer fails a
// certificate or Kerberos caller's request with RequestFailed instead of
// letting it go on without the store's roles; an unknown name keeps the
// credential's attributes with no roles. Before, both were the same.
func TestStoreFailureFailsTheRequest(t *testing.T) {
	cert := &x509.Certificate{Subject: pkix.Name{CommonName: "svc", Organization: []string{"Example"}}, EmailAddresses: []string{"svc@example.com"}}
	kerberos := &wssec.KerberosIdentity{Principal: "erin", Realm: "EXAMPLE.COM"}
	callers := map[string]*wssec.Caller{
		"certificate": {Method: wssec.TLSCertificate, Certificate: cert},
		"kerberos":    {Method: wssec.Kerberos, Kerberos: kerberos},
	}
	for name, c := range callers {
		t.Run(name, func(t *testing.T) {
			down := &policy.Snapshot{Users: lookupStore{err: errors.New("connection refused")}}
			if _, err := principal(context.Background(), down, c, time.Now()); faultCodeOf(err) != soap.RequestFailed {
				t.Errorf("store down: %v, want RequestFailed", err)
			}
			empty := &policy.Snapshot{Users: lookupStore{}}
			who, err := principal(context.Background(), empty, c, time.Now())
			if err != nil || who.User == nil || len(who.User.Roles) != 0 || len(who.User.Attributes["upn"]) == 0 && len(who.User.Attributes["mail"]) == 0 {
				t.Errorf("unknown name: %+v, %v; want the credential's attributes and no roles", who.User, err)
			}
		})
	}
}

// TestKerberosCallerUPN: a Kerberos caller's upn attribute is its principal.
func TestKerberosCallerUPN(t *testing.T) {
	c := &wssec.Caller{Method: wssec.Kerberos, Kerberos: &wssec.KerberosIdentity{Principal: "erin", Realm: "EXAMPLE.COM"}}
	who, err := principal(context.Background(), &policy.Snapshot{}, c, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if who.User.Name != "erin@EXAMPLE.COM" || !slices.Equal(who.User.Attributes["upn"], []string{"erin@EXAMPLE.COM"}) {
		t.Errorf("user %+v, want erin@EXAMPLE.COM with that upn", who.User)
	}
}

// TestCertificateIdentitySources: the identity order picks the name; a
// certificate with none of the listed sources, or with a UPN that is not
// a UTF8String, is refused.
func TestCertificateIdentitySources(t *testing.T) {
	upnSAN := func(value asn1.RawValue) []byte {
		v, _ := asn1.Marshal(value)
		typeID, _ := asn1.Marshal(asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 20, 2, 3})
		explicit, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: v})
		san, _ := asn1.Marshal([]asn1.RawValue{{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: append(typeID, explicit...)}})
		return san
	}
	withUPN := func(value asn1.RawValue) *x509.Certificate {
		return &x509.Certificate{
			Subject:        pkix.Name{CommonName: "Grace"},
			EmailAddresses: []string{"grace@example.com"},
			Extensions:     []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 17}, Value: upnSAN(value)}},
		}
	}
	utf8 := asn1.RawValue{Tag: asn1.TagUTF8String, Bytes: []byte("grace@corp.example.com")}
	ia5 := asn1.RawValue{Tag: asn1.TagIA5String, Bytes: []byte("grace@corp.example.com")}
	cnOnly := &x509.Certificate{Subject: pkix.Name{CommonName: "alice"}}
	bareEmail := &x509.Certificate{Subject: pkix.Name{CommonName: "alice"}, EmailAddresses: []string{"alice"}}
	noSubject := &x509.Certificate{}
	cases := []struct {
		name     string
		cert     *x509.Certificate
		identity []string
		want     string // "" = refused
	}{
		{"UPN first by default", withUPN(utf8), nil, "grace@corp.example.com"},
		{"e-mail first when listed first", withUPN(utf8), []string{"email", "upn"}, "grace@example.com"},
		{"subject DN only", withUPN(utf8), []string{"subjectDN"}, "CN=Grace"},
		{"CN-only subject by default: its DN, never the bare CN", cnOnly, nil, "CN=alice"},
		{"CN-only subject without subjectDN listed", cnOnly, []string{"upn", "email"}, ""},
		{"no subject, no SAN", noSubject, nil, ""},
		{"an e-mail without a domain is no name", bareEmail, []string{"email"}, ""},
		{"an e-mail without a domain falls through", bareEmail, nil, "CN=alice"},
		{"UPN not a UTF8String", withUPN(ia5), nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			who, err := certificatePrincipal(tc.cert, tc.identity, time.Now())
			if tc.want == "" {
				if faultCodeOf(err) != soap.FailedAuthentication {
					t.Errorf("got %+v, %v; want FailedAuthentication", who.User, err)
				}
				return
			}
			if err != nil || who.User.Name != tc.want {
				t.Errorf("got %+v, %v; want %q", who.User, err, tc.want)
			}
		})
	}
}
