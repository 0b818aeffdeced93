package server

import (
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"math/big"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/wssec"
	"github.com/trustbroker/trustbroker/internal/xmlsec"
)

// WS-Security token reference value types for the STS's certificate.
const (
	valueTypeX509v3      = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
	valueTypeSKI         = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509SubjectKeyIdentifier"
	valueTypeThumbprint  = "http://docs.oasis-open.org/wss/oasis-wss-soap-message-security-1.1#ThumbprintSHA1"
	encodingBase64Binary = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
)

// signResponse signs the response's parts the STS's responseSecurity lists
// with the signing key, in the response's Security header, unless it is off
// or the request came over TLS and the STS skips signatures there.
func signResponse(snap *policy.Snapshot, signer *xmlsec.Signer, resp *soap.Response, overTLS bool) error {
	rs := snap.STS.ResponseSecurity
	if !rs.Sign || (overTLS && rs.SkipOverTLS) {
		return nil
	}
	sec := responseSecurityHeader(resp)
	if sec == nil {
		return fmt.Errorf("the response has no Security header to sign in")
	}
	var targets []xmlsec.DetachedTarget
	for _, part := range rs.Parts {
		for i, el := range partElements(resp, sec, part) {
			id := el.SelectAttrValue("u:Id", "")
			if id == "" {
				id = fmt.Sprintf("_%s-%d", part, i)
				el.CreateAttr("xmlns:u", wssec.NSUtility)
				el.CreateAttr("u:Id", id)
			}
			targets = append(targets, xmlsec.DetachedTarget{Element: el, ID: id})
		}
	}
	if len(targets) == 0 {
		return nil
	}
	keyInfo, bst := certificateReference(signer, rs.ReferenceType)
	if bst != nil {
		sec.InsertChildAt(0, bst)
	}
	sig, err := signer.SignDetached(targets, keyInfo)
	if err != nil {
		return fmt.Errorf("signing the response: %w", err)
	}
	sec.AddChild(sig)
	return nil
}

// responseSecurityHeader is the Security header the server put in the response.
func responseSecurityHeader(resp *soap.Response) *etree.Element {
	for _, h := range resp.Header.ChildElements() {
		if soap.IsElement(h, wssec.NSSecExt, "Security") {
			return h
		}
	}
	return nil
}

// partElements are the elements a signed part names: the Body, the
// Timestamp, or a WS-Addressing header of that name (when present).
func partElements(resp *soap.Response, sec *etree.Element, part string) []*etree.Element {
	switch part {
	case "Body":
		return []*etree.Element{resp.Body}
	case "Timestamp":
		return soap.ChildElements(sec, wssec.NSUtility, "Timestamp")
	}
	var out []*etree.Element
	for _, h := range resp.Header.ChildElements() {
		if h.Tag == part && soap.IsAddressingNamespace(h.NamespaceURI()) {
			out = append(out, h)
		}
	}
	return out
}

// certificateReference is the KeyInfo content that names the signing
// certificate the way the resource asks, and the BinarySecurityToken it
// refers to when it is a direct reference.
func certificateReference(signer *xmlsec.Signer, referenceType string) (keyInfo, bst *etree.Element) {
	cert := signer.Certificate()
	str := etree.NewElement("o:SecurityTokenReference")
	str.CreateAttr("xmlns:o", wssec.NSSecExt)
	switch referenceType {
	case "KeyIdentifier":
		ki := str.CreateElement("o:KeyIdentifier")
		ki.CreateAttr("EncodingType", encodingBase64Binary)
		if len(cert.SubjectKeyId) > 0 {
			ki.CreateAttr("ValueType", valueTypeSKI)
			ki.SetText(base64.StdEncoding.EncodeToString(cert.SubjectKeyId))
		} else {
			// A certificate without a subject key identifier is named by
			// its thumbprint, which WS-Security 1.1 defines for this.
			sum := sha1.Sum(cert.Raw)
			ki.CreateAttr("ValueType", valueTypeThumbprint)
			ki.SetText(base64.StdEncoding.EncodeToString(sum[:]))
		}
		return str, nil
	case "IssuerSerial":
		data := str.CreateElement("ds:X509Data")
		data.CreateAttr("xmlns:ds", wssec.NSDSig)
		is := data.CreateElement("ds:X509IssuerSerial")
		is.CreateElement("ds:X509IssuerName").SetText(cert.Issuer.String())
		is.CreateElement("ds:X509SerialNumber").SetText(new(big.Int).Set(cert.SerialNumber).String())
		return str, nil
	default: // DirectReference
		bst = etree.NewElement("o:BinarySecurityToken")
		bst.CreateAttr("xmlns:o", wssec.NSSecExt)
		bst.CreateAttr("xmlns:u", wssec.NSUtility)
		bst.CreateAttr("u:Id", "_sts-certificate")
		bst.CreateAttr("ValueType", valueTypeX509v3)
		bst.CreateAttr("EncodingType", encodingBase64Binary)
		bst.SetText(base64.StdEncoding.EncodeToString(cert.Raw))
		ref := str.CreateElement("o:Reference")
		ref.CreateAttr("URI", "#_sts-certificate")
		ref.CreateAttr("ValueType", valueTypeX509v3)
		return str, bst
	}
}
