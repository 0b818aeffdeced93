package wssec

import (
	"bytes"
	"crypto/sha1" //nolint:gosec // the Kerberos token profile names a token by its SHA-1; nothing is signed with it.
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/xmlsec"
)

// KerberosSignatureVerifier checks the signature that binds a Kerberos
// BinarySecurityToken to its message. The AP-REQ authenticates the client
// but says nothing about the rest of the message, so a captured token could
// be sent with any Body; an HMAC over the Body and the Timestamp keyed with
// the ticket's session key (or the authenticator's subkey), which only the
// client and the STS know, shows the client sent this message. It is safe
// for concurrent use once configured.
type KerberosSignatureVerifier struct {
	// Algorithms is the allow-list for the HMAC and digest methods;
	// hmac-sha1 and sha1 need AllowSHA1.
	Algorithms xmlsec.AlgorithmPolicy
	// MaxReferences bounds the References of the signature (0 means
	// xmlsec.DefaultMaxReferences).
	MaxReferences int
}

// Verify checks the one ds:Signature of the Security header h of env with
// the keys of the Kerberos token bst of h, which KerberosVerifier.Verify
// has turned into id. In order:
//
//   - the envelope's shape and the signature's shape and algorithms, as
//     SignatureVerifier checks them, with an HMAC SignatureMethod;
//   - h has a Timestamp;
//   - KeyInfo is a SecurityTokenReference to bst itself: a Reference to
//     its id (with, if any, bst's own ValueType) or a Kerberosv5APREQSHA1
//     KeyIdentifier holding the SHA-1 of its value;
//   - the SignatureValue verifies with one of id.SignatureKeys();
//   - every Reference's digest matches the element its id names, and the
//     signature covers the SOAP Body content env.Body and the Timestamp.
//
// The MessageSignature it returns has no Certificate; its Token is bst.
// Errors are *soap.Fault: InvalidSecurity (malformed, wrapped, no
// Timestamp, not covering what it must), UnsupportedAlgorithm,
// InvalidSecurityToken, UnsupportedSecurityToken or
// SecurityTokenUnavailable (KeyInfo), FailedAuthentication (KeyInfo names
// another token) and FailedCheck (a digest or the signature does not
// match).
func (v *KerberosSignatureVerifier) Verify(env *soap.Envelope, h *Header, bst *BinarySecurityToken, id *KerberosIdentity) (*MessageSignature, error) {
	if bst == nil || id == nil {
		return nil, errors.New("wssec: KerberosSignatureVerifier.Verify needs the verified token and its identity")
	}
	sig, ids, err := headerSignature(env, h, xmlsec.DetachedOptions{Algorithms: v.Algorithms, MaxReferences: v.MaxReferences, HMAC: true})
	if err != nil {
		return nil, err
	}
	// A signature without a Timestamp could be replayed for as long as the
	// ticket lives.
	if h.Timestamp == nil {
		return nil, soap.NewFault(soap.InvalidSecurity, "a message signed with a Kerberos key needs a Timestamp", nil)
	}
	kind, err := kerberosKeyReference(sig.KeyInfo, h, bst)
	if err != nil {
		return nil, err
	}
	if err := verifyKerberosKeys(sig, id); err != nil {
		return nil, err
	}
	refs, err := sig.VerifyReferences(ids.Lookup)
	if err != nil {
		return nil, err
	}
	m := &MessageSignature{
		KeyReference: kind,
		Token:        bst,
		Algorithm:    sig.Algorithm,
		Signature:    sig.Element,
		References:   refs,
	}
	if err := m.checkCoverage(env, h, false); err != nil {
		return nil, err
	}
	return m, nil
}

// verifyKerberosKeys tries the keys the token offers, most likely first;
// clients differ in which one they sign with.
func verifyKerberosKeys(sig *xmlsec.DetachedSignature, id *KerberosIdentity) error {
	var err error
	for _, k := range id.SignatureKeys() {
		if err = sig.VerifySignatureValueHMAC(k.KeyValue); err == nil {
			return nil
		}
	}
	return err
}

var errOtherToken = errors.New("KeyInfo names a token other than the verified Kerberos token")

