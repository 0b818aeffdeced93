package xmlsec

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/beevik/etree"
)

// MinRSABits is the smallest RSA modulus a Signer accepts.
const MinRSABits = 2048

const dsPrefix = "ds"

// Signer makes enveloped, exclusively canonicalised XML signatures with one
// key. It is safe for concurrent use.
type Signer struct {
	key       crypto.Signer
	chain     []*x509.Certificate
	certsB64  []string // KeyInfo text, encoded once rather than per token
	signature SignatureAlgorithm
	digest    DigestAlgorithm
}

// NewSigner checks that key, certificate chain (leaf first) and algorithms
// fit together and are allowed by policy. Empty algorithm names mean the
// defaults (rsa-sha256, sha256). key may be any crypto.Signer, e.g. an HSM.
func NewSigner(key crypto.Signer, chain []*x509.Certificate, sig SignatureAlgorithm, digest DigestAlgorithm, policy AlgorithmPolicy) (*Signer, error) {
	if key == nil {
		return nil, errors.New("xmlsec: no signing key")
	}
	if len(chain) == 0 || chain[0] == nil {
		return nil, errors.New("xmlsec: no signing certificate")
	}
	if sig == "" {
		sig = DefaultSignatureAlgorithm
	}
	if digest == "" {
		digest = DefaultDigestAlgorithm
	}
	if sig.URI() == "" {
		return nil, fmt.Errorf("xmlsec: unknown signature algorithm %q", sig)
	}
	if digest.URI() == "" {
		return nil, fmt.Errorf("xmlsec: unknown digest algorithm %q", digest)
	}
	if !policy.AllowsSignature(sig) {
		return nil, fmt.Errorf("xmlsec: signature algorithm %s is not allowed (SHA-1 needs an explicit opt-in)", sig)
	}
	if !policy.AllowsDigest(digest) {
		return nil, fmt.Errorf("xmlsec: digest algorithm %s is not allowed (SHA-1 needs an explicit opt-in)", digest)
	}
	if err := checkKeyFitsAlgorithm(key.Public(), sig); err != nil {
		return nil, err
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(chain[0].PublicKey) {
		return nil, errors.New("xmlsec: the signing certificate does not belong to the signing key")
	}
	certs := make([]string, len(chain))
	for i, c := range chain {
		certs[i] = base64.StdEncoding.EncodeToString(c.Raw)
	}
	return &Signer{key: key, chain: chain, certsB64: certs, signature: sig, digest: digest}, nil
}

func checkKeyFitsAlgorithm(pub crypto.PublicKey, sig SignatureAlgorithm) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if sig.KeyAlgorithm() != x509.RSA {
			return fmt.Errorf("xmlsec: an RSA key cannot sign with %s", sig)
		}
		if k.N.BitLen() < MinRSABits {
			return fmt.Errorf("xmlsec: RSA key has %d bits, at least %d are required", k.N.BitLen(), MinRSABits)
		}
	case *ecdsa.PublicKey:
		if sig != ECDSASHA256 {
			return fmt.Errorf("xmlsec: an ECDSA key signs only with %s, not %s", ECDSASHA256, sig)
		}
	default:
		return fmt.Errorf("xmlsec: unsupported signing key type %T", pub)
	}
	return nil
}

// Certificate is the signing certificate (the leaf of the chain).
func (s *Signer) Certificate() *x509.Certificate { return s.chain[0] }

// Chain is the certificate chain sent in KeyInfo, leaf first.
func (s *Signer) Chain() []*x509.Certificate { return s.chain }

// SignatureAlgorithm is the signature method the Signer uses.
func (s *Signer) SignatureAlgorithm() SignatureAlgorithm { return s.signature }

// DigestAlgorithm is the reference digest method the Signer uses.
func (s *Signer) DigestAlgorithm() DigestAlgorithm { return s.digest }

// Sign computes an enveloped signature over el and returns the ds:Signature
// element, which the caller inserts into el where its schema wants it (the
// enveloped-signature transform makes any position inside el valid). The
// Reference URI is "#" + the value of el's unprefixed idAttr attribute.
//
// inclusivePrefixes become the exclusive c14n InclusiveNamespaces PrefixList:
// name prefixes used only inside content, such as "xs" in xsi:type="xs:string",
// which exclusive c14n would otherwise drop.
//
// el is canonicalised where it sits, with the namespaces it inherits, and
// left unchanged. It must not contain a signature yet.
func (s *Signer) Sign(el *etree.Element, idAttr string, inclusivePrefixes ...string) (*etree.Element, error) {
	id, err := idValue(el, idAttr)
	if err != nil {
		return nil, err
	}
	for _, c := range el.ChildElements() {
		if isDSig(c, "Signature") {
			return nil, fmt.Errorf("xmlsec: element %s is already signed", el.Tag)
		}
	}
	prefixList := strings.Join(inclusivePrefixes, " ")

	digest, err := digestExcC14N(s.digest.Hash(), el, prefixList, nil)
	if err != nil {
		return nil, fmt.Errorf("xmlsec: canonicalising the element to sign: %w", err)
	}

	si := s.newSignedInfo()
	s.addReference(si, id, prefixList, digest, URIEnvelopedSignature)
	sig, err := s.signatureElement(si)
	if err != nil {
		return nil, err
	}
	x509Data := dsChild(dsChild(sig, "KeyInfo"), "X509Data")
	for _, c := range s.certsB64 {
		dsChild(x509Data, "X509Certificate").SetText(c)
	}
	return sig, nil
}

