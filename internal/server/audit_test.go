package server_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/trustbroker/trustbroker/internal/client"
	"github.com/trustbroker/trustbroker/internal/testfixture"
)

// TestMetricsAndAudit sends a known mix of requests, then reads the metrics
// as Prometheus would scrape them and the audit lines as an operator would.
func TestMetricsAndAudit(t *testing.T) {
	sts := testfixture.StartSTS(t, nil)
	var mu sync.Mutex
	var audit []string
	sts.Server.Audit = funcr.NewJSON(func(obj string) {
		mu.Lock()
		defer mu.Unlock()
		audit = append(audit, obj)
	}, funcr.Options{})

	send := func(r client.Request) {
		r.Endpoint, r.Now = sts.URL, time.Now()
		if _, _, err := r.Do(http.DefaultClient); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		send(client.Request{Username: "alice", Password: "alice-password", AppliesTo: echoService})
	}
	send(client.Request{Username: "alice", Password: "alice-password", AppliesTo: "urn:example:portal"})
	send(client.Request{Username: "alice", Password: "s3cret-wrong", AppliesTo: echoService})
	send(client.Request{Username: "alice", Password: "alice-password", AppliesTo: "urn:nowhere"})

	expected := `
# HELP trustbroker_tokens_issued_total Tokens issued, by relying party, token type and key type.
# TYPE trustbroker_tokens_issued_total counter
trustbroker_tokens_issued_total{key_type="Bearer",relying_party="default/echo-service",token_type="SAML20"} 3
trustbroker_tokens_issued_total{key_type="Bearer",relying_party="default/portal",token_type="SAML11"} 1
# HELP trustbroker_requests_failed_total Requests answered with a fault, by fault code.
# TYPE trustbroker_requests_failed_total counter
trustbroker_requests_failed_total{fault="FailedAuthentication"} 1
trustbroker_requests_failed_total{fault="InvalidRequest"} 1
# HELP trustbroker_policy_generation Generation of the policy in force; it increases with every reload.
# TYPE trustbroker_policy_generation gauge
trustbroker_policy_generation 1
`
	if err := testutil.GatherAndCompare(sts.Registry, strings.NewReader(expected),
		"trustbroker_tokens_issued_total", "trustbroker_requests_failed_total", "trustbroker_policy_generation"); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndCount(sts.Registry, "trustbroker_request_duration_seconds"); err != nil || n != 2 {
		t.Errorf("%d latency series, want 2 (Issue ok, Issue fault)", n)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(audit) != 6 {
		t.Fatalf("%d audit lines, want one per request:\n%s", len(audit), strings.Join(audit, "\n"))
	}
	all := strings.Join(audit, "\n")
	for _, secret := range []string{"alice-password", "s3cret-wrong"} {
		if strings.Contains(all, secret) {
			t.Fatalf("a password is in the audit log:\n%s", all)
		}
	}
	for i, want := range []string{`"outcome":"ok"`, `"tokenID":"_`, `"relyingParty":"default/echo-service"`, `"user":"alice"`} {
		if !strings.Contains(audit[0], want) {
			t.Errorf("audit line %d lacks %s: %s", i, want, audit[0])
		}
	}
	if !strings.Contains(audit[4], `"fault":"FailedAuthentication"`) || !strings.Contains(audit[4], `"outcome":"refused"`) {
		t.Errorf("the wrong password's audit line: %s", audit[4])
	}
}
