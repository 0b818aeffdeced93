// Package server is the STS's HTTP face: the SOAP endpoint, and the health
// and metrics endpoints.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/beevik/etree"
	"github.com/go-logr/logr"

	"github.com/trustbroker/trustbroker/internal/buffers"
	"github.com/trustbroker/trustbroker/internal/issuer"
	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/wssec"
	"github.com/trustbroker/trustbroker/internal/wstrust"
)

// Server answers WS-Trust requests with the current policy.
type Server struct {
	Policy *policy.Holder
	Issuer *issuer.Issuer
	Replay *ReplayStores
	Limits soap.Limits
	// TrustedProxies are the reverse proxies whose X-Forwarded-For header
	// names the real client; empty trusts no header.
	TrustedProxies []netip.Prefix
	Now            func() time.Time
	Log            logr.Logger
	// Audit receives one line per request; Metrics, when set, counts them.
	Audit   logr.Logger
	Metrics *Metrics
	// AllowInsecureADFSPaths lets the AD FS usernamemixed endpoints take
	// passwords over plain HTTP (for tests, and behind a TLS-terminating
	// proxy that is not among TrustedProxies). Off, they answer only
	// requests that came over TLS.
	AllowInsecureADFSPaths bool

	inbound inboundPipelines
	// throttle counts failed sign-ins, auditRefusals refusal audit lines,
	// per client address.
	throttle, auditRefusals addressBuckets
	fedMetadata             federationMetadataCache
	// sessions seals the passive sign-in's cookies and forms.
	sessions sessionKeys
}

// Handler serves POST /sts, GET /sts?wsdl, the metadata exchange at
// /sts/mex and /adfs/services/trust/mex, the AD FS-compatible endpoints
// under /adfs/services/trust, the federation metadata and WS-Federation
// passive sign-in at /adfs/ls/.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /sts", s.serveSTS(stsEndpoint))
	mux.HandleFunc("GET /sts", s.serveWSDL)
	for _, ep := range adfsEndpoints {
		mux.HandleFunc("POST "+ep.path, s.serveSTS(ep))
	}
	for _, path := range []string{mexPath, adfsMexPath} {
		mux.HandleFunc("GET "+path, s.serveMex)
		mux.HandleFunc("POST "+path, s.serveMexGet)
	}
	mux.HandleFunc("GET "+FederationMetadataPath, s.serveFederationMetadata)
	mux.HandleFunc("GET "+passivePath+"{$}", s.servePassive)
	mux.HandleFunc("POST "+passivePath+"{$}", s.servePassive)
	return mux
}

// request is what is known about a request so far: for the fault if it
// fails, and for its audit line.
type request struct {
	soap       soap.Version
	addressing soap.Addressing
	trustNS    string

	requestType  wstrust.RequestType
	user         string
	appliesTo    string
	relyingParty string
	generation   uint64
	rstr         *wstrust.RSTR
}

// serveSTS answers WS-Trust requests at ep.
func (s *Server) serveSTS(ep endpoint) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		now := s.Now()
		req := request{soap: soap.VersionForContentType(r.Header.Get("Content-Type"))}
		resp, err := s.handle(r, ep, now, &req)
		var f *soap.Fault
		if err != nil {
			f = soap.AsFault(err)
			resp = s.fault(req, f, now)
		}
		status := soapStatus(resp)
		if errors.As(err, new(negotiateChallenge)) {
			w.Header().Set("WWW-Authenticate", "Negotiate")
			status = http.StatusUnauthorized
		}
		s.record(r, &req, f, s.Now().Sub(now))
		if err := writeSOAP(w, resp, status); err != nil {
			s.Log.Error(err, "writing the response", "remote", r.RemoteAddr)
		}
	}
}

