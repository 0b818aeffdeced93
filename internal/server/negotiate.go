package server

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strings"

	"github.com/jcmturner/gokrb5/v8/spnego"

	"github.com/trustbroker/trustbroker/internal/soap"
)

// maxNegotiateBytes bounds a Negotiate token; Kerberos tickets with large
// Windows group data reach tens of kilobytes, not more.
const maxNegotiateBytes = 64 << 10

// negotiateToken returns the Kerberos token of an HTTP "Authorization:
// Negotiate" header (what MSAL and WCF send to AD FS's windowstransport),
// nil when the request has none. The inbound pipeline accepts it only over
// TLS.
func negotiateToken(r *http.Request) ([]byte, error) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Negotiate") {
		return nil, nil
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
	return spnegoToken.NegTokenInit.MechTokenBytes, nil
}

// negotiateChallenge asks the client to authenticate with HTTP Negotiate:
// a windowstransport request without Kerberos credentials gets a 401 with
// "WWW-Authenticate: Negotiate", on which Windows HTTP stacks retry with a
// ticket, and a fault body for clients that read one.
type negotiateChallenge struct{ *soap.Fault }

func (c negotiateChallenge) Unwrap() error { return c.Fault }
