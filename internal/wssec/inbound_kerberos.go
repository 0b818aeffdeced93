package wssec

import (
	"errors"

	"github.com/trustbroker/trustbroker/internal/soap"
)

// kerberosSigningToken is the header's Kerberos token when the header's
// signature names it as its key, nil otherwise.
func kerberosSigningToken(h *Header) *BinarySecurityToken {
	bst := h.KerberosToken()
	if bst == nil || len(h.Signatures) != 1 {
		return nil
	}
	return bst
}

// verifyKerberosSignature checks the ticket of bst, then the message
// signature keyed by its session key (or the authenticator's subkey), and
// only then records the authenticator, so that a captured ticket sent with
// another Body neither authenticates nor burns the original's record.
func (p *inbound) verifyKerberosSignature(bst *BinarySecurityToken) error {
	if p.Kerberos == nil {
		return soap.Faultf(soap.UnsupportedSecurityToken, "Kerberos authentication is not enabled on this STS.")
	}
	return errors.New("not yet")
}
