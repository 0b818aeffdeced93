package xmlsec

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/soap"
)

// A detached signature, as WS-Security puts in the Security header, signs
// several elements elsewhere in the document, each named by a
// same-document "#id" Reference. This file checks such a signature: its
// shape and algorithms first (ParseDetachedSignature), then the
// SignatureValue with a key the caller chose from KeyInfo, then every
// Reference's digest against the element its id names in the document.

// DefaultMaxReferences bounds the References of one detached signature.
// A WS-Security client signs the Body, the Timestamp and at most a handful
// of addressing headers and tokens.
const DefaultMaxReferences = 16

// maxSignatureValueSize bounds the decoded SignatureValue (an RSA-8192
// signature is 1 KiB).
const maxSignatureValueSize = 1 << 10

// MinHMACKeySize is the shortest HMAC key, in bytes, that
// VerifySignatureValueHMAC accepts: that of an AES-128 Kerberos session
// key. Shorter secrets could be guessed offline from one signed message.
const MinHMACKeySize = 16

// DetachedOptions configures ParseDetachedSignature.
type DetachedOptions struct {
	// Algorithms is the allow-list for SignatureMethod and DigestMethod.
	Algorithms AlgorithmPolicy
	// MaxReferences bounds the number of References (0 means
	// DefaultMaxReferences).
	MaxReferences int
	// HMAC admits only the HMAC SignatureMethods, for a caller that holds
	// a shared secret; without it only public-key methods are admitted.
	// The caller's kind of key picks the method, never the message.
	HMAC bool
}

// Reference is one ds:Reference of a detached signature.
type Reference struct {
	// ID is the referenced id: the URI without its leading "#".
	ID string
	// Enveloped is set when the Reference applies the enveloped-signature
	// transform: the referenced element contains the signature.
	Enveloped bool
	// PrefixList is the exclusive c14n InclusiveNamespaces PrefixList.
	PrefixList string
	// Digest is the DigestMethod.
	Digest DigestAlgorithm
	// DigestValue is the decoded DigestValue.
	DigestValue []byte
}

// DetachedSignature is a ds:Signature whose shape and algorithms have been
// checked. Nothing about it is verified until VerifySignatureValue and
// VerifyReferences succeed.
type DetachedSignature struct {
	// Element is the ds:Signature element.
	Element *etree.Element
	// Algorithm is the SignatureMethod.
	Algorithm SignatureAlgorithm
	// References are in document order.
	References []Reference
	// KeyInfo is the ds:KeyInfo child, nil when absent.
	KeyInfo *etree.Element

	canonicalSignedInfo []byte
	value               []byte
}

// VerifiedReference is a Reference whose digest matched, with the element
// of the document it was computed over.
type VerifiedReference struct {
	Reference
	Element *etree.Element
}

// ParseDetachedSignature reads a ds:Signature and checks, before any
// cryptography, that it can only mean one thing: SignedInfo canonicalised
// with exclusive c14n; a SignatureMethod of the kind opts.HMAC names and
// DigestMethods the policy allows; between one and MaxReferences
// References, each a same-document "#id" reference to a different id,
// transformed by exclusive c14n only, after an enveloped-signature
// transform at most. Everything else (XPath and XSLT transforms, external
// or whole-document URIs, inclusive c14n, STR-Transform) is refused:
// UnsupportedAlgorithm for an algorithm this verifier does not run,
// InvalidSecurity for a malformed signature.
func ParseDetachedSignature(sig *etree.Element, opts DetachedOptions) (*DetachedSignature, error) {
	if sig == nil || !isDSig(sig, "Signature") {
		return nil, malformed(errors.New("not a ds:Signature element"))
	}
	maxRefs := opts.MaxReferences
	if maxRefs <= 0 {
		maxRefs = DefaultMaxReferences
	}
	s := &DetachedSignature{Element: sig}
	signedInfo, err := s.readChildren()
	if err != nil {
		return nil, err
	}
	prefixList, err := s.readSignedInfo(signedInfo, opts, maxRefs)
	if err != nil {
		return nil, err
	}
	// SignedInfo is canonicalised as it sits in the document, with the
	// namespace declarations it inherits from the Signature and above.
	if s.canonicalSignedInfo, err = canonicalExclusive(signedInfo, prefixList, nil); err != nil {
		return nil, err
	}
	return s, nil
}

