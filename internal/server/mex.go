package server

import (
	"net/http"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/policy"
)

// MexContentType is the Content-Type of GET /sts/mex.
const MexContentType = WSDLContentType

// Metadata describes the STS of snap for WS-MetadataExchange: the WSDL of
// GET /sts?wsdl (its /sts ports and policies) plus, for each enabled
// mechanism, a port at the AD FS-compatible endpoint with a policy in the
// shape AD FS publishes, so that clients that locate AD FS endpoints from
// its mex (ADAL, MSAL, WIF) find them:
//   - usernamemixed (WS-Trust 1.3 and 2005) when a UsernameToken can
//     authenticate: a TransportBinding and a UsernameToken supporting token;
//   - certificatemixed (1.3 and 2005) when X.509 authentication is on: a
//     TransportBinding with an endorsing X509Token, or with a client
//     certificate required.
//
// windowstransport is never listed: clients that choose it authenticate with
// HTTP Negotiate, which the STS does not offer.
func Metadata(snap *policy.Snapshot) (*etree.Document, error) {
	return metadata(snap, true)
}

// ADFSMetadata is what AD FS publishes at /adfs/services/trust/mex: the
// AD FS-compatible ports of Metadata alone, every one bound to SOAP 1.2.
// MSAL's mex reader expects a soap12:binding in every wsdl:binding and
// fails on the first one without it, so the /sts SOAP 1.1 bindings (and
// with them all of /sts) stay out.
func ADFSMetadata(snap *policy.Snapshot) (*etree.Document, error) {
	return metadata(snap, false)
}

func metadata(snap *policy.Snapshot, stsPorts bool) (*etree.Document, error) {
	doc, err := describe(snap, stsPorts)
	if err != nil {
		return nil, err
	}
	_, public, err := publicEndpoint(snap.STS.Endpoint)
	if err != nil {
		return nil, err
	}
	defs := doc.Root()
	for _, ns := range mexNamespaces {
		defs.CreateAttr("xmlns:"+ns.prefix, ns.uri)
	}
	addADFSEndpoints(defs, snap, public, advertised(snap))
	doc.Indent(2)
	return doc, nil
}

// serveMex answers GET on a mex path with the bare wsdl:definitions, as AD
// FS does and as ADAL and MSAL read it.
func (s *Server) serveMex(w http.ResponseWriter, r *http.Request) {
	snap, ok := s.metadataSnapshot(w, r)
	if !ok {
		return
	}
	doc, ok := s.metadata(w, r, snap)
	if !ok {
		return
	}
	body, err := doc.WriteToBytes()
	if err != nil {
		s.Log.Error(err, "writing the metadata")
		http.Error(w, "The STS could not write its metadata.", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", MexContentType)
	// The metadata follows the policy, which may change at any time.
	h.Set("Cache-Control", "no-cache")
	if _, err := w.Write(body); err != nil {
		s.Log.Error(err, "writing the metadata", "remote", r.RemoteAddr)
	}
}

// metadataSnapshot is the policy to describe, or false after answering that
// there is none or that the caller may not ask.
func (s *Server) metadataSnapshot(w http.ResponseWriter, r *http.Request) (*policy.Snapshot, bool) {
	snap := s.Policy.Load()
	if snap == nil {
		w.Header().Set("Retry-After", "5")
		http.Error(w, "The STS has no policy loaded yet; try again shortly.", http.StatusServiceUnavailable)
		return nil, false
	}
	if err := checkAddress(snap, r, s.TrustedProxies); err != nil {
		s.Log.Info("metadata refused", "cause", errString(err), "remote", r.RemoteAddr)
		http.Error(w, "Access denied: this address may not call the STS.", http.StatusForbidden)
		return nil, false
	}
	return snap, true
}

// metadata builds the metadata of snap served at r's path, or answers
// that it cannot.
func (s *Server) metadata(w http.ResponseWriter, r *http.Request, snap *policy.Snapshot) (*etree.Document, bool) {
	describe := Metadata
	if r.URL.Path == adfsMexPath {
		describe = ADFSMetadata
	}
	doc, err := describe(snap)
	if err != nil {
		s.Log.Error(err, "describing the STS", "policyGeneration", snap.Generation)
		http.Error(w, "The STS cannot describe itself: its endpoint setting is not a usable URL.", http.StatusServiceUnavailable)
		return nil, false
	}
	return doc, true
}
