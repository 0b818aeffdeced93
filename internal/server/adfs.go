package server

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/wssec"
	"github.com/trustbroker/trustbroker/internal/wstrust"
)

// adfsTrustPath is where AD FS serves WS-Trust; clients configured for AD FS
// (ADAL, MSAL, WIF, Office) find the endpoints below it through the mex.
const adfsTrustPath = "/adfs/services/trust"

// Paths of the metadata exchange documents.
const (
	mexPath     = "/sts/mex"
	adfsMexPath = adfsTrustPath + "/mex"
)

// mechanism is the one way of authenticating an endpoint accepts.
type mechanism int

const (
	// anyMechanism accepts every credential the STS has enabled (/sts).
	anyMechanism mechanism = iota
	// usernameMixed accepts a wsse:UsernameToken sent over TLS.
	usernameMixed
	// certificateMixed accepts an X.509 message signature or a TLS client
	// certificate.
	certificateMixed
	// windowsTransport accepts Kerberos: from HTTP Negotiate, as AD FS
	// does, or as a Kerberos BinarySecurityToken.
	windowsTransport
)

func (m mechanism) String() string {
	switch m {
	case usernameMixed:
		return "usernamemixed"
	case certificateMixed:
		return "certificatemixed"
	case windowsTransport:
		return "windowstransport"
	}
	return "any"
}

// endpoint is a path the STS answers WS-Trust requests on, and what it
// accepts there.
type endpoint struct {
	path      string
	mechanism mechanism
	// version is the one WS-Trust version accepted; 0 accepts both.
	version wstrust.Version
	// binding names the endpoint's binding, port and policy in the mex (the
	// names AD FS uses); empty leaves the endpoint out of the mex.
	binding string
}

// stsEndpoint is POST /sts: every mechanism, both versions.
var stsEndpoint = endpoint{path: "/sts"}

// adfsEndpoints are the AD FS-compatible endpoints.
var adfsEndpoints = []endpoint{
	{path: adfsTrustPath + "/13/usernamemixed", mechanism: usernameMixed, version: wstrust.V13, binding: "UserNameWSTrustBinding_IWSTrust13Async"},
	{path: adfsTrustPath + "/2005/usernamemixed", mechanism: usernameMixed, version: wstrust.V2005, binding: "UserNameWSTrustBinding_IWSTrustFeb2005Async"},
	{path: adfsTrustPath + "/13/certificatemixed", mechanism: certificateMixed, version: wstrust.V13, binding: "CertificateWSTrustBinding_IWSTrust13Async"},
	{path: adfsTrustPath + "/2005/certificatemixed", mechanism: certificateMixed, version: wstrust.V2005, binding: "CertificateWSTrustBinding_IWSTrustFeb2005Async"},
	{path: adfsTrustPath + "/13/windowstransport", mechanism: windowsTransport, version: wstrust.V13, binding: "WindowsWSTrustBinding_IWSTrust13Async"},
}

// pathFor is the path serving mechanism m in WS-Trust version v: the AD FS
// endpoint when there is one, else /sts, which serves everything.
func pathFor(m mechanism, v wstrust.Version) string {
	for _, ep := range adfsEndpoints {
		if ep.mechanism == m && ep.version == v {
			return ep.path
		}
	}
	return stsEndpoint.path
}

// checkTransport refuses a password endpoint reached over plain HTTP: the
// request must have come over TLS, to this server or to a trusted proxy
// that says so, unless the server allows plain HTTP explicitly.
func (s *Server) checkTransport(ep endpoint, r *http.Request) error {
	if ep.mechanism != usernameMixed || s.AllowInsecureADFSPaths || s.overTLS(r) {
		return nil
	}
	return soap.NewFault(soap.InvalidSecurity, "This endpoint accepts passwords only over HTTPS.",
		fmt.Errorf("%s reached over plain HTTP from %s (X-Forwarded-Proto %q)", ep.path, r.RemoteAddr, r.Header.Values("X-Forwarded-Proto")))
}

// overTLS reports whether the request came over TLS: to this server, or to
// a trusted proxy in front of it that says so in X-Forwarded-Proto (every
// value must say https, so a client cannot add its own).
func (s *Server) overTLS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	peer, ok := parseAddr(r.RemoteAddr)
	if !ok || !contains(s.TrustedProxies, peer) {
		return false
	}
	values := strings.Split(strings.Join(r.Header.Values("X-Forwarded-Proto"), ","), ",")
	for _, v := range values {
		if !strings.EqualFold(strings.TrimSpace(v), "https") {
			return false
		}
	}
	return true
}

// checkVersion refuses a request in the other WS-Trust version, naming the
// endpoint that serves it.
func (ep endpoint) checkVersion(v wstrust.Version) error {
	if ep.version == 0 || v == ep.version {
		return nil
	}
	return soap.NewFault(soap.InvalidRequest,
		fmt.Sprintf("This endpoint serves %s only; send %s requests to %s.", ep.version, v, pathFor(ep.mechanism, v)),
		fmt.Errorf("%s request to %s", v, ep.path))
}

// checkCredentials refuses a request that does not authenticate with the
// endpoint's mechanism, naming the endpoint for the credentials it carries.
// A UsernameToken may come with a signature (proving a key for a
// holder-of-key token); it is still a usernamemixed request.
func (ep endpoint) checkCredentials(h *wssec.Header, t wssec.Transport) error {
	kerberos := len(t.Negotiate) > 0
	var ut, signed bool
	if h != nil {
		ut, signed = len(h.UsernameTokens) > 0, len(h.Signatures) > 0
		kerberos = kerberos || h.KerberosToken() != nil
	}
	clientCert := len(t.PeerCertificates) > 0
	var accepted bool
	var wants string
	switch ep.mechanism {
	case anyMechanism:
		return nil
	case usernameMixed:
		accepted, wants = ut && !kerberos, "a wsse:UsernameToken"
	case certificateMixed:
		accepted, wants = !ut && !kerberos && (signed || clientCert), "an X.509 signature or a TLS client certificate"
	case windowsTransport:
		accepted, wants = kerberos && !ut, "Kerberos (HTTP Negotiate, or a Kerberos BinarySecurityToken)"
		if !accepted && !ut && !signed && !clientCert {
			return negotiateChallenge{soap.NewFault(soap.FailedAuthentication, "Authenticate with Kerberos (HTTP Negotiate).",
				fmt.Errorf("%s: no Kerberos credentials; challenged for Negotiate", ep.path))}
		}
	}
	if accepted {
		return nil
	}
	var carries mechanism
	switch {
	case kerberos:
		carries = windowsTransport
	case ut:
		carries = usernameMixed
	case signed || clientCert:
		carries = certificateMixed
	default:
		return soap.NewFault(soap.UnsupportedSecurityToken, fmt.Sprintf("This endpoint accepts only %s.", wants),
			fmt.Errorf("%s: the request carries no credentials", ep.path))
	}
	return soap.NewFault(soap.UnsupportedSecurityToken,
		fmt.Sprintf("This endpoint accepts only %s; send these credentials to %s.", wants, pathFor(carries, ep.versionOr(wstrust.V13))),
		errors.New(ep.path+": the request authenticates with "+carries.String()))
}

// versionOr is the endpoint's version, or v when it serves both.
func (ep endpoint) versionOr(v wstrust.Version) wstrust.Version {
	if ep.version != 0 {
		return ep.version
	}
	return v
}