func malformed(cause error) error {
	return soap.NewFault(soap.InvalidSecurity, "the signature is malformed", cause)
}

// readChildren checks the children of ds:Signature (SignedInfo,
// SignatureValue, KeyInfo?, Object*) and reads SignatureValue and KeyInfo.
func (s *DetachedSignature) readChildren() (*etree.Element, error) {
	kids := s.Element.ChildElements()
	if len(kids) < 2 || !isDSig(kids[0], "SignedInfo") || !isDSig(kids[1], "SignatureValue") {
		return nil, malformed(errors.New("Signature must start with SignedInfo and SignatureValue"))
	}
	for i, c := range kids[2:] {
		switch {
		case isDSig(c, "KeyInfo") && i == 0:
			s.KeyInfo = c
		case isDSig(c, "Object"):
		default:
			return nil, malformed(fmt.Errorf("unexpected %s in Signature", c.Tag))
		}
	}
	value, err := decodeDSigBase64(kids[1], maxSignatureValueSize)
	if err != nil {
		return nil, malformed(fmt.Errorf("SignatureValue: %w", err))
	}
	s.value = value
	return kids[0], nil
}

// readSignedInfo checks SignedInfo and reads its References; it returns
// the InclusiveNamespaces PrefixList of its canonicalisation.
func (s *DetachedSignature) readSignedInfo(si *etree.Element, opts DetachedOptions, maxRefs int) (string, error) {
	policy := opts.Algorithms
	kids := si.ChildElements()
	if len(kids) < 3 || !isDSig(kids[0], "CanonicalizationMethod") || !isDSig(kids[1], "SignatureMethod") {
		return "", malformed(errors.New("SignedInfo must hold CanonicalizationMethod, SignatureMethod and References"))
	}
	prefixList, err := exclusiveTransform(kids[0])
	if err != nil {
		return "", err
	}
	method := strings.TrimSpace(kids[1].SelectAttrValue("Algorithm", ""))
	alg, ok := signatureAlgorithmByURI(method)
	if !ok || alg.IsHMAC() != opts.HMAC || !policy.AllowsSignature(alg) {
		return "", soap.NewFault(soap.UnsupportedAlgorithm, "signature algorithm not allowed", fmt.Errorf("SignatureMethod %q", truncateText(method, 120)))
	}
	// No method here takes parameters; HMACOutputLength in particular
	// would let a truncated MAC through (CVE-2009-0217).
	if len(kids[1].ChildElements()) != 0 {
		return "", malformed(errors.New("SignatureMethod has parameters"))
	}
	s.Algorithm = alg
	refs := kids[2:]
	if len(refs) > maxRefs {
		return "", soap.NewFault(soap.InvalidSecurity, "the signature has too many references", fmt.Errorf("%d references, at most %d", len(refs), maxRefs))
	}
	seen := map[string]bool{}
	for _, r := range refs {
		if !isDSig(r, "Reference") {
			return "", malformed(fmt.Errorf("unexpected %s in SignedInfo", r.Tag))
		}
		ref, err := readReference(r, policy)
		if err != nil {
			return "", err
		}
		if seen[ref.ID] {
			return "", soap.NewFault(soap.InvalidSecurity, "the signature references an element twice", fmt.Errorf("id %q", truncateText(ref.ID, 120)))
		}
		seen[ref.ID] = true
		s.References = append(s.References, ref)
	}
	return prefixList, nil
}