func (s *Server) handle(r *http.Request, ep endpoint, now time.Time, req *request) (*soap.Response, error) {
	snap := s.Policy.Load()
	if snap == nil {
		return nil, soap.Faultf(soap.RequestFailed, "The STS has no policy loaded yet; try again shortly.")
	}
	req.generation = snap.Generation
	if err := checkAddress(snap, r, s.TrustedProxies); err != nil {
		return nil, err
	}
	if err := s.checkTransport(ep, r); err != nil {
		return nil, err
	}
	limits := s.Limits
	if limits.MaxBytes == 0 {
		limits = soap.DefaultLimits()
	}
	body, err := readBody(r, limits.MaxBytes+1)
	if tooLarge := new(http.MaxBytesError); errors.As(err, &tooLarge) {
		return nil, soap.NewFault(soap.Sender, fmt.Sprintf("The request is larger than %d bytes.", limits.MaxBytes), err)
	}
	if err != nil {
		return nil, soap.NewFault(soap.Sender, "The request body could not be read to its end.", err)
	}
	env, err := soap.Parse(body, r.Header.Get("Content-Type"), limits)
	if err != nil {
		return nil, err
	}
	req.soap, req.addressing = env.Version, env.Addressing
	plainRST := wstrust.VersionOf(env.Body.NamespaceURI()) != 0
	if plainRST {
		req.trustNS = wstrust.VersionOf(env.Body.NamespaceURI()).Namespace()
	}

	c, err := s.caller(r, ep, snap, env, now)
	if err != nil {
		if plainRST {
			// For the audit line and metrics only: what a refused caller
			// asked for, when it was not encrypted.
			if rst, perr := wstrust.ParseRST(env.Body); perr == nil {
				req.requestType, req.appliesTo = rst.RequestType, rst.AppliesTo
			}
		}
		return nil, err
	}
	rst, err := wstrust.ParseRST(env.Body)
	if err != nil {
		if c.Decrypted {
			// The RST was encrypted: how its plaintext fails to parse must
			// not tell an attacker anything either.
			return nil, wssec.Opaque(err)
		}
		return nil, err
	}
	req.trustNS, req.requestType, req.appliesTo = rst.Version.Namespace(), rst.RequestType, rst.AppliesTo
	if err := ep.checkVersion(rst.Version); err != nil {
		return nil, err
	}
	who, err := principal(r.Context(), snap, c, now)
	if err != nil {
		return nil, err
	}
	if c.Method == wssec.Anonymous && !anonymousTranslation(snap, rst, c, r) {
		return nil, noCredentials(c)
	}
	if who.User != nil {
		req.user = who.User.Name
	}
	rstr, err := s.Issuer.Handle(snap, issuer.Request{Ctx: r.Context(), Who: who, RST: rst, Token: tokenResolver(c.Header), Store: s.stores(snap).Cancelled, Now: now, ConfidentialTransport: s.overTLS(r)})
	if err != nil {
		return nil, err
	}
	el, err := rstr.Build()
	if err != nil {
		return nil, fmt.Errorf("building the RSTR: %w", err)
	}
	req.rstr = rstr
	if rp, ok := snap.RelyingPartyFor(rst.AppliesTo); ok {
		req.relyingParty = rp.Namespace + "/" + rp.Name
	}
	return s.respond(r, snap, env, rstr.Action(), el, now)
}

