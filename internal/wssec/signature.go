package wssec

import (
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/xmlsec"
)

// SignatureVerifier checks the X.509 message signature of a request (WSS
// SOAP Message Security 1.0/1.1 with the X.509 token profile). It is safe
// for concurrent use once configured.
type SignatureVerifier struct {
	// Trust decides which signing certificates authenticate a caller.
	Trust X509Trust
	// Algorithms is the allow-list for the signature and digest methods.
	Algorithms xmlsec.AlgorithmPolicy
	// MaxReferences bounds the References of the signature (0 means
	// xmlsec.DefaultMaxReferences).
	MaxReferences int
	// RequireSignedAddressing refuses a message whose WS-Addressing
	// headers (Action, MessageID, To, ReplyTo) are not signed. The STS
	// leaves it off: it acts on none of them (it dispatches on the RST and
	// always answers the caller), and clients such as zeep sign only the
	// Body and the Timestamp.
	RequireSignedAddressing bool
}

// MessageSignature is a verified message signature: who signed, and which
// elements of the document the signature covers, by identity.
type MessageSignature struct {
	// Certificate is the signer's certificate, trusted at the time given
	// to Verify; nil for a Kerberos-keyed signature.
	Certificate *x509.Certificate
	// Chain is the chain Certificate was trusted through, leaf first; the
	// leaf alone when it is pinned.
	Chain []*x509.Certificate
	// KeyReference says how KeyInfo named the certificate or Kerberos
	// token.
	KeyReference KeyReferenceKind
	// Token is the BinarySecurityToken that keyed the signature: the one
	// the certificate came from (nil when it was a registered certificate
	// or carried in KeyInfo), or the Kerberos token whose session key or
	// subkey made it.
	Token *BinarySecurityToken
	// Algorithm is the signature method.
	Algorithm xmlsec.SignatureAlgorithm
	// Signature is the ds:Signature element of the Security header.
	Signature *etree.Element
	// References are the verified References with the elements they
	// resolved to, in SignedInfo order.
	References []xmlsec.VerifiedReference
}

// Covered returns the elements the References resolved to.
func (m *MessageSignature) Covered() []*etree.Element {
	out := make([]*etree.Element, len(m.References))
	for i, r := range m.References {
		out[i] = r.Element
	}
	return out
}

// Covers reports whether el, this very element of the document, is
// covered: it is, or lies inside, an element a Reference resolved to (and
// is not the signature an enveloped-signature transform cut out). Callers
// compare the elements they act on, never names or ids.
func (m *MessageSignature) Covers(el *etree.Element) bool {
	if m == nil || el == nil {
		return false
	}
	inSignature := el == m.Signature || isInside(el, m.Signature)
	for _, r := range m.References {
		if (r.Element == el || isInside(el, r.Element)) && !(r.Enveloped && inSignature) {
			return true
		}
	}
	return false
}

// isInside reports whether el is a proper descendant of ancestor.
func isInside(el, ancestor *etree.Element) bool {
	for p := el.Parent(); p != nil; p = p.Parent() {
		if p == ancestor {
			return true
		}
	}
	return false
}

// Verify checks the one ds:Signature of the Security header h of env and
// returns the signer. In order:
//
//   - the envelope has its one Envelope, Header and Body where SOAP puts
//     them, and no id occurs twice anywhere in the document;
//   - the signature's shape and algorithms (xmlsec.ParseDetachedSignature);
//   - KeyInfo names the certificate: a Reference to an X509v3
//     BinarySecurityToken of h, a SubjectKeyIdentifier or ThumbprintSHA1
//     KeyIdentifier or an X509IssuerSerial matched against the registered
//     certificates and the header's tokens, or the certificate itself;
//   - the SignatureValue verifies with that certificate's key, and the
//     certificate is trusted at now (Trust);
//   - every Reference's digest matches the element its id names;
//   - the signature covers the SOAP Body content env.Body, the Timestamp
//     of h when there is one, and, with RequireSignedAddressing, the
//     WS-Addressing headers (Action, MessageID, To, ReplyTo) when present.
//
// Errors are *soap.Fault: InvalidSecurity (malformed, wrapped, not
// covering what it must), UnsupportedAlgorithm, InvalidSecurityToken or
// UnsupportedSecurityToken (KeyInfo), FailedCheck (a digest or the
// signature does not match) and FailedAuthentication (the certificate is
// unknown or not trusted).
func (v *SignatureVerifier) Verify(env *soap.Envelope, h *Header, now time.Time) (*MessageSignature, error) {
	if now.IsZero() {
		return nil, errors.New("wssec: SignatureVerifier.Verify needs a time")
	}
	sig, ids, err := headerSignature(env, h, xmlsec.DetachedOptions{Algorithms: v.Algorithms, MaxReferences: v.MaxReferences})
	if err != nil {
		return nil, err
	}
	keyRef, err := ParseKeyInfo(sig.KeyInfo)
	if err != nil {
		return nil, err
	}
	headerCerts, err := headerCertificates(h)
	if err != nil {
		return nil, err
	}
	candidates, err := v.candidates(keyRef, h, headerCerts)
	if err != nil {
		return nil, err
	}
	signer, chain, err := v.pickSigner(sig, candidates, headerCerts, now)
	if err != nil {
		return nil, err
	}
	refs, err := sig.VerifyReferences(ids.Lookup)
	if err != nil {
		return nil, err
	}
	m := &MessageSignature{
		Certificate:  signer.cert,
		Chain:        chain,
		KeyReference: keyRef.Kind,
		Token:        signer.token,
		Algorithm:    sig.Algorithm,
		Signature:    sig.Element,
		References:   refs,
	}
	if err := m.checkCoverage(env, h, v.RequireSignedAddressing); err != nil {
		return nil, err
	}
	return m, nil
}

