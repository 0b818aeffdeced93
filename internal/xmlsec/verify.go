package xmlsec

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
	"github.com/russellhaering/goxmldsig/etreeutils"

	"github.com/trustbroker/trustbroker/internal/soap"
)

// Verify checks the enveloped signature of el against pinned certificates
// and returns the element that was actually verified: a new tree rebuilt
// from the signed, canonical bytes, without the Signature. Callers must read
// only that element, never el, so that content moved around the signed part
// (signature wrapping) is never used.
//
// The signature must be a direct child of el with exactly one Reference to
// "#" + el's idAttr, an enveloped-signature transform and algorithms allowed
// by policy. The signing certificate is taken from KeyInfo and must equal one
// of trusted; when KeyInfo carries no certificate each trusted one is tried.
// Verify does not look at certificate validity periods: a pinned certificate
// is trusted for its key (as SAML metadata trust does); use VerifyAt to
// refuse expired ones.
//
// Errors are *soap.Fault: UnsupportedAlgorithm, FailedCheck (the signature
// does not match), InvalidSecurityToken (untrusted certificate) or
// InvalidSecurity (no usable signature).
func Verify(el *etree.Element, idAttr string, trusted []*x509.Certificate, allowed AlgorithmPolicy) (*etree.Element, error) {
	return verify(el, idAttr, trusted, allowed, time.Time{})
}

// VerifyAt is Verify that also refuses a signing certificate that is not
// valid at now.
func VerifyAt(el *etree.Element, idAttr string, trusted []*x509.Certificate, allowed AlgorithmPolicy, now time.Time) (*etree.Element, error) {
	if now.IsZero() {
		return nil, errors.New("xmlsec: VerifyAt needs a time")
	}
	return verify(el, idAttr, trusted, allowed, now)
}

// signatureFacts is what the pre-checks learnt about the signature.
type signatureFacts struct {
	index     int // position of ds:Signature among el.Child
	algorithm SignatureAlgorithm
	certs     []*x509.Certificate // from KeyInfo, in document order
}

func verify(el *etree.Element, idAttr string, trusted []*x509.Certificate, allowed AlgorithmPolicy, now time.Time) (*etree.Element, error) {
	if el == nil {
		return nil, soap.NewFault(soap.InvalidSecurity, "no element to verify", nil)
	}
	id, err := idValue(el, idAttr)
	if err != nil {
		return nil, soap.NewFault(soap.InvalidSecurity, "the signed element has no usable "+idAttr, err)
	}
	sig, err := inspectSignature(el, id, allowed)
	if err != nil {
		return nil, err
	}
	candidates, err := signingCandidates(sig, trusted, now)
	if err != nil {
		return nil, err
	}

	work, err := workingCopy(el, sig)
	if err != nil {
		return nil, soap.NewFault(soap.InvalidSecurity, "the signature cannot be read", err)
	}
	var lastErr error
	for _, cert := range candidates {
		if err := checkKeyForVerification(cert, sig.algorithm); err != nil {
			lastErr = err
			continue
		}
		doc, err := prepareForCertificate(work, sig, cert)
		if err != nil {
			lastErr = err
			continue
		}
		ctx := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{cert}})
		ctx.IdAttribute = idAttr
		// goxmldsig always checks the validity period; the trust decision
		// (pinning, and the time check of VerifyAt) has been made above.
		ctx.Clock = dsig.NewFakeClockAt(cert.NotBefore)
		verified, err := ctx.Validate(doc)
		if err == nil {
			return verified, nil
		}
		lastErr = err
	}
	// A key refused before any cryptography ran (too small) says so.
	var f *soap.Fault
	if errors.As(lastErr, &f) {
		return nil, f
	}
	return nil, soap.NewFault(soap.FailedCheck, "the signature is not valid", lastErr)
}