// readReference checks one Reference: a "#id" URI, Transforms, DigestMethod
// and DigestValue, in that order.
func readReference(r *etree.Element, policy AlgorithmPolicy) (Reference, error) {
	var ref Reference
	raw := strings.TrimSpace(r.SelectAttrValue("URI", ""))
	id, isLocal := strings.CutPrefix(raw, "#")
	if !isLocal || !isPlainID(id) {
		return ref, soap.NewFault(soap.InvalidSecurity, "the signature has a reference that is not a same-document #id",
			fmt.Errorf("Reference URI %q", truncateText(raw, 120)))
	}
	ref.ID = id
	kids := r.ChildElements()
	if len(kids) != 3 || !isDSig(kids[0], "Transforms") || !isDSig(kids[1], "DigestMethod") || !isDSig(kids[2], "DigestValue") {
		return ref, malformed(fmt.Errorf("Reference %q must hold Transforms, DigestMethod and DigestValue", truncateText(raw, 120)))
	}
	if err := ref.readTransforms(kids[0]); err != nil {
		return ref, err
	}
	digestURI := strings.TrimSpace(kids[1].SelectAttrValue("Algorithm", ""))
	digest, ok := digestAlgorithmByURI(digestURI)
	if !ok || !policy.AllowsDigest(digest) {
		return ref, soap.NewFault(soap.UnsupportedAlgorithm, "digest algorithm not allowed", fmt.Errorf("DigestMethod %q", truncateText(digestURI, 120)))
	}
	ref.Digest = digest
	value, err := decodeDSigBase64(kids[2], 64)
	if err != nil || len(value) != digest.Hash().Size() {
		return ref, malformed(fmt.Errorf("DigestValue of %q: %d bytes, %v", truncateText(raw, 120), len(value), err))
	}
	ref.DigestValue = value
	return ref, nil
}

// readTransforms accepts exclusive c14n, optionally after the
// enveloped-signature transform.
func (ref *Reference) readTransforms(transforms *etree.Element) error {
	ts := transforms.ChildElements()
	if len(ts) == 2 && isDSig(ts[0], "Transform") && strings.TrimSpace(ts[0].SelectAttrValue("Algorithm", "")) == URIEnvelopedSignature {
		if len(ts[0].ChildElements()) != 0 {
			return malformed(errors.New("enveloped-signature transform has parameters"))
		}
		ref.Enveloped = true
		ts = ts[1:]
	}
	if len(ts) != 1 || !isDSig(ts[0], "Transform") {
		uris := make([]string, 0, len(ts))
		for _, t := range transforms.ChildElements() {
			uris = append(uris, truncateText(strings.TrimSpace(t.SelectAttrValue("Algorithm", "")), 120))
		}
		return soap.NewFault(soap.UnsupportedAlgorithm, "unsupported transforms: only exclusive c14n is accepted",
			fmt.Errorf("Reference #%s transforms %q", truncateText(ref.ID, 120), uris))
	}
	prefixList, err := exclusiveTransform(ts[0])
	if err != nil {
		return err
	}
	ref.PrefixList = prefixList
	return nil
}

// exclusiveTransform checks that a CanonicalizationMethod or Transform is
// exclusive c14n without comments and returns its PrefixList.
func exclusiveTransform(el *etree.Element) (string, error) {
	uri := strings.TrimSpace(el.SelectAttrValue("Algorithm", ""))
	if uri != URIExcC14N {
		return "", soap.NewFault(soap.UnsupportedAlgorithm, "unsupported canonicalization: only exclusive c14n is accepted",
			fmt.Errorf("%s %q", el.Tag, truncateText(uri, 120)))
	}
	var prefixList string
	for i, c := range el.ChildElements() {
		if i > 0 || c.Tag != "InclusiveNamespaces" || c.NamespaceURI() != NamespaceExcC14N {
			return "", malformed(fmt.Errorf("unexpected %s in %s", c.Tag, el.Tag))
		}
		prefixList = c.SelectAttrValue("PrefixList", "")
	}
	return prefixList, nil
}

// isPlainID reports whether id can be an XML ID (an NCName): in
// particular not empty and not an XPointer expression.
func isPlainID(id string) bool {
	return id != "" && !strings.ContainsAny(id, " \t\r\n()#:/'\"")
}

