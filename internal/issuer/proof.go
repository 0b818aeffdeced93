package issuer

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/saml"
	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/wssec"
	"github.com/trustbroker/trustbroker/internal/wstrust"
	"github.com/trustbroker/trustbroker/internal/xmlsec"
)

// Symmetric proof key sizes, in bits (WS-Trust leaves them to the STS; these
// are CXF's bounds and default).
const (
	defaultKeySize = 256
	minKeySize     = 128
	maxKeySize     = 512
)

// proof is how the token's subject proves possession: the confirmation in
// the assertion, and what the RSTR tells the requestor.
type proof struct {
	keyType wstrust.KeyType
	method  saml.ConfirmationMethod
	// keyInfo goes into the assertion's SubjectConfirmation (holder-of-key).
	keyInfo *etree.Element
	// token, entropy (or encryptedEntropy) and keySize go into the RSTR.
	token            *wstrust.ProofToken
	entropy          []byte
	encryptedEntropy *etree.Element
	keySize          int
}

// proofFor decides the key type and builds its proof. A requested key type
// must be one the relying party accepts. With none requested, the relying
// party's first accepted type decides: bearer gives bearer; otherwise a
// caller that authenticated with its certificate gets a token bound to it
// (an asymmetric proof key), others (a user name, even in a signed message)
// a symmetric proof key — the token generation matrix's rows for requests
// without a KeyType.
func proofFor(req Request, rp *policy.RelyingParty) (*proof, error) {
	rst := req.RST
	// Sender-vouches is no KeyType: a requestor acting for someone who asks
	// for no key type (or one this STS does not know, such as the
	// proprietary sender-vouches URI of some clients) gets it when the
	// relying party accepts it.
	if rst.OnBehalfOf != nil && (rst.KeyType == wstrust.KeyNone || rst.KeyType == wstrust.KeyOther) && rp.AllowsKeyType(policy.SenderVouches) {
		return &proof{keyType: wstrust.KeyNone, method: saml.SenderVouches}, nil
	}
	switch rst.KeyType {
	case wstrust.KeyNone:
		switch {
		case len(rp.AllowedKeyTypes) == 0 || rp.AllowedKeyTypes[0] == policy.Bearer:
			return bearerProof(rp)
		case req.Who.Method == saml.AuthnX509 && req.Who.Certificate != nil && rp.AllowsKeyType(policy.PublicKey):
			return publicKeyProof(rst, req.Who.Certificate, req.Token)
		case rp.AllowsKeyType(policy.SymmetricKey):
			return symmetricProof(req, rp)
		default:
			return bearerProof(rp)
		}
	case wstrust.KeyBearer:
		return bearerProof(rp)
	case wstrust.KeySymmetric:
		if err := allowKeyType(rp, policy.SymmetricKey); err != nil {
			return nil, err
		}
		return symmetricProof(req, rp)
	case wstrust.KeyPublic:
		if err := allowKeyType(rp, policy.PublicKey); err != nil {
			return nil, err
		}
		return publicKeyProof(rst, req.Who.Certificate, req.Token)
	default:
		return nil, soap.Faultf(soap.InvalidRequest, "KeyType %q is not known; use Bearer, SymmetricKey or PublicKey.", rst.KeyTypeURI)
	}
}

func bearerProof(rp *policy.RelyingParty) (*proof, error) {
	if err := allowKeyType(rp, policy.Bearer); err != nil {
		return nil, err
	}
	return &proof{keyType: wstrust.KeyBearer, method: saml.Bearer}, nil
}

func allowKeyType(rp *policy.RelyingParty, k policy.KeyType) error {
	if rp.AllowsKeyType(k) {
		return nil
	}
	return soap.Faultf(soap.InvalidRequest, "Relying party %q does not accept %s tokens; it accepts %s.", rp.Endpoint, k, keyTypeList(rp))
}

