package server

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/saml"
	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/xmlsec"
)

// FederationMetadataPath is where AD FS publishes its federation metadata;
// relying parties (WIF applications, SharePoint, identity providers
// configured from a metadata URL) read trust from it.
const FederationMetadataPath = "/FederationMetadata/2007-06/FederationMetadata.xml"

// FederationMetadataContentType is what AD FS serves it as.
const FederationMetadataContentType = "text/xml; charset=utf-8"

// Namespaces of the federation metadata.
const (
	nsMD     = "urn:oasis:names:tc:SAML:2.0:metadata"
	nsFed    = "http://docs.oasis-open.org/wsfed/federation/200706"
	nsAuth   = "http://docs.oasis-open.org/wsfed/authorization/200706"
	nsXSI    = "http://www.w3.org/2001/XMLSchema-instance"
	nsSAML20 = "urn:oasis:names:tc:SAML:2.0:assertion"
	// protocolWSFed is the protocol WS-Federation relying parties outside
	// Microsoft's stack (Shibboleth's WS-Fed profile, SimpleSAMLphp) look
	// for on the IDPSSODescriptor and its SingleSignOnService.
	protocolWSFed = "http://schemas.xmlsoap.org/ws/2003/07/secext"
)

// passivePath is the WS-Federation passive sign-in endpoint.
const passivePath = "/adfs/ls/"