// VerifySignatureValue checks the SignatureValue over the canonical
// SignedInfo with pub: RSA PKCS#1 v1.5 (at least MinRSABits) or ECDSA
// P-256 in the r||s form of XML Signature. A key of the wrong size is an
// UnsupportedAlgorithm fault; a key that does not fit the SignatureMethod
// (an HMAC method fits none) or a signature that does not verify is a
// FailedCheck fault.
func (s *DetachedSignature) VerifySignatureValue(pub crypto.PublicKey) error {
	hash := s.Algorithm.Hash()
	h := hash.New()
	h.Write(s.canonicalSignedInfo)
	digest := h.Sum(nil)
	var err error
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if s.Algorithm.KeyAlgorithm() != x509.RSA {
			return keyMismatch(s.Algorithm, "an RSA key")
		}
		if k.N.BitLen() < MinRSABits {
			return soap.NewFault(soap.UnsupportedAlgorithm, "the signing key is too small",
				fmt.Errorf("RSA key of %d bits, at least %d required", k.N.BitLen(), MinRSABits))
		}
		err = rsa.VerifyPKCS1v15(k, hash, digest, s.value)
	case *ecdsa.PublicKey:
		if s.Algorithm != ECDSASHA256 {
			return keyMismatch(s.Algorithm, "an ECDSA key")
		}
		if k.Curve != elliptic.P256() {
			return soap.NewFault(soap.UnsupportedAlgorithm, "the signing key's curve is not supported",
				fmt.Errorf("curve %s, only P-256 is accepted", k.Curve.Params().Name))
		}
		var der []byte
		if der, err = ecdsaRawToDER(s.value, k); err == nil && !ecdsa.VerifyASN1(k, digest, der) {
			err = errors.New("ECDSA verification failed")
		}
	default:
		return soap.NewFault(soap.UnsupportedAlgorithm, "the signing key type is not supported", fmt.Errorf("key %T", pub))
	}
	if err != nil {
		return soap.NewFault(soap.FailedCheck, "the signature is not valid", err)
	}
	return nil
}

// VerifySignatureValueHMAC checks an HMAC SignatureValue over the
// canonical SignedInfo with the shared secret key. The value must have the
// hash's full length, so a truncated MAC fails, and is compared in
// constant time. A key shorter than MinHMACKeySize is an
// UnsupportedAlgorithm fault; a public-key SignatureMethod or a value that
// does not verify is a FailedCheck fault.
func (s *DetachedSignature) VerifySignatureValueHMAC(key []byte) error {
	if !s.Algorithm.IsHMAC() {
		return keyMismatch(s.Algorithm, "a shared secret key")
	}
	if len(key) < MinHMACKeySize {
		return soap.NewFault(soap.UnsupportedAlgorithm, "the signing key is too small",
			fmt.Errorf("HMAC key of %d bytes, at least %d required", len(key), MinHMACKeySize))
	}
	mac := hmac.New(s.Algorithm.Hash().New, key)
	mac.Write(s.canonicalSignedInfo)
	if !hmac.Equal(mac.Sum(nil), s.value) {
		return soap.NewFault(soap.FailedCheck, "the signature is not valid",
			fmt.Errorf("%s value of %d bytes does not verify", s.Algorithm, len(s.value)))
	}
	return nil
}

func keyMismatch(alg SignatureAlgorithm, key string) error {
	return soap.NewFault(soap.FailedCheck, "the signature method does not fit the signing key", fmt.Errorf("%s cannot verify %s", key, alg))
}

// VerifyReferences resolves every Reference with resolve (an IDIndex's
// Lookup over the whole document) and compares its digest. It returns the
// elements the digests were computed over, in Reference order; callers
// decide by their identity what the signature covers. A missing element
// or an enveloped-signature transform on an element that does not contain
// the signature is an InvalidSecurity fault, a digest that does not match
// a FailedCheck fault.
func (s *DetachedSignature) VerifyReferences(resolve func(id string) (*etree.Element, bool)) ([]VerifiedReference, error) {
	out := make([]VerifiedReference, 0, len(s.References))
	for _, ref := range s.References {
		el, ok := resolve(ref.ID)
		if !ok || el == nil {
			return nil, soap.NewFault(soap.InvalidSecurity, "a signed element is missing from the message", fmt.Errorf("no element with id %q", truncateText(ref.ID, 120)))
		}
		var enveloped *etree.Element
		if ref.Enveloped {
			if !isAncestor(el, s.Element) {
				return nil, soap.NewFault(soap.InvalidSecurity, "an enveloped-signature reference names an element outside the signature's parent",
					fmt.Errorf("id %q", truncateText(ref.ID, 120)))
			}
			enveloped = s.Element
		}
		digest, err := digestExclusive(ref.Digest.Hash(), el, ref.PrefixList, enveloped)
		if err != nil {
			return nil, err
		}
		if subtle.ConstantTimeCompare(digest, ref.DigestValue) != 1 {
			return nil, soap.NewFault(soap.FailedCheck, "a signed element was changed", fmt.Errorf("digest mismatch for #%s", truncateText(ref.ID, 120)))
		}
		out = append(out, VerifiedReference{Reference: ref, Element: el})
	}
	return out, nil
}