// inspectSignature finds the one enveloped signature of el and checks its
// shape and algorithms before any cryptography runs.
func inspectSignature(el *etree.Element, id string, allowed AlgorithmPolicy) (*signatureFacts, error) {
	var sigEl *etree.Element
	info := &signatureFacts{index: -1}
	for i, tok := range el.Child {
		child, ok := tok.(*etree.Element)
		if !ok || !isDSig(child, "Signature") {
			continue
		}
		if sigEl != nil {
			return nil, soap.NewFault(soap.InvalidSecurity, "the element has more than one signature", nil)
		}
		sigEl, info.index = child, i
	}
	if sigEl == nil {
		return nil, soap.NewFault(soap.InvalidSecurity, "the element is not signed", nil)
	}
	if err := noOtherSignatureReferences(el, sigEl, id); err != nil {
		return nil, err
	}

	signedInfo, err := onlyChild(sigEl, "SignedInfo")
	if err != nil {
		return nil, soap.NewFault(soap.InvalidSecurity, "the signature is malformed", err)
	}
	c14n, err := algorithmOf(signedInfo, "CanonicalizationMethod")
	if err != nil {
		return nil, soap.NewFault(soap.InvalidSecurity, "the signature is malformed", err)
	}
	if !isCanonicalization(c14n) {
		return nil, soap.NewFault(soap.UnsupportedAlgorithm, "unsupported canonicalization method", fmt.Errorf("CanonicalizationMethod %q", c14n))
	}
	method, err := algorithmOf(signedInfo, "SignatureMethod")
	if err != nil {
		return nil, soap.NewFault(soap.InvalidSecurity, "the signature is malformed", err)
	}
	alg, ok := signatureAlgorithmByURI(method)
	// A token is verified with its issuer's certificate, so an HMAC
	// method cannot apply.
	if !ok || alg.IsHMAC() || !allowed.AllowsSignature(alg) {
		return nil, soap.NewFault(soap.UnsupportedAlgorithm, "signature algorithm not allowed", fmt.Errorf("SignatureMethod %q", method))
	}
	info.algorithm = alg
	if err := checkReference(signedInfo, id, allowed); err != nil {
		return nil, err
	}
	if info.certs, err = keyInfoCertificates(sigEl); err != nil {
		return nil, soap.NewFault(soap.InvalidSecurityToken, "the signing certificate cannot be read", err)
	}
	return info, nil
}

// checkReference requires exactly one Reference, to the element itself,
// enveloped, with allowed transforms and digest.
func checkReference(signedInfo *etree.Element, id string, allowed AlgorithmPolicy) error {
	var refs []*etree.Element
	for _, c := range signedInfo.ChildElements() {
		if isDSig(c, "Reference") {
			refs = append(refs, c)
		}
	}
	if len(refs) != 1 {
		return soap.NewFault(soap.InvalidSecurity, "the signature must have exactly one reference", fmt.Errorf("%d references", len(refs)))
	}
	ref := refs[0]
	if uri := ref.SelectAttrValue("URI", ""); uri != "#"+id {
		return soap.NewFault(soap.InvalidSecurity, "the signature does not reference the signed element", fmt.Errorf("Reference URI %q, element ID %q", uri, id))
	}
	transforms, err := onlyChild(ref, "Transforms")
	if err != nil {
		return soap.NewFault(soap.InvalidSecurity, "the signature is malformed", err)
	}
	enveloped := false
	for _, t := range transforms.ChildElements() {
		if !isDSig(t, "Transform") {
			return soap.NewFault(soap.InvalidSecurity, "the signature is malformed", fmt.Errorf("unexpected %s in Transforms", t.Tag))
		}
		uri := strings.TrimSpace(t.SelectAttrValue("Algorithm", ""))
		switch {
		case uri == URIEnvelopedSignature && !enveloped:
			enveloped = true
		case isCanonicalization(uri):
		default:
			return soap.NewFault(soap.UnsupportedAlgorithm, "unsupported transform", fmt.Errorf("Transform %q", uri))
		}
	}
	if !enveloped {
		return soap.NewFault(soap.InvalidSecurity, "the signature is not enveloped", nil)
	}
	digestURI, err := algorithmOf(ref, "DigestMethod")
	if err != nil {
		return soap.NewFault(soap.InvalidSecurity, "the signature is malformed", err)
	}
	digest, ok := digestAlgorithmByURI(digestURI)
	if !ok || !allowed.AllowsDigest(digest) {
		return soap.NewFault(soap.UnsupportedAlgorithm, "digest algorithm not allowed", fmt.Errorf("DigestMethod %q", digestURI))
	}
	return nil
}