// newSignedInfo starts a ds:SignedInfo: exclusive c14n and the Signer's
// signature method, no Reference yet.
func (s *Signer) newSignedInfo() *etree.Element {
	si := &etree.Element{Space: dsPrefix, Tag: "SignedInfo"}
	dsChild(si, "CanonicalizationMethod").CreateAttr("Algorithm", URIExcC14N)
	dsChild(si, "SignatureMethod").CreateAttr("Algorithm", s.signature.URI())
	return si
}

// addReference appends a same-document Reference to SignedInfo. Its
// transforms are the given ones followed by exclusive c14n with
// prefixList as InclusiveNamespaces.
func (s *Signer) addReference(si *etree.Element, id, prefixList string, digest []byte, transforms ...string) {
	ref := dsChild(si, "Reference")
	ref.CreateAttr("URI", "#"+id)
	tr := dsChild(ref, "Transforms")
	for _, uri := range transforms {
		dsChild(tr, "Transform").CreateAttr("Algorithm", uri)
	}
	c14n := dsChild(tr, "Transform")
	c14n.CreateAttr("Algorithm", URIExcC14N)
	if prefixList != "" {
		incl := c14n.CreateElement("ec:InclusiveNamespaces")
		incl.CreateAttr("xmlns:ec", NamespaceExcC14N)
		incl.CreateAttr("PrefixList", prefixList)
	}
	dsChild(ref, "DigestMethod").CreateAttr("Algorithm", s.digest.URI())
	dsChild(ref, "DigestValue").SetText(base64.StdEncoding.EncodeToString(digest))
}

// signatureElement signs SignedInfo and returns the ds:Signature holding
// it and its SignatureValue; the caller adds KeyInfo.
func (s *Signer) signatureElement(si *etree.Element) (*etree.Element, error) {
	value, err := s.signSignedInfo(si)
	if err != nil {
		return nil, err
	}
	sig := &etree.Element{Space: dsPrefix, Tag: "Signature"}
	sig.CreateAttr("xmlns:"+dsPrefix, NamespaceDSig)
	sig.AddChild(si)
	dsChild(sig, "SignatureValue").SetText(base64.StdEncoding.EncodeToString(value))
	return sig, nil
}

// signSignedInfo canonicalises SignedInfo as it will sit inside Signature
// and signs it. The ds declaration is put on SignedInfo only while
// canonicalising, since Signature declares it in the output.
func (s *Signer) signSignedInfo(si *etree.Element) ([]byte, error) {
	si.CreateAttr("xmlns:"+dsPrefix, NamespaceDSig)
	hash := s.signature.Hash()
	digest, err := digestExcC14N(hash, si, "", nil)
	si.RemoveAttr("xmlns:" + dsPrefix)
	if err != nil {
		return nil, fmt.Errorf("xmlsec: canonicalising SignedInfo: %w", err)
	}
	value, err := s.key.Sign(rand.Reader, digest, hash)
	if err != nil {
		return nil, fmt.Errorf("xmlsec: signing: %w", err)
	}
	if pub, ok := s.key.Public().(*ecdsa.PublicKey); ok {
		if value, err = ecdsaDERToRaw(value, pub); err != nil {
			return nil, fmt.Errorf("xmlsec: signing: %w", err)
		}
	}
	return value, nil
}

func dsChild(parent *etree.Element, tag string) *etree.Element {
	child := parent.CreateElement(tag)
	child.Space = dsPrefix
	return child
}

// idValue returns the value of el's unprefixed attribute name, refusing
// elements that carry it more than once (also under a prefix), since
// different XML stacks would then disagree on which element it names.
func idValue(el *etree.Element, name string) (string, error) {
	var value string
	found := 0
	for _, a := range el.Attr {
		if a.Key != name {
			continue
		}
		found++
		if a.Space == "" {
			value = strings.TrimSpace(a.Value)
		}
	}
	switch {
	case found > 1:
		return "", fmt.Errorf("xmlsec: element %s has attribute %s more than once", el.Tag, name)
	case value == "":
		return "", fmt.Errorf("xmlsec: element %s has no %s attribute", el.Tag, name)
	}
	return value, nil
}