// symmetricProof makes the shared proof key: computed from both sides'
// entropy with P-SHA1 when the requestor asks for it, the requestor's own
// entropy when it sends only that, or a fresh key otherwise. The relying
// party learns it from an EncryptedKey in the assertion; the requestor from
// the RSTR, in clear only over TLS (see toRequestor).
func symmetricProof(req Request, rp *policy.RelyingParty) (*proof, error) {
	rst := req.RST
	bits := rst.KeySize
	if bits == 0 {
		bits = defaultKeySize
	}
	if bits < minKeySize || bits > maxKeySize || bits%8 != 0 {
		return nil, soap.Faultf(soap.InvalidRequest, "KeySize %d is not supported; ask for a multiple of 8 from %d to %d bits.", bits, minKeySize, maxKeySize)
	}
	p := &proof{keyType: wstrust.KeySymmetric, method: saml.HolderOfKey, keySize: bits}
	var key, secret []byte // secret is what the requestor must be told
	switch {
	case rst.Entropy == nil:
		key = random(bits / 8)
		secret = key
	case rst.Entropy.BinarySecret == nil:
		return nil, soap.Faultf(soap.InvalidRequest, "Only a wst:BinarySecret is accepted as entropy.")
	case rst.ComputedKeyAlgorithm == wstrust.ComputedKeyPSHA1_13 || rst.ComputedKeyAlgorithm == wstrust.ComputedKeyPSHA1_2005:
		secret = random(bits / 8)
		key = PSHA1(rst.Entropy.BinarySecret, secret, bits/8)
		p.token = &wstrust.ProofToken{ComputedKey: rst.ComputedKeyAlgorithm}
	case rst.ComputedKeyAlgorithm == "":
		if len(rst.Entropy.BinarySecret)*8 < minKeySize {
			return nil, soap.Faultf(soap.InvalidRequest, "The entropy is %d bits; a key needs at least %d.", len(rst.Entropy.BinarySecret)*8, minKeySize)
		}
		key = rst.Entropy.BinarySecret // the requestor chose the key and needs no proof token
		p.keySize = len(key) * 8
	default:
		return nil, soap.Faultf(soap.InvalidRequest, "ComputedKeyAlgorithm %q is not supported; use %s.", rst.ComputedKeyAlgorithm, wstrust.ComputedKeyPSHA1_13)
	}
	encrypter, err := encrypterFor(rp, req.Now, "the holder-of-key proof key")
	if err != nil {
		return nil, err
	}
	encKey, err := encrypter.EncryptKey(key)
	if err != nil {
		return nil, soap.NewFault(soap.RequestFailed, "The proof key could not be encrypted for the relying party.", err)
	}
	p.keyInfo = keyInfo(encKey)
	clear, sealed, err := toRequestor(req, secret)
	if err != nil {
		return nil, err
	}
	switch {
	case p.token != nil: // computed key: the secret is the STS's entropy
		p.entropy, p.encryptedEntropy = clear, sealed
	case secret != nil:
		p.token = &wstrust.ProofToken{BinarySecret: clear, Element: sealed}
	}
	return p, nil
}

// toRequestor decides how a symmetric secret (the proof key itself, or the
// STS's entropy it is computed from) reaches the requestor: in clear over
// TLS, else encrypted for the certificate the requestor proved it holds.
// Without either the request is refused, since anyone on the path could
// otherwise use the token. A requestor that chose the key itself gets
// nothing back, but over plain HTTP it must still have signed with a
// certificate: the rule is one and the same for every symmetric request.
func toRequestor(req Request, secret []byte) (clear []byte, sealed *etree.Element, err error) {
	if req.ConfidentialTransport {
		return secret, nil, nil
	}
	if req.Who.Certificate == nil {
		return nil, nil, soap.NewFault(soap.InvalidRequest,
			"A symmetric proof key is never sent in clear: send the request over HTTPS, or sign it with an X.509 certificate so that the key can be encrypted for it.",
			errors.New("symmetric proof key asked for over plain HTTP by a requestor without a certificate"))
	}
	if secret == nil {
		return nil, nil, nil
	}
	// RSA-OAEP with SHA-1 digests is what WS-Security clients (WCF, WSS4J)
	// unwrap by default; the certificate travels in the KeyInfo so the
	// requestor knows which of its keys to use.
	sealed, err = (&xmlsec.Encrypter{Certificate: req.Who.Certificate, KeyTransport: xmlsec.RSAOAEP}).EncryptKey(secret)
	if err != nil {
		return nil, nil, soap.NewFault(soap.InvalidRequest,
			"The proof key cannot be encrypted for the certificate the request was signed with (it needs an RSA key of at least 2048 bits): send the request over HTTPS.",
			fmt.Errorf("encrypting the proof key for the requestor: %w", err))
	}
	return nil, sealed, nil
}

// publicKeyProof binds the token to the requestor's public key: the one in
// UseKey (a certificate, inline or referenced in the Security header, or a
// bare RSA key value), else the certificate the caller authenticated with.
// When the caller authenticated with a certificate, UseKey must name that
// same certificate: a caller cannot bind a token to a key it has not proved
// it holds.
func publicKeyProof(rst *wstrust.RST, callerCert *x509.Certificate, resolve func(string) (*etree.Element, bool)) (*proof, error) {
	p := &proof{keyType: wstrust.KeyPublic, method: saml.HolderOfKey}
	cert := callerCert
	if rst.UseKey != nil {
		useCert, keyValue, err := useKey(rst.UseKey, resolve)
		if err != nil {
			return nil, err
		}
		if callerCert != nil && (useCert == nil || !useCert.Equal(callerCert)) {
			return nil, soap.Faultf(soap.InvalidRequest, "UseKey names a key other than the certificate the request was signed with; sign with the key the token should be bound to.")
		}
		if keyValue != nil {
			p.keyInfo = keyInfo(keyValue.Copy())
			return p, nil
		}
		cert = useCert
	}
	if cert == nil {
		return nil, soap.Faultf(soap.InvalidRequest, "KeyType PublicKey needs wst:UseKey with the requestor's certificate or key, or a request signed with the certificate.")
	}
	switch k := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return nil, soap.Faultf(soap.InvalidRequest, "The proof certificate has a %d-bit RSA key; at least 2048 bits are needed.", k.N.BitLen())
		}
	case *ecdsa.PublicKey:
	default:
		return nil, soap.Faultf(soap.InvalidRequest, "The proof certificate's key type is not supported; use RSA or EC.")
	}
	data := etree.NewElement("ds:X509Data")
	data.CreateElement("ds:X509Certificate").SetText(base64.StdEncoding.EncodeToString(cert.Raw))
	p.keyInfo = keyInfo(data)
	return p, nil
}