// respond wraps the answer in a SOAP envelope with a Security header, and
// signs it when the STS's responseSecurity asks.
func (s *Server) respond(r *http.Request, snap *policy.Snapshot, env *soap.Envelope, action string, body *etree.Element, now time.Time) (*soap.Response, error) {
	resp := soap.NewResponse(env.Version, env.Addressing, action, []*etree.Element{responseSecurity(now)}, body)
	if snap.STS.ResponseSecurity.Sign {
		signer, err := s.Issuer.Signer(snap)
		if err != nil {
			return nil, soap.NewFault(soap.RequestFailed, "The STS cannot sign responses at the moment.", err)
		}
		if err := signResponse(snap, signer, resp, r.TLS != nil); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// anonymousTranslation reports whether a request that carried no
// credentials at all (no UsernameToken, signature, ticket or TLS client
// certificate) may go on as an anonymous requestor: it asks for a token
// OnBehalfOf or ActAs someone, and the STS does not require translating
// requestors to authenticate. The issuer decides what such a requestor gets.
func anonymousTranslation(snap *policy.Snapshot, rst *wstrust.RST, c *wssec.Caller, r *http.Request) bool {
	if snap.STS.OnBehalfOf.RequireAuthenticatedRequestor || (rst.OnBehalfOf == nil && rst.ActAs == nil) || rst.RequestType != wstrust.RequestIssue {
		return false
	}
	h := c.Header
	return h == nil || (len(h.UsernameTokens) == 0 && len(h.BinarySecurityTokens) == 0 && len(h.Signatures) == 0 && len(h.Assertions) == 0)
}

// tokenResolver resolves "#id" references into the Security header.
func tokenResolver(h *wssec.Header) func(string) (*etree.Element, bool) {
	if h == nil {
		return nil
	}
	return h.ElementByID
}

// responseSecurity is the Security header of an answer: a Timestamp, as AD FS sends.
func responseSecurity(now time.Time) *etree.Element {
	sec := wssec.NewSecurity()
	sec.AddChild(wssec.NewResponseTimestamp(now))
	return sec
}

// checkAddress refuses callers outside the STS's trusted addresses.
func checkAddress(snap *policy.Snapshot, r *http.Request, trustedProxies []netip.Prefix) error {
	if len(snap.STS.TrustedAddresses) == 0 {
		return nil
	}
	addr, ok := clientAddress(r, trustedProxies)
	if ok && contains(snap.STS.TrustedAddresses, addr) {
		return nil
	}
	return soap.NewFault(soap.FailedAuthentication, "Access denied: this address may not call the STS.",
		fmt.Errorf("client address %v (peer %s, X-Forwarded-For %q) is not in trustedAddresses", addr, r.RemoteAddr, r.Header.Values("X-Forwarded-For")))
}

// writeSOAP sends resp with status: Content-Type, Content-Length and the
// envelope. No SOAPAction header is set: it belongs to requests only.
func writeSOAP(w http.ResponseWriter, resp *soap.Response, status int) error {
	b := buffers.Get()
	defer buffers.Put(b)
	resp.AppendTo(b)
	w.Header().Set("Content-Type", resp.ContentType())
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(status)
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("write SOAP response: %w", err)
	}
	return nil
}

// presizedBody is the largest Content-Length a request body buffer is
// allocated for before its bytes arrive; a larger body grows as it is read,
// so that a client cannot reserve memory by announcing a length it never
// sends.
const presizedBody = 64 << 10

// readBody reads the request body, refusing more than limit bytes, into one
// buffer of the announced size when there is one (io.ReadAll would grow
// and copy it several times).
func readBody(r *http.Request, limit int64) ([]byte, error) {
	body := http.MaxBytesReader(nil, r.Body, limit)
	if n := r.ContentLength; n > 0 && n <= min(limit, presizedBody) {
		buf := make([]byte, n)
		if _, err := io.ReadFull(body, buf); err != nil {
			return nil, err
		}
		return buf, nil
	}
	return io.ReadAll(body)
}

// soapStatus is the HTTP status of resp: 500 for a fault, as both SOAP
// HTTP bindings answer one.
func soapStatus(resp *soap.Response) int {
	if resp.Fault {
		return http.StatusInternalServerError
	}
	return http.StatusOK
}

// fault answers with f in the request's SOAP and WS-Trust versions.
func (s *Server) fault(req request, f *soap.Fault, now time.Time) *soap.Response {
	if req.soap == 0 {
		req.soap = soap.V12
	}
	return soap.NewFaultResponse(req.soap, req.addressing, req.trustNS, f, responseSecurity(now))
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// Ready reports whether a policy is loaded, for /readyz.
func (s *Server) Ready(context.Context) error {
	if s.Policy.Load() == nil {
		return errors.New("no policy loaded")
	}
	return nil
}
