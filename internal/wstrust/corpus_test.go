package wstrust

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/testtools"
)

// want is what a corpus RST must parse to. Elements kept raw are checked by
// local name of their first child ("" = absent).
type want struct {
	version      Version
	context      string
	requestType  RequestType
	requestURI   string
	tokenType    string
	tokenKind    TokenKind
	appliesTo    string
	keyType      KeyType
	keyTypeURI   string
	keySize      int
	entropyB64   string
	entropyType  string
	computedKey  string
	claimDialect string
	useKey       string
	onBehalfOf   string
	validate     string
	cancel       string
	secondary    bool
}

func TestParseRSTCorpus(t *testing.T) {
	const soap12 = "application/soap+xml; charset=utf-8"
	tests := []struct {
		file string
		// contentType is set for complete envelopes, which go through
		// soap.Parse; fragments are parsed alone.
		contentType string
		// namespaces are declared on a fragment whose source omits them.
		namespaces string
		want       want
	}{
		{file: "msalnet-rst13-usernamemixed.xml", contentType: soap12, want: want{
			version: V13, requestType: RequestIssue, requestURI: RequestTypeIssue13,
			appliesTo: "https://cloudAudienceUrn", keyType: KeyBearer, keyTypeURI: KeyTypeBearer13}},
		{file: "msalnet-rst2005-windowstransport.xml", contentType: soap12, want: want{
			version: V2005, requestType: RequestIssue, requestURI: RequestTypeIssue2005,
			appliesTo: "https://cloudAudienceUrn", keyType: KeyBearer, keyTypeURI: KeyTypeNoProofKey2005}},
		{file: "adalnode-rst13-usernamemixed-template.xml", contentType: soap12, want: want{
			version: V13, requestType: RequestIssue, requestURI: RequestTypeIssue13,
			appliesTo: "%APPLIES_TO%", keyType: KeyBearer, keyTypeURI: KeyTypeBearer13}},
		{file: "adalnode-rst2005-usernamemixed-template.xml", contentType: soap12, want: want{
			version: V2005, requestType: RequestIssue, requestURI: RequestTypeIssue2005,
			appliesTo: "%APPLIES_TO%", keyType: KeyBearer, keyTypeURI: KeyTypeNoProofKey2005}},
		{file: "cxf-fuse441-rst13-soap11-symmetric-entropy-psha1.xml", contentType: "text/xml", want: want{
			version: V13, requestType: RequestIssue, requestURI: RequestTypeIssue13,
			tokenType: TokenTypeSAML20, tokenKind: TokenSAML20, // only in SecondaryParameters
			keyType: KeySymmetric, keyTypeURI: KeyTypeSymmetric13, keySize: 256,
			entropyB64: "IwPnJynT6rioPQRuoOq2vj+lEM/xvDy+ZXkRR7dxGlk=", entropyType: BinarySecretNonce13,
			computedKey: ComputedKeyPSHA1_13, secondary: true}},
		{file: "ehealthsuisse-rst13-soap12-saml2-bearer-claims-projectathon.xml", contentType: soap12, want: want{
			version: V13, requestType: RequestIssue, requestURI: RequestTypeIssue13,
			tokenType: TokenTypeSAML20Profile, tokenKind: TokenSAML20, appliesTo: "https://sp.communilty.ch",
			claimDialect: "http://www.bag.admin.ch/epr/2017/annex/5/amendment/2"}},
		{file: "ehealthsuisse-rst13-soap12-whitespace-values-assistant.xml", contentType: soap12, want: want{
			version: V13, requestType: RequestIssue, requestURI: RequestTypeIssue13,
			tokenType: TokenTypeSAML20Profile, tokenKind: TokenSAML20, appliesTo: "https://localhost:17001/services/iti18",
			claimDialect: "http://www.bag.admin.ch/epr/2017/annex/5/amendment/2"}},
		{file: "cxf22-stsclient-rst2005-symmetric-entropy-wcf-copied-fragment.xml", want: want{
			version: V2005, requestType: RequestIssue, requestURI: RequestTypeIssue2005,
			keyType: KeySymmetric, keyTypeURI: KeyTypeSymmetric2005, keySize: 256,
			entropyB64: "Uv38QLxDQM9gLoDZ6OwYDiFk094nmwu3Wmay7EdKmhw=", entropyType: BinarySecretNonce2005,
			computedKey: ComputedKeyPSHA1_2005}}, // value has a leading newline in the source
		{file: "exchange-rst2005-obo-calendarsharing-fragment.xml",
			namespaces: `xmlns:t="` + Namespace2005 + `" xmlns:wsp="` + NamespacePolicy200409 +
				`" xmlns:a="http://www.w3.org/2005/08/addressing" xmlns:auth="http://schemas.xmlsoap.org/ws/2006/12/authorization"`,
			want: want{
				version: V2005, requestType: RequestIssue, requestURI: RequestTypeIssue2005,
				tokenType: TokenTypeSAML11Profile, tokenKind: TokenSAML11, appliesTo: "http://exchangecalendarsharing.com",
				keyType: KeySymmetric, keyTypeURI: KeyTypeSymmetric2005, keySize: 256, computedKey: ComputedKeyPSHA1_2005,
				claimDialect: "http://schemas.xmlsoap.org/ws/2006/12/authorization/authclaims", onBehalfOf: "Assertion"}},
		{file: "cxfsts-unittest-rst13-cancel-sct-fragment.xml", want: want{
			version: V13, requestType: RequestCancel, requestURI: RequestTypeCancel13,
			tokenType: "http://schemas.xmlsoap.org/ws/2005/02/sc/sct", tokenKind: TokenOther, cancel: "SecurityTokenReference"}},
		{file: "cxfsts-unittest-rst13-validate-sct-fragment.xml", want: want{
			version: V13, requestType: RequestValidate, requestURI: RequestTypeValidate13,
			tokenType: "http://schemas.xmlsoap.org/ws/2005/02/sc/sct", tokenKind: TokenOther, validate: "SecurityTokenReference"}},
		{file: "cxfsts-unittest-rst13-usekey-x509-fragment.xml", want: want{
			version: V13, requestType: RequestIssue, requestURI: RequestTypeIssue13,
			tokenType: "http://schemas.xmlsoap.org/ws/2005/02/sc/sct", tokenKind: TokenOther, useKey: "SecurityTokenReference"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data := testtools.ReadCorpus(t, tt.file)
			var body *etree.Element
			if tt.contentType != "" {
				env, err := soap.Parse(data, tt.contentType, soap.Limits{})
				if err != nil {
					t.Fatalf("soap.Parse: %v", err)
				}
				body = env.Body
			} else {
				if tt.namespaces != "" {
					data = bytes.Replace(data, []byte("<t:RequestSecurityToken "), []byte("<t:RequestSecurityToken "+tt.namespaces+" "), 1)
				}
				body = parseElement(t, data)
			}
			rst, err := ParseRST(body)
			if err != nil {
				t.Fatalf("ParseRST: %v", err)
			}
			if got := summarise(rst); got != tt.want {
				t.Errorf("parsed\n %+v\nwant\n %+v", got, tt.want)
			}
		})
	}
}

