package wssec

import (
	"context"
	"time"

	"github.com/trustbroker/trustbroker/internal/soap"
)

// verifyKerberosSignature checks the ticket of bst, then the message
// signature keyed by its session key (or the authenticator's subkey). The
// authenticator is recorded for replay only later, with the message: a
// captured ticket sent with another Body neither authenticates nor burns
// the original's record.
func (p *inbound) verifyKerberosSignature(bst *BinarySecurityToken) error {
	if p.Kerberos == nil {
		return soap.Faultf(soap.UnsupportedSecurityToken, "Kerberos authentication is not enabled on this STS.")
	}
	id, err := p.Kerberos.Verify(context.Background(), bst, p.now, nil)
	if err != nil {
		return err
	}
	sig, err := (&KerberosSignatureVerifier{}).Verify(p.env, p.caller.Header, bst, id)
	if err != nil {
		return err
	}
	p.caller.Signature, p.caller.Kerberos = sig, id
	return nil
}

// Kerberos records the authenticator of a verified ticket and refuses it if
// it was used before. An authenticator is accepted within the clock skew of
// now either way, so twice the skew outlives its acceptance.
func (g *ReplayGuard) Kerberos(ctx context.Context, id *KerberosIdentity, now time.Time) error {
	skew := g.MaxSkew
	if skew <= 0 {
		skew = DefaultKerberosMaxSkew
	}
	return g.seen(ctx, id.ReplayKey, 2*skew, "the Kerberos authenticator was already used")
}