// isAncestor reports whether a is a proper ancestor of el.
func isAncestor(a, el *etree.Element) bool {
	for p := el.Parent(); p != nil; p = p.Parent() {
		if p == a {
			return true
		}
	}
	return false
}

// canonicalExclusive returns the exclusive c14n of el as it sits in its
// document: a copy declaring the namespaces el inherits is canonicalised,
// so el itself is left unchanged. without, a descendant of el, is left out
// (the enveloped-signature transform).
func canonicalExclusive(el *etree.Element, prefixList string, without *etree.Element) ([]byte, error) {
	prefixList, err := resolvePrefixList(el, prefixList)
	if err != nil {
		return nil, err
	}
	return excC14N(el, prefixList, without)
}

// digestExclusive is the digest with hash of canonicalExclusive's output.
func digestExclusive(hash crypto.Hash, el *etree.Element, prefixList string, without *etree.Element) ([]byte, error) {
	prefixList, err := resolvePrefixList(el, prefixList)
	if err != nil {
		return nil, err
	}
	return digestExcC14N(hash, el, prefixList, without)
}

// resolvePrefixList handles the "#default" token of a PrefixList, which
// goxmldsig's canonicaliser does not implement. It changes the output only
// when a non-empty default namespace is in scope at el or declared below
// it; such input is refused rather than canonicalised wrongly, and
// otherwise the token is dropped.
func resolvePrefixList(el *etree.Element, prefixList string) (string, error) {
	prefixes := strings.Fields(prefixList)
	if !slices.Contains(prefixes, "#default") {
		return prefixList, nil
	}
	if defaultNamespaceInScope(el) || declaresDefaultNamespace(el) {
		return "", soap.NewFault(soap.UnsupportedAlgorithm, "InclusiveNamespaces #default with a default namespace is not supported",
			errors.New("PrefixList #default"))
	}
	return strings.Join(slices.DeleteFunc(prefixes, func(p string) bool { return p == "#default" }), " "), nil
}

func defaultNamespaceInScope(el *etree.Element) bool {
	for p := el; p != nil; p = p.Parent() {
		for _, a := range p.Attr {
			if a.Space == "" && a.Key == "xmlns" {
				return a.Value != ""
			}
		}
	}
	return false
}

func declaresDefaultNamespace(el *etree.Element) bool {
	for _, a := range el.Attr {
		if a.Space == "" && a.Key == "xmlns" && a.Value != "" {
			return true
		}
	}
	for _, c := range el.ChildElements() {
		if declaresDefaultNamespace(c) {
			return true
		}
	}
	return false
}

// decodeDSigBase64 decodes the base64 text of el (line breaks allowed),
// refusing child elements and values over max bytes.
func decodeDSigBase64(el *etree.Element, max int) ([]byte, error) {
	if len(el.ChildElements()) != 0 {
		return nil, errors.New("unexpected child element")
	}
	var b strings.Builder
	for _, tok := range el.Child {
		if cd, ok := tok.(*etree.CharData); ok {
			b.WriteString(cd.Data)
		}
		if b.Len() > 4*max {
			return nil, fmt.Errorf("more than %d bytes", max)
		}
	}
	v, err := base64.StdEncoding.DecodeString(stripSpace(b.String()))
	if err != nil {
		return nil, err
	}
	if len(v) == 0 || len(v) > max {
		return nil, fmt.Errorf("%d bytes", len(v))
	}
	return v, nil
}
