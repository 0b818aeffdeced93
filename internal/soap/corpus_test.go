package soap

import (
	"testing"

	"github.com/trustbroker/trustbroker/internal/testtools"
)

// TestParseCorpusEnvelopes reads every complete envelope of the interop
// corpus, requests and responses, with the content type its binding uses.
func TestParseCorpusEnvelopes(t *testing.T) {
	const (
		rst13    = "http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Issue"
		rst2005  = "http://schemas.xmlsoap.org/ws/2005/02/trust/RST/Issue"
		trust13  = "http://docs.oasis-open.org/ws-sx/ws-trust/200512"
		trust05  = "http://schemas.xmlsoap.org/ws/2005/02/trust"
		soap12ct = "application/soap+xml; charset=utf-8"
	)
	tests := []struct {
		file        string
		contentType string
		version     Version
		addressing  Addressing
		bodyNS      string
		bodyLocal   string
		hasSecurity bool
	}{
		{"adalnode-rst13-usernamemixed-template.xml", soap12ct, V12,
			Addressing{Namespace: NamespaceWSA10, Action: rst13, ReplyTo: AnonymousWSA10, To: "%WSTRUST_ENDPOINT%"},
			trust13, "RequestSecurityToken", true},
		{"adalnode-rst2005-usernamemixed-template.xml", soap12ct, V12,
			Addressing{Namespace: NamespaceWSA10, Action: rst2005, ReplyTo: AnonymousWSA10, To: "%WSTRUST_ENDPOINT%"},
			trust05, "RequestSecurityToken", true},
		{"msalnet-rst13-usernamemixed.xml", soap12ct, V12,
			Addressing{Namespace: NamespaceWSA10, Action: rst13, MessageID: "urn:uuid:b052e0d8-349c-4d73-9ddb-0782043a440e",
				ReplyTo: AnonymousWSA10, To: "https://windowsorusernamepasswordendpointurl/"},
			trust13, "RequestSecurityToken", true},
		{"msalnet-rst2005-windowstransport.xml", soap12ct, V12,
			Addressing{Namespace: NamespaceWSA10, Action: rst2005, MessageID: "urn:uuid:b052e0d8-349c-4d73-9ddb-0782043a440e",
				ReplyTo: AnonymousWSA10, To: "https://windowsorusernamepasswordendpointurl/"},
			trust05, "RequestSecurityToken", false},
		{"ehealthsuisse-rst13-soap12-saml2-bearer-claims-projectathon.xml", soap12ct, V12,
			Addressing{Namespace: NamespaceWSA10, Action: rst13, MessageID: "urn:uuid:005300f3-c686-4960-8ae8-f8c1720eda41"},
			trust13, "RequestSecurityToken", true},
		{"ehealthsuisse-rst13-soap12-whitespace-values-assistant.xml", soap12ct, V12,
			Addressing{Namespace: NamespaceWSA10, Action: rst13, MessageID: "urn:uuid:d888b36e-625f-4e25-a166-b27815be357f"},
			trust13, "RequestSecurityToken", true},
		{"cxf-fuse441-rst13-soap11-symmetric-entropy-psha1.xml", "text/xml; charset=UTF-8", V11,
			Addressing{}, trust13, "RequestSecurityToken", false},
		{"adfs-rstrc13-saml11-bearer-richardrandall.xml", soap12ct, V12,
			Addressing{Namespace: NamespaceWSA10, Action: "http://docs.oasis-open.org/ws-sx/ws-trust/200512/RSTRC/IssueFinal"},
			trust13, "RequestSecurityTokenResponseCollection", true},
		{"adfs-rstrc13-saml11-bearer-naturalcauses.xml", soap12ct, V12,
			Addressing{Namespace: NamespaceWSA10, Action: "http://docs.oasis-open.org/ws-sx/ws-trust/200512/RSTRC/IssueFinal"},
			trust13, "RequestSecurityTokenResponseCollection", true},
		{"adfs-rstr2005-saml11-bearer-usystech.xml", soap12ct, V12,
			Addressing{Namespace: NamespaceWSA10, Action: "http://schemas.xmlsoap.org/ws/2005/02/trust/RSTR/Issue"},
			trust05, "RequestSecurityTokenResponse", true},
		{"adfs-soap12-fault-failedauthentication.xml", soap12ct, V12,
			Addressing{Namespace: NamespaceWSA10, Action: FaultActionWSA10},
			NamespaceSOAP12, "Fault", true},
		{"ehealthsuisse-rstrc13-soap12-saml2-icoserve-projectathon.xml", soap12ct, V12,
			Addressing{Namespace: NamespaceWSA10, Action: "http://docs.oasis-open.org/ws-sx/ws-trust/200512/RSTRC/IssueFinal"},
			trust13, "RequestSecurityTokenResponseCollection", false},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			env, err := Parse(testtools.ReadCorpus(t, tt.file), tt.contentType, Limits{})
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if env.Version != tt.version {
				t.Errorf("version = %v, want %v", env.Version, tt.version)
			}
			if got := env.Addressing; got != tt.addressing {
				t.Errorf("Addressing = %+v\nwant %+v", got, tt.addressing)
			}
			if !IsElement(env.Body, tt.bodyNS, tt.bodyLocal) {
				t.Errorf("body = {%s}%s, want {%s}%s", env.Body.NamespaceURI(), env.Body.Tag, tt.bodyNS, tt.bodyLocal)
			}
			if sec := env.Block(NamespaceSecext, "Security"); (sec != nil) != tt.hasSecurity {
				t.Errorf("Security header present = %v, want %v", sec != nil, tt.hasSecurity)
			}
		})
	}
}