// headerSignature takes the steps every message signature starts with,
// whatever its key: the envelope's shape, the header's one ds:Signature,
// the document's ids, and the signature's shape and algorithms.
func headerSignature(env *soap.Envelope, h *Header, opts xmlsec.DetachedOptions) (*xmlsec.DetachedSignature, xmlsec.IDIndex, error) {
	if err := checkEnvelopeShape(env, h); err != nil {
		return nil, nil, err
	}
	switch len(h.Signatures) {
	case 0:
		return nil, nil, soap.NewFault(soap.InvalidSecurity, "the message is not signed", nil)
	case 1:
	default:
		return nil, nil, soap.NewFault(soap.InvalidSecurity, "the Security header holds more than one signature", fmt.Errorf("%d signatures", len(h.Signatures)))
	}
	ids, err := xmlsec.IndexIDs(env.Document.Root())
	if err != nil {
		return nil, nil, err
	}
	sig, err := xmlsec.ParseDetachedSignature(h.Signatures[0], opts)
	if err != nil {
		return nil, nil, err
	}
	return sig, ids, nil
}

// candidate is a certificate KeyInfo may name, with the header token it
// came from (nil for a registered or embedded certificate).
type candidate struct {
	cert  *x509.Certificate
	token *BinarySecurityToken
}

// headerCertificates parses the X509v3 BinarySecurityTokens of h.
func headerCertificates(h *Header) ([]candidate, error) {
	var out []candidate
	for _, b := range h.BinarySecurityTokens {
		if b.ValueType != ValueTypeX509v3 {
			continue
		}
		cert, err := b.Certificate()
		if err != nil {
			return nil, err
		}
		out = append(out, candidate{cert: cert, token: b})
	}
	return out, nil
}

// candidates lists the certificates keyRef may name: one for a
// DirectReference or an embedded certificate; for a KeyIdentifier or
// X509IssuerSerial every registered or header certificate it matches,
// registered ones first (two certificates may share a key identifier,
// e.g. when one is renewed with the same key).
func (v *SignatureVerifier) candidates(keyRef *KeyReference, h *Header, headerCerts []candidate) ([]candidate, error) {
	switch keyRef.Kind {
	case DirectReference:
		tok, ok := h.Lookup("#" + keyRef.URI)
		bst, isBST := tok.(*BinarySecurityToken)
		if !ok || !isBST {
			return nil, soap.NewFault(soap.SecurityTokenUnavailable, "signature KeyInfo references no BinarySecurityToken of the Security header",
				fmt.Errorf("reference #%s", truncate(keyRef.URI, 120)))
		}
		for _, c := range headerCerts {
			if c.token == bst {
				return []candidate{c}, nil
			}
		}
		return nil, soap.NewFault(soap.UnsupportedSecurityToken, "signature KeyInfo references a token that is not an X509v3 certificate",
			fmt.Errorf("ValueType %q", truncate(bst.ValueType, 120)))
	case EmbeddedCertificate:
		cert, err := x509.ParseCertificate(keyRef.Value)
		if err != nil {
			return nil, soap.NewFault(soap.InvalidSecurityToken, "signature KeyInfo certificate cannot be parsed", err)
		}
		return []candidate{{cert: cert}}, nil
	}
	var out []candidate
	add := func(c candidate) {
		if !keyRef.Matches(c.cert) {
			return
		}
		for _, have := range out {
			if have.cert.Equal(c.cert) {
				return
			}
		}
		out = append(out, c)
	}
	for _, p := range v.Trust.Pinned {
		if p != nil {
			add(candidate{cert: p})
		}
	}
	for _, c := range headerCerts {
		add(c)
	}
	if len(out) == 0 {
		return nil, soap.NewFault(soap.FailedAuthentication, "the signing certificate is not known",
			fmt.Errorf("%s: %w", keyRef.Kind, errNoCertificate))
	}
	return out, nil
}