// kerberosKeyReference checks that keyInfo names bst, this very element of
// h, and says how it does.
func kerberosKeyReference(keyInfo *etree.Element, h *Header, bst *BinarySecurityToken) (KeyReferenceKind, error) {
	if !bst.IsKerberos() || !slices.Contains(h.BinarySecurityTokens, bst) {
		return 0, soap.NewFault(soap.InvalidSecurityToken, "the Kerberos token is not one of the Security header", nil)
	}
	if keyInfo == nil {
		return 0, keyInfoFault("is missing", nil)
	}
	kids := keyInfo.ChildElements()
	if len(kids) != 1 || !soap.IsElement(kids[0], NSSecExt, "SecurityTokenReference") {
		return 0, soap.NewFault(soap.UnsupportedSecurityToken, "signature KeyInfo must hold one SecurityTokenReference to the Kerberos token",
			fmt.Errorf("%d children", len(kids)))
	}
	refs := kids[0].ChildElements()
	if len(refs) != 1 {
		return 0, keyInfoFault("SecurityTokenReference must hold exactly one element", fmt.Errorf("%d children", len(refs)))
	}
	switch ref := refs[0]; {
	case soap.IsElement(ref, NSSecExt, "Reference"):
		if err := kerberosDirectReference(ref, h, bst); err != nil {
			return 0, err
		}
		return DirectReference, nil
	case soap.IsElement(ref, NSSecExt, "KeyIdentifier"):
		if err := kerberosKeyIdentifier(ref, bst); err != nil {
			return 0, err
		}
		return KerberosSHA1, nil
	}
	return 0, soap.NewFault(soap.UnsupportedSecurityToken, "signature KeyInfo names a key this STS does not accept", nil)
}

// kerberosDirectReference resolves a wsse:Reference in h and compares the
// element it names with bst's: ids are unique in the document, but the
// element is what was verified.
func kerberosDirectReference(ref *etree.Element, h *Header, bst *BinarySecurityToken) error {
	uri, _ := soap.AttrNS(ref, "", "URI")
	id, local := strings.CutPrefix(collapse(uri), "#")
	if !local || id == "" {
		return keyInfoFault("Reference must be a same-document #id", nil)
	}
	if vt, ok := soap.AttrNS(ref, "", "ValueType"); ok && collapse(vt) != bst.ValueType {
		return soap.NewFault(soap.UnsupportedSecurityToken, "signature KeyInfo Reference has another ValueType than the Kerberos token", nil)
	}
	tok, ok := h.Lookup(id)
	if !ok {
		return soap.NewFault(soap.SecurityTokenUnavailable, "signature KeyInfo references no token of the Security header", nil)
	}
	if tok.TokenElement() != bst.Element {
		return soap.NewFault(soap.FailedAuthentication, "the signature is not keyed by the Kerberos token", errOtherToken)
	}
	return nil
}

// kerberosKeyIdentifier compares a Kerberosv5APREQSHA1 KeyIdentifier with
// the SHA-1 of bst's decoded value.
func kerberosKeyIdentifier(ki *etree.Element, bst *BinarySecurityToken) error {
	if vt, _ := soap.AttrNS(ki, "", "ValueType"); collapse(vt) != ValueTypeKerberosAPREQSHA1 {
		return soap.NewFault(soap.UnsupportedSecurityToken, "signature KeyIdentifier type is not supported", nil)
	}
	if enc, ok := soap.AttrNS(ki, "", "EncodingType"); ok && collapse(enc) != EncodingBase64Binary {
		return keyInfoFault("KeyIdentifier EncodingType is not supported", nil)
	}
	text, err := textContent(ki)
	if err != nil {
		return keyInfoFault("KeyIdentifier is malformed", err)
	}
	value, err := decodeBase64(text, sha1.Size)
	if err != nil || len(value) != sha1.Size {
		return keyInfoFault("Kerberosv5APREQSHA1 is not a base64 SHA-1 value", err)
	}
	sum := sha1.Sum(bst.Value) //nolint:gosec // identification only
	if !bytes.Equal(value, sum[:]) {
		return soap.NewFault(soap.FailedAuthentication, "the signature is not keyed by the Kerberos token", errOtherToken)
	}
	return nil
}