// summarise reduces an RST to the comparable want shape.
func summarise(r *RST) want {
	w := want{
		version: r.Version, context: r.Context, requestType: r.RequestType, requestURI: r.RequestTypeURI,
		tokenType: r.TokenType, tokenKind: r.TokenKind, appliesTo: r.AppliesTo,
		keyType: r.KeyType, keyTypeURI: r.KeyTypeURI, keySize: r.KeySize, computedKey: r.ComputedKeyAlgorithm,
		useKey: firstChild(r.UseKey), onBehalfOf: firstChild(r.OnBehalfOf),
		validate: firstChild(r.ValidateTarget), cancel: firstChild(r.CancelTarget),
		secondary: r.SecondaryParameters != nil,
	}
	if r.Entropy != nil {
		w.entropyB64 = base64.StdEncoding.EncodeToString(r.Entropy.BinarySecret)
		w.entropyType = r.Entropy.Type
	}
	if r.Claims != nil {
		w.claimDialect = r.Claims.Dialect
	}
	return w
}

// firstChild returns the local name of e's first child element, "" for nil.
func firstChild(e *etree.Element) string {
	if e == nil {
		return ""
	}
	if kids := e.ChildElements(); len(kids) > 0 {
		return kids[0].Tag
	}
	return "(empty)"
}

// TestParseRSTCorpusClaimsKept checks that an unknown claims dialect arrives
// intact for policy to read.
func TestParseRSTCorpusClaimsKept(t *testing.T) {
	env, err := soap.Parse(testtools.ReadCorpus(t, "ehealthsuisse-rst13-soap12-saml2-bearer-claims-projectathon.xml"), "", soap.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	rst, err := ParseRST(env.Body)
	if err != nil {
		t.Fatal(err)
	}
	attrs := rst.Claims.Element.ChildElements()
	if len(attrs) != 3 || !strings.HasSuffix(attrs[2].SelectAttrValue("Name", ""), "subject:role") {
		t.Errorf("claims hold %d elements", len(attrs))
	}
}