// noOtherSignatureReferences refuses nested signatures that also claim the
// element's ID: goxmldsig takes the first one in document order, and it
// must be the one whose algorithms were checked.
func noOtherSignatureReferences(el, own *etree.Element, id string) error {
	var walk func(*etree.Element) error
	walk = func(e *etree.Element) error {
		for _, c := range e.ChildElements() {
			if c == own {
				continue
			}
			if isDSig(c, "Reference") {
				uri := c.SelectAttrValue("URI", "")
				if uri == "" || (len(uri) > 0 && uri[1:] == id) {
					return soap.NewFault(soap.InvalidSecurity, "more than one signature claims the element", nil)
				}
			}
			if err := walk(c); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(el)
}

// signingCandidates picks the trusted certificates the signature may have
// been made with.
func signingCandidates(sig *signatureFacts, trusted []*x509.Certificate, now time.Time) ([]*x509.Certificate, error) {
	var candidates []*x509.Certificate
	if len(sig.certs) == 0 {
		candidates = trusted
	} else {
	search:
		for _, c := range sig.certs {
			for _, t := range trusted {
				if t != nil && t.Equal(c) {
					candidates = []*x509.Certificate{t}
					break search
				}
			}
		}
	}
	if len(candidates) == 0 {
		return nil, soap.NewFault(soap.InvalidSecurityToken, "the signing certificate is not trusted", nil)
	}
	if now.IsZero() {
		return candidates, nil
	}
	var valid []*x509.Certificate
	for _, c := range candidates {
		if !now.Before(c.NotBefore) && !now.After(c.NotAfter) {
			valid = append(valid, c)
		}
	}
	if len(valid) == 0 {
		return nil, soap.NewFault(soap.InvalidSecurityToken, "the signing certificate is not valid at this time", fmt.Errorf("checked at %s", now.UTC().Format(time.RFC3339)))
	}
	return valid, nil
}

// checkKeyForVerification refuses a certificate whose key does not fit the
// signature method, and RSA keys under MinRSABits as the detached verifier
// does (a pinned certificate is no reason to accept a breakable key).
func checkKeyForVerification(cert *x509.Certificate, alg SignatureAlgorithm) error {
	switch cert.PublicKeyAlgorithm {
	case x509.RSA:
		if alg.KeyAlgorithm() != x509.RSA {
			return fmt.Errorf("RSA certificate cannot verify %s", alg)
		}
		if k, ok := cert.PublicKey.(*rsa.PublicKey); !ok || k.N.BitLen() < MinRSABits {
			bits := 0
			if ok {
				bits = k.N.BitLen()
			}
			return soap.NewFault(soap.UnsupportedAlgorithm, "the signing key is too small",
				fmt.Errorf("RSA key of %d bits, at least %d required", bits, MinRSABits))
		}
	case x509.ECDSA:
		if alg.KeyAlgorithm() != x509.ECDSA {
			return fmt.Errorf("ECDSA certificate cannot verify %s", alg)
		}
	default:
		return fmt.Errorf("unsupported certificate key %s", cert.PublicKeyAlgorithm)
	}
	return nil
}

// workingCopy copies el with the namespace declarations in scope, so that
// goxmldsig sees a self-contained element, and drops KeyInfo (outside the
// signed data): the certificate has already been chosen, and goxmldsig
// would otherwise insist on the first one in KeyInfo.
func workingCopy(el *etree.Element, sig *signatureFacts) (*etree.Element, error) {
	ctx, err := etreeutils.NSBuildParentContext(el)
	if err != nil {
		return nil, err
	}
	work, err := etreeutils.NSDetatch(ctx, el)
	if err != nil {
		return nil, err
	}
	sigEl := work.Child[sig.index].(*etree.Element)
	for _, c := range sigEl.ChildElements() {
		if isDSig(c, "KeyInfo") {
			sigEl.RemoveChild(c)
		}
	}
	return work, nil
}

// prepareForCertificate returns the element goxmldsig validates with cert:
// for ECDSA the r||s SignatureValue is rewritten as the DER form Go checks.
func prepareForCertificate(work *etree.Element, sig *signatureFacts, cert *x509.Certificate) (*etree.Element, error) {
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return work, nil
	}
	doc := work.Copy()
	value, err := onlyChild(doc.Child[sig.index].(*etree.Element), "SignatureValue")
	if err != nil {
		return nil, err
	}
	raw, err := base64.StdEncoding.DecodeString(stripSpace(value.Text()))
	if err != nil {
		return nil, fmt.Errorf("SignatureValue: %w", err)
	}
	der, err := ecdsaRawToDER(raw, pub)
	if err != nil {
		return nil, err
	}
	value.SetText(base64.StdEncoding.EncodeToString(der))
	return doc, nil
}

// keyInfoCertificates reads the X509Certificate elements of the
// signature's KeyInfo (none when KeyInfo is absent or holds other data).
func keyInfoCertificates(sigEl *etree.Element) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for _, ki := range sigEl.ChildElements() {
		if !isDSig(ki, "KeyInfo") {
			continue
		}
		for _, data := range ki.ChildElements() {
			if !isDSig(data, "X509Data") {
				continue
			}
			for _, c := range data.ChildElements() {
				if !isDSig(c, "X509Certificate") {
					continue
				}
				der, err := base64.StdEncoding.DecodeString(stripSpace(c.Text()))
				if err != nil {
					return nil, fmt.Errorf("X509Certificate: %w", err)
				}
				cert, err := x509.ParseCertificate(der)
				if err != nil {
					return nil, fmt.Errorf("X509Certificate: %w", err)
				}
				certs = append(certs, cert)
			}
		}
	}
	return certs, nil
}

func isDSig(el *etree.Element, local string) bool {
	return el.Tag == local && el.NamespaceURI() == NamespaceDSig
}

func onlyChild(parent *etree.Element, local string) (*etree.Element, error) {
	var found *etree.Element
	for _, c := range parent.ChildElements() {
		if isDSig(c, local) {
			if found != nil {
				return nil, fmt.Errorf("more than one %s", local)
			}
			found = c
		}
	}
	if found == nil {
		return nil, fmt.Errorf("missing %s", local)
	}
	return found, nil
}

func algorithmOf(parent *etree.Element, local string) (string, error) {
	el, err := onlyChild(parent, local)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(el.SelectAttrValue("Algorithm", "")), nil
}

func stripSpace(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\n', '\r':
			return -1
		}
		return r
	}, s)
}