// useKey reads UseKey: a SecurityTokenReference to a BinarySecurityToken in
// the header, an inline BinarySecurityToken, or a ds:KeyInfo holding an
// X509Certificate or an RSAKeyValue.
func useKey(el *etree.Element, resolve func(string) (*etree.Element, bool)) (*x509.Certificate, *etree.Element, error) {
	bad := func(what string, cause error) error {
		return soap.NewFault(soap.InvalidRequest, "UseKey "+what, cause)
	}
	if str := soap.ChildElement(el, wssec.NSSecExt, "SecurityTokenReference"); str != nil {
		ref := soap.ChildElement(str, wssec.NSSecExt, "Reference")
		uri := ""
		if ref != nil {
			uri = ref.SelectAttrValue("URI", "")
		}
		target, ok := resolve(uri)
		if uri == "" || !ok || !soap.IsElement(target, wssec.NSSecExt, "BinarySecurityToken") {
			return nil, nil, bad(fmt.Sprintf("refers to %q, which is not a BinarySecurityToken in the Security header.", uri), nil)
		}
		return certificateOf(target, bad)
	}
	if bst := soap.ChildElement(el, wssec.NSSecExt, "BinarySecurityToken"); bst != nil {
		return certificateOf(bst, bad)
	}
	if ki := soap.ChildElement(el, wssec.NSDSig, "KeyInfo"); ki != nil {
		if kv := soap.ChildElement(ki, wssec.NSDSig, "KeyValue"); kv != nil && soap.ChildElement(kv, wssec.NSDSig, "RSAKeyValue") != nil {
			return nil, kv, nil
		}
		if data := soap.ChildElement(ki, wssec.NSDSig, "X509Data"); data != nil {
			if c := soap.ChildElement(data, wssec.NSDSig, "X509Certificate"); c != nil {
				der, err := base64.StdEncoding.DecodeString(soap.CollapsedText(c))
				if err != nil {
					return nil, nil, bad("holds a certificate that is not base64.", err)
				}
				cert, err := x509.ParseCertificate(der)
				if err != nil {
					return nil, nil, bad("holds a certificate that cannot be read.", err)
				}
				return cert, nil, nil
			}
		}
	}
	return nil, nil, bad("holds no certificate or RSA key this STS can use.", nil)
}

func certificateOf(el *etree.Element, bad func(string, error) error) (*x509.Certificate, *etree.Element, error) {
	bst, err := wssec.ParseBinarySecurityToken(el)
	if err != nil {
		return nil, nil, err
	}
	if !bst.IsX509() {
		return nil, nil, bad("refers to a BinarySecurityToken that is not an X.509 certificate.", nil)
	}
	cert, err := bst.Certificate()
	if err != nil {
		return nil, nil, bad("holds a certificate that cannot be read.", err)
	}
	return cert, nil, nil
}

// encrypterFor encrypts for the relying party's certificate.
func encrypterFor(rp *policy.RelyingParty, now time.Time, what string) (*xmlsec.Encrypter, error) {
	enc := rp.Encryption
	if enc == nil || len(enc.Certificates) == 0 {
		return nil, soap.NewFault(soap.RequestFailed, fmt.Sprintf("Relying party %q has no certificate to encrypt %s for.", rp.Endpoint, what),
			fmt.Errorf("relying party %s/%s: set spec.encryption.certificate", rp.Namespace, rp.Name))
	}
	cert := enc.Certificates[0]
	if now.After(cert.NotAfter) || now.Before(cert.NotBefore) {
		return nil, soap.NewFault(soap.RequestFailed, fmt.Sprintf("The certificate of relying party %q is not valid now (valid %s to %s).", rp.Endpoint,
			cert.NotBefore.UTC().Format(time.RFC3339), cert.NotAfter.UTC().Format(time.RFC3339)), nil)
	}
	data, err := xmlsec.ParseDataAlgorithm(enc.DataAlgorithm)
	if err != nil {
		return nil, soap.NewFault(soap.RequestFailed, "The relying party's data encryption algorithm is not supported.", err)
	}
	transport, err := xmlsec.ParseKeyTransport(enc.KeyTransport)
	if err != nil {
		return nil, soap.NewFault(soap.RequestFailed, "The relying party's key transport algorithm is not supported.", err)
	}
	return &xmlsec.Encrypter{Certificate: cert, Data: data, KeyTransport: transport, AllowRSA15: enc.AllowRSA15}, nil
}

func keyInfo(child *etree.Element) *etree.Element {
	ki := etree.NewElement("ds:KeyInfo")
	ki.CreateAttr("xmlns:ds", wssec.NSDSig)
	ki.AddChild(child)
	return ki
}

func random(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go ≥ 1.24)
	return b
}
