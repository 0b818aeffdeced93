package server_test

import (
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"sigs.k8s.io/yaml"

	"github.com/trustbroker/trustbroker/internal/client"
	"github.com/trustbroker/trustbroker/internal/devkeys"
	"github.com/trustbroker/trustbroker/internal/testfixture"
	"github.com/trustbroker/trustbroker/internal/testtools"
	"github.com/trustbroker/trustbroker/internal/tokenreview"
)

// Custom token types of these tests: an XML element in a namespace of its
// own, and a JWT in a BinarySecurityToken.
const (
	partnerTokenType = "urn:example:partner-token"
	jwtTokenType     = "urn:ietf:params:oauth:token-type:jwt"
	groupClaim       = "http://partner.example/claims/group"
	// unhandledTokenType is allowed, but no trusted issuer validates it.
	unhandledTokenType = "urn:example:unhandled-token"
)

// partnerToken is a custom token naming who; what the partner's webhook
// does with it depends on the name.
func partnerToken(who string) string {
	return fmt.Sprintf(`<pt:PartnerToken xmlns:pt="%s" Subject="%s">opaque</pt:PartnerToken>`, partnerTokenType, who)
}

// jwtToken is a BinarySecurityToken of the JWT type carrying who.
func jwtToken(who string) string {
	return fmt.Sprintf(`<wsse:BinarySecurityToken xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" ValueType="%s" EncodingType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary">%s</wsse:BinarySecurityToken>`,
		jwtTokenType, base64.StdEncoding.EncodeToString([]byte(who)))
}

// partnerWebhook reviews both token types as a partner would: erin is
// valid, mallory is not, slow never answers in time and broken makes the
// webhook fail.
func partnerWebhook(t *testing.T) *httptest.Server {
	t.Helper()
	done := make(chan struct{})
	hook := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req tokenreview.Request
		err := json.NewDecoder(r.Body).Decode(&req)
		// Reading the body to its end lets the server notice a client
		// that gives up waiting.
		_, _ = io.Copy(io.Discard, r.Body)
		if r.URL.Path != "/review" || err != nil || req.APIVersion != tokenreview.APIVersion || req.Kind != tokenreview.Kind {
			http.Error(w, "not a TokenReview", http.StatusBadRequest)
			return
		}
		doc := etree.NewDocument()
		if doc.ReadFromBytes(req.Token) != nil || doc.Root() == nil {
			http.Error(w, "not XML", http.StatusBadRequest)
			return
		}
		who := doc.Root().SelectAttrValue("Subject", "")
		if req.TokenType == jwtTokenType {
			raw, _ := base64.StdEncoding.DecodeString(doc.Root().Text())
			who = string(raw)
		}
		answer := tokenreview.Response{APIVersion: tokenreview.APIVersion, Kind: tokenreview.Kind}
		switch who {
		case "erin":
			expires := time.Now().Add(time.Hour)
			answer.Authenticated, answer.Subject, answer.Expires = true, "erin@partner.example", &expires
			answer.Attributes = map[string][]string{groupClaim: {"finance", "audit"}, "mail": {"erin@partner.example"}}
		case "slow":
			select {
			case <-r.Context().Done():
			case <-done:
			}
			return
		case "broken":
			http.Error(w, "database down", http.StatusInternalServerError)
			return
		default:
			answer.Reason = "unknown subject " + who
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(answer)
	}))
	t.Cleanup(func() { close(done); hook.Close() })
	return hook
}

// webhookManifests is the sample STS translating the two custom types for
// alice, with a trusted issuer whose webhook at url validates them and
// whose caBundle holds caPEM.
func webhookManifests(t *testing.T, url string, caPEM []byte) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(testtools.RepoRoot(t), "config", "samples", "standalone", "sts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var sts map[string]any
	if err := yaml.Unmarshal(raw, &sts); err != nil {
		t.Fatal(err)
	}
	sts["spec"].(map[string]any)["onBehalfOf"] = map[string]any{
		"allowedTokenTypes": []string{"SAML20", partnerTokenType, jwtTokenType, unhandledTokenType},
		"allowedRequestors": map[string]any{"users": []string{"alice"}},
	}
	out, err := yaml.Marshal(sts)
	if err != nil {
		t.Fatal(err)
	}
	pemText := "        " + strings.ReplaceAll(strings.TrimSpace(string(caPEM)), "\n", "\n        ")
	return map[string]string{
		"sts.yaml": string(out),
		"partner-tokens.yaml": fmt.Sprintf(`apiVersion: sts.trustbroker.io/v1alpha1
kind: TrustedIssuer
metadata: {name: partner-tokens}
spec:
  stsRef: {name: dev-sts}
  issuer: urn:example:partner
  tokenTypes: [%q, %q]
  webhook:
    url: %s/review
    timeout: 1s
    caBundle:
      pem: |
%s
`, partnerTokenType, jwtTokenType, url, pemText),
	}
}

func certPEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// TestWebhookTokenTypes: a custom token presented OnBehalfOf is validated
// by the TrustedIssuer's webhook, and the issued token carries the subject
// and attributes it answered with. A token the webhook refuses, a webhook
// that times out, fails, or serves a certificate outside caBundle: the
// token is refused.
func TestWebhookTokenTypes(t *testing.T) {
	hook := partnerWebhook(t)
	sts := testfixture.StartSTS(t, webhookManifests(t, hook.URL, certPEM(hook.Certificate().Raw)))
	alice := client.Request{Username: "alice", Password: "alice-password", AppliesTo: echoService}

	for name, token := range map[string]string{"element": partnerToken("erin"), "BinarySecurityToken": jwtToken("erin")} {
		t.Run("valid "+name, func(t *testing.T) {
			r := alice
			r.OnBehalfOf = token
			a := parseToken(t, issue(t, sts, r))
			if a.Subject.NameID != "erin@partner.example" {
				t.Errorf("subject %q, want the webhook's erin@partner.example", a.Subject.NameID)
			}
			if got := claims(a)[groupClaim]; !slices.Equal(got, []string{"audit", "finance"}) && !slices.Equal(got, []string{"finance", "audit"}) {
				t.Errorf("claims %v, want the webhook's groups", claims(a))
			}
		})
	}

	refused := func(t *testing.T, sts *testfixture.STS, token, ns, code, reason string) {
		t.Helper()
		r := alice
		r.Endpoint, r.OnBehalfOf, r.Now = sts.URL, token, time.Now()
		status, body, err := r.Do(http.DefaultClient)
		if err != nil {
			t.Fatal(err)
		}
		expectFault(t, status, body, "1.2", ns, code, reason)
		if strings.Contains(string(body), "erin") || strings.Contains(string(body), "database") {
			t.Errorf("the fault quotes the token or the webhook's answer:\n%s", body)
		}
	}
	t.Run("the webhook says no", func(t *testing.T) {
		refused(t, sts, partnerToken("mallory"), nsSecExt, "InvalidSecurityToken", "The OnBehalfOf token is not valid.")
	})
	t.Run("the webhook times out", func(t *testing.T) {
		start := time.Now()
		refused(t, sts, partnerToken("slow"), nsTrust13, "RequestFailed", "cannot be checked at the moment")
		if took := time.Since(start); took > 10*time.Second {
			t.Errorf("the refusal took %v; the webhook's timeout is 1s", took)
		}
	})
	t.Run("the webhook answers 500", func(t *testing.T) {
		refused(t, sts, partnerToken("broken"), nsTrust13, "RequestFailed", "cannot be checked at the moment")
	})
	t.Run("a type not allowed", func(t *testing.T) {
		other := `<x:Other xmlns:x="urn:example:other-token">erin</x:Other>`
		refused(t, sts, other, nsTrust13, "InvalidRequest", "is of a kind this STS does not accept")
	})
	t.Run("an allowed type nothing validates", func(t *testing.T) {
		unhandled := `<x:Token xmlns:x="` + unhandledTokenType + `">erin</x:Token>`
		refused(t, sts, unhandled, nsTrust13, "RequestFailed", "is of type "+unhandledTokenType+", which no trusted issuer of this STS validates")
	})
	t.Run("the webhook's certificate is not in caBundle", func(t *testing.T) {
		stranger, err := devkeys.NewRSA("another-ca", time.Now(), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		untrusting := testfixture.StartSTS(t, webhookManifests(t, hook.URL, stranger.CertPEM))
		refused(t, untrusting, partnerToken("erin"), nsTrust13, "RequestFailed", "cannot be checked at the moment")
	})
}