// FederationMetadata describes the STS of snap as AD FS does, signed by
// signer (enveloped, exclusive c14n, the STS's signing algorithms): an
// EntityDescriptor named by the token issuer, with
//   - a fed:SecurityTokenServiceType role: the token-signing certificate,
//     the claim types the relying parties are given, the WS-Trust endpoint
//     (with its mex) and the passive sign-in endpoint;
//   - an IDPSSODescriptor for WS-Federation: the signing certificate, the
//     NameID formats the relying parties use, and the passive endpoint as
//     its SingleSignOnService.
//
// Endpoints are on the public endpoint's scheme and host.
func FederationMetadata(snap *policy.Snapshot, signer *xmlsec.Signer) (*etree.Document, error) {
	_, public, err := publicEndpoint(snap.STS.Endpoint)
	if err != nil {
		return nil, err
	}
	at := func(path string) string {
		return (&url.URL{Scheme: public.Scheme, Host: public.Host, Path: path}).String()
	}
	cert := base64.StdEncoding.EncodeToString(signer.Certificate().Raw)

	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="utf-8"`)
	ed := doc.CreateElement("EntityDescriptor")
	ed.CreateAttr("xmlns", nsMD)
	ed.CreateAttr("ID", "_"+randomHex(16))
	ed.CreateAttr("entityID", snap.STS.Issuer)

	sts := ed.CreateElement("RoleDescriptor")
	sts.CreateAttr("xmlns:xsi", nsXSI)
	sts.CreateAttr("xmlns:fed", nsFed)
	sts.CreateAttr("xsi:type", "fed:SecurityTokenServiceType")
	sts.CreateAttr("protocolSupportEnumeration", nsFed)
	sts.AddChild(signingKey(cert))
	offered := sts.CreateElement("fed:ClaimTypesOffered")
	for _, uri := range claimTypesOffered(snap) {
		ct := offered.CreateElement("auth:ClaimType")
		ct.CreateAttr("xmlns:auth", nsAuth)
		ct.CreateAttr("Uri", uri)
		ct.CreateAttr("Optional", "true")
	}
	epr := endpointReference(sts.CreateElement("fed:SecurityTokenServiceEndpoint"), at(stsEndpoint.path))
	section := epr.CreateElement("wsa:Metadata").CreateElement("mex:Metadata")
	section.CreateAttr("xmlns:mex", NamespaceMex)
	section = section.CreateElement("mex:MetadataSection")
	section.CreateAttr("Dialect", DialectWSDL)
	// A MetadataReference is an endpoint reference itself.
	section.CreateElement("mex:MetadataReference").CreateElement("wsa:Address").SetText(at(adfsMexPath))
	endpointReference(sts.CreateElement("fed:PassiveRequestorEndpoint"), at(passivePath))

	idp := ed.CreateElement("IDPSSODescriptor")
	idp.CreateAttr("protocolSupportEnumeration", protocolWSFed)
	idp.AddChild(signingKey(cert))
	for _, format := range nameIDFormats(snap) {
		idp.CreateElement("NameIDFormat").SetText(format)
	}
	sso := idp.CreateElement("SingleSignOnService")
	sso.CreateAttr("Binding", protocolWSFed)
	sso.CreateAttr("Location", at(passivePath))

	// fed is named only in an attribute value (xsi:type), which exclusive
	// c14n does not see: list it, so the signed form keeps it declared.
	sig, err := signer.Sign(ed, "ID", "fed")
	if err != nil {
		return nil, fmt.Errorf("signing the federation metadata: %w", err)
	}
	ed.InsertChildAt(0, sig)
	return doc, nil
}

// signingKey is a KeyDescriptor of the token-signing certificate.
func signingKey(certB64 string) *etree.Element {
	kd := etree.NewElement("KeyDescriptor")
	kd.CreateAttr("use", "signing")
	ki := kd.CreateElement("KeyInfo")
	ki.CreateAttr("xmlns", xmlsec.NamespaceDSig)
	ki.CreateElement("X509Data").CreateElement("X509Certificate").SetText(certB64)
	return kd
}

// endpointReference adds a WS-Addressing EndpointReference to address
// under parent and returns it.
func endpointReference(parent *etree.Element, address string) *etree.Element {
	epr := parent.CreateElement("wsa:EndpointReference")
	epr.CreateAttr("xmlns:wsa", nsWSA10)
	epr.CreateElement("wsa:Address").SetText(address)
	return epr
}

// claimTypesOffered are the claim URIs the relying parties are given:
// attribute names that are URIs, or SAML 1.1 names joined to their
// namespace, and the role claim when memberships are included; sorted.
func claimTypesOffered(snap *policy.Snapshot) []string {
	var uris []string
	for _, rp := range snap.RelyingParties {
		for _, m := range rp.Attributes {
			if uri := claimURI(snap, m); uri != "" {
				uris = append(uris, uri)
			}
		}
		if rp.IncludeMemberships {
			uris = append(uris, "http://schemas.microsoft.com/ws/2008/06/identity/claims/role")
		}
	}
	slices.Sort(uris)
	return slices.Compact(uris)
}

// claimURI is the claim type of a mapped attribute, or "" when its name is
// no URI and there is no namespace to make one with.
func claimURI(snap *policy.Snapshot, m policy.AttributeMapping) string {
	if strings.Contains(m.Name, ":") {
		return m.Name
	}
	ns := m.Namespace
	if ns == "" {
		ns = snap.STS.SAML.AttributeNamespace
	}
	if !strings.Contains(ns, "://") {
		return ""
	}
	return strings.TrimRight(ns, "/") + "/" + m.Name
}

// nameIDFormats are the NameID formats the relying parties are given,
// sorted; unspecified when none is set.
func nameIDFormats(snap *policy.Snapshot) []string {
	var formats []string
	for _, rp := range snap.RelyingParties {
		f := rp.NameID.Format
		if f == "" {
			f = snap.STS.SAML.NameID.Format
		}
		if f == "" {
			f = saml.NameIDUnspecified
		}
		formats = append(formats, f)
	}
	if len(formats) == 0 {
		formats = append(formats, saml.NameIDUnspecified)
	}
	slices.Sort(formats)
	return slices.Compact(formats)
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return hex.EncodeToString(b)
}

// federationMetadataCache keeps the signed metadata of one policy
// generation: it changes only with the policy, and need not be signed per
// request.
type federationMetadataCache struct {
	mu   sync.Mutex
	gen  uint64
	body []byte
}

// serveFederationMetadata answers GET on FederationMetadataPath with the
// signed metadata of the current policy.
func (s *Server) serveFederationMetadata(w http.ResponseWriter, r *http.Request) {
	snap, ok := s.metadataSnapshot(w, r)
	if !ok {
		return
	}
	body, err := s.federationMetadata(snap)
	if err != nil {
		s.Log.Error(err, "describing the STS", "policyGeneration", snap.Generation)
		http.Error(w, "The STS cannot publish its federation metadata at the moment.", http.StatusServiceUnavailable)
		return
	}
	h := w.Header()
	h.Set("Content-Type", FederationMetadataContentType)
	h.Set("Cache-Control", "no-cache")
	if _, err := w.Write(body); err != nil {
		s.Log.Error(err, "writing the federation metadata", "remote", r.RemoteAddr)
	}
}

// federationMetadata is the signed metadata of snap, built once per
// policy generation.
func (s *Server) federationMetadata(snap *policy.Snapshot) ([]byte, error) {
	c := &s.fedMetadata
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.body != nil && c.gen == snap.Generation {
		return c.body, nil
	}
	signer, err := s.Issuer.Signer(snap)
	if err != nil {
		return nil, err
	}
	doc, err := FederationMetadata(snap, signer)
	if err != nil {
		return nil, err
	}
	// Written exactly, as the signature's digest was computed.
	body := soap.SerializeExact(doc.Child...)
	c.body, c.gen = body, snap.Generation
	return body, nil
}
