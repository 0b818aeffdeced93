package server

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strings"

	"github.com/jcmturner/gokrb5/v8/spnego"

	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/wssec"
)

// maxNegotiateBytes bounds a Negotiate token; Kerberos tickets with large
// Windows group data reach tens of kilobytes, not more.
const maxNegotiateBytes = 64 << 10

// negotiateCredentials adds the Kerberos token of an HTTP
// "Authorization: Negotiate" header (what MSAL and WCF send to AD FS's
// windowstransport) to the request's WS-Security credentials, as if it came
// in a GSS_Kerberosv5_AP_REQ BinarySecurityToken, so that one Kerberos check
// serves both. A request without the header is returned unchanged.
func negotiateCredentials(h *wssec.Header, r *http.Request) (*wssec.Header, error) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Negotiate") {
		return h, nil
	}
	bad := func(cause error) error {
		return soap.NewFault(soap.InvalidSecurityToken, "The Negotiate token cannot be read.", cause)
	}
	if len(token) > maxNegotiateBytes*4/3+4 {
		return nil, bad(errors.New("Negotiate token too large"))
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(token))
	if err != nil {
		return nil, bad(err)
	}
	var spnegoToken spnego.SPNEGOToken
	if err := spnegoToken.Unmarshal(raw); err != nil {
		return nil, bad(err)
	}
	if !spnegoToken.Init || len(spnegoToken.NegTokenInit.MechTokenBytes) == 0 {
		return nil, bad(errors.New("the Negotiate token carries no initial Kerberos token"))
	}
	if h == nil {
		h = &wssec.Header{}
	}
	with := *h
	with.BinarySecurityTokens = append(append([]*wssec.BinarySecurityToken(nil), h.BinarySecurityTokens...), &wssec.BinarySecurityToken{
		ValueType: wssec.ValueTypeKerberosGSSAPREQ,
		Value:     spnegoToken.NegTokenInit.MechTokenBytes,
	})
	return &with, nil
}

// negotiateChallenge asks the client to authenticate with HTTP Negotiate:
// a windowstransport request without Kerberos credentials gets a 401 with
// "WWW-Authenticate: Negotiate", on which Windows HTTP stacks retry with a
// ticket, and a fault body for clients that read one.
type negotiateChallenge struct{ *soap.Fault }

func (c negotiateChallenge) Unwrap() error { return c.Fault }