// pickSigner returns the first candidate whose key verifies the
// SignatureValue and which is trusted. A key that verifies but belongs to
// an untrusted certificate yields the trust fault, so that a forged
// certificate claiming a registered one's key identifier is refused as
// untrusted.
func (v *SignatureVerifier) pickSigner(sig *xmlsec.DetachedSignature, candidates, headerCerts []candidate, now time.Time) (candidate, []*x509.Certificate, error) {
	intermediates := make([]*x509.Certificate, 0, len(headerCerts))
	for _, c := range headerCerts {
		intermediates = append(intermediates, c.cert)
	}
	var sigErr, trustErr error
	for _, c := range candidates {
		if err := sig.VerifySignatureValue(c.cert.PublicKey); err != nil {
			sigErr = err
			continue
		}
		chain, err := v.Trust.Verify(c.cert, intermediates, now)
		if err != nil {
			trustErr = err
			continue
		}
		return c, chain, nil
	}
	if trustErr != nil {
		return candidate{}, nil, trustErr
	}
	return candidate{}, nil, sigErr
}

// checkCoverage requires the signature to cover what the STS acts on.
func (m *MessageSignature) checkCoverage(env *soap.Envelope, h *Header, addressing bool) error {
	if !m.Covers(env.Body) {
		return soap.NewFault(soap.InvalidSecurity, "the signature does not cover the SOAP Body", nil)
	}
	if h.Timestamp != nil && !m.Covers(h.Timestamp.Element) {
		return soap.NewFault(soap.InvalidSecurity, "the signature does not cover the Timestamp", nil)
	}
	if !addressing {
		return nil
	}
	for _, ns := range []string{soap.NamespaceWSA10, soap.NamespaceWSA200408} {
		for _, local := range []string{"Action", "MessageID", "To", "ReplyTo"} {
			for _, el := range env.Blocks(ns, local) {
				if !m.Covers(el) {
					return soap.NewFault(soap.InvalidSecurity, "the signature does not cover the wsa:"+local+" header", nil)
				}
			}
		}
	}
	return nil
}

// checkEnvelopeShape makes sure the elements the envelope parser returned
// are where SOAP puts them, and that no other Envelope, Header or Body
// element of either SOAP version occurs anywhere in the document: a signed
// Body moved into a header or a ds:Object, with a forged one in its place,
// is the classic signature-wrapping attack.
func checkEnvelopeShape(env *soap.Envelope, h *Header) error {
	if env == nil || env.Document == nil || env.Body == nil || h == nil || h.Element == nil {
		return soap.NewFault(soap.InvalidSecurity, "the message has no signed envelope to verify", nil)
	}
	root := env.Document.Root()
	ns := env.Version.Namespace()
	body := env.Body.Parent()
	header := h.Element.Parent()
	if !soap.IsElement(root, ns, "Envelope") || !soap.IsElement(body, ns, "Body") || body.Parent() != root ||
		!soap.IsElement(header, ns, "Header") || header.Parent() != root {
		return soap.NewFault(soap.InvalidSecurity, "the SOAP Body or Security header is not where the envelope puts it", nil)
	}
	return noStrayEnvelopeParts(root, header, body)
}

func noStrayEnvelopeParts(el, header, body *etree.Element) error {
	for _, c := range el.ChildElements() {
		if c != header && c != body && isEnvelopePart(c) {
			return soap.NewFault(soap.InvalidSecurity, "the message has a SOAP "+c.Tag+" element out of place",
				fmt.Errorf("%s inside %s", c.Tag, el.Tag))
		}
		if err := noStrayEnvelopeParts(c, header, body); err != nil {
			return err
		}
	}
	return nil
}

func isEnvelopePart(el *etree.Element) bool {
	switch el.Tag {
	case "Envelope", "Header", "Body":
		ns := el.NamespaceURI()
		return ns == soap.NamespaceSOAP11 || ns == soap.NamespaceSOAP12
	}
	return false
}
