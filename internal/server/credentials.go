package server

import (
	"context"
	"sync"
	"time"

	"github.com/trustbroker/trustbroker/internal/issuer"
	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/saml"
	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/wssec"
	"github.com/trustbroker/trustbroker/internal/xmlsec"
)

// messageSignature verifies the request's X.509 signature: over the Body,
// the Timestamp and the WS-Addressing headers, by a certificate the STS
// trusts. Only elements it covers are acted on after this.
func messageSignature(snap *policy.Snapshot, env *soap.Envelope, h *wssec.Header, now time.Time) (*wssec.MessageSignature, error) {
	if !snap.STS.X509.Enabled {
		return nil, soap.Faultf(soap.UnsupportedSecurityToken, "X.509 signed requests are not enabled on this STS.")
	}
	v := &wssec.SignatureVerifier{
		Trust:      wssec.X509Trust{Roots: snap.STS.X509.Roots, Pinned: snap.STS.X509.Pinned},
		Algorithms: xmlsec.AlgorithmPolicy{},
	}
	return v.Verify(env, h, now)
}

// kerberosVerifiers builds the Kerberos verifier once per policy generation:
// parsing a keytab need not happen per request.
type kerberosVerifiers struct {
	mu       sync.Mutex
	verifier *wssec.KerberosVerifier
	gen      uint64
}

func (k *kerberosVerifiers) forSnapshot(snap *policy.Snapshot) (*wssec.KerberosVerifier, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.verifier != nil && k.gen == snap.Generation {
		return k.verifier, nil
	}
	auth := snap.STS.Kerberos
	v, err := wssec.NewKerberosVerifier(auth.ServicePrincipal, auth.Keytab, snap.STS.MaxClockSkew)
	if err != nil {
		return nil, err
	}
	k.verifier, k.gen = v, snap.Generation
	return v, nil
}

// kerberos authenticates the caller by the AP-REQ in a BinarySecurityToken.
func (s *Server) kerberos(ctx context.Context, snap *policy.Snapshot, bst *wssec.BinarySecurityToken, now time.Time) (issuer.Principal, error) {
	if snap.STS.Kerberos == nil {
		return issuer.Principal{}, soap.Faultf(soap.UnsupportedSecurityToken, "Kerberos authentication is not enabled on this STS.")
	}
	v, err := s.kerberosVerifiers.forSnapshot(snap)
	if err != nil {
		return issuer.Principal{}, soap.NewFault(soap.RequestFailed, "The STS cannot check Kerberos tickets at the moment.", err)
	}
	var replay wssec.ReplayStore
	if snap.STS.Replay.UserTokens {
		replay = s.Replay.For(snap)
	}
	id, err := v.Verify(ctx, bst, now, replay)
	if err != nil {
		return issuer.Principal{}, err
	}
	who := issuer.Principal{User: &policy.User{Name: id.Name(), Attributes: map[string][]string{"realm": {id.Realm}}}, Method: saml.AuthnKerberos, Instant: id.AuthTime}
	return withStoredUser(ctx, snap, who), nil
}

// withStoredUser adds the roles and attributes the user store holds for a
// caller authenticated by certificate or ticket, when the store can look
// users up and knows this one; the credential's own attributes stay.
func withStoredUser(ctx context.Context, snap *policy.Snapshot, who issuer.Principal) issuer.Principal {
	lookup, ok := snap.Users.(policy.UserLookup)
	if !ok {
		return who
	}
	stored, err := lookup.Lookup(ctx, who.User.Name)
	if err != nil {
		return who
	}
	merged := &policy.User{Name: who.User.Name, Roles: stored.Roles, Attributes: map[string][]string{}}
	for k, v := range stored.Attributes {
		merged.Attributes[k] = v
	}
	for k, v := range who.User.Attributes {
		merged.Attributes[k] = v
	}
	who.User = merged
	return who
}
