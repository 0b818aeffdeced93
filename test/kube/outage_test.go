package kube

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
	"github.com/trustbroker/trustbroker/internal/testtools/apiserver"
)

// TestSTSStartsWhileTheAPIServerIsAway: an STS pod that starts while the
// API server refuses connections says why it is not ready, retries, and
// serves once the API server is back; later outages leave the policy in
// force, and edits made after one are followed again.
func TestSTSStartsWhileTheAPIServerIsAway(t *testing.T) {
	api := apiserver.Start(t)
	ctx := context.Background()
	createSTS(t, api.Client)
	rp := relyingParty("app", "urn:test:app", stsv1alpha1.AttributeMapping{Name: "mail", From: "mail"})
	if err := api.Client.Create(ctx, rp); err != nil {
		t.Fatal(err)
	}
	outage(t, api)

	sts := launchSTS(t, api)
	var reason string
	waitFor(t, "/readyz to say what the STS waits for", func() bool {
		status, body := sts.readyz()
		reason = body
		return status == http.StatusServiceUnavailable && strings.Contains(body, "waiting for the API server: ") &&
			strings.Contains(body, "connection refused")
	})
	t.Logf("/readyz during the outage: %s", strings.TrimSpace(reason))
	// Long enough for several retries, so that the backoff has grown.
	time.Sleep(5 * time.Second)
	if status, body := sts.readyz(); status != http.StatusServiceUnavailable {
		t.Fatalf("ready with the API server away: %d %s", status, body)
	}

	resume(t, api)
	waitWithin(t, 45*time.Second, "the STS to be ready after the API server came back", func() bool {
		status, _ := sts.readyz()
		return status == http.StatusOK
	})
	if status, body := ask(t, sts.url, "urn:test:app"); status != http.StatusOK || !strings.Contains(body, "alice@example.com") {
		t.Fatalf("token after the API server came back: %d\n%s", status, body)
	}

	// An outage once ready: the policy stays in force, the pod ready.
	outage(t, api)
	for end := time.Now().Add(15 * time.Second); time.Now().Before(end); time.Sleep(time.Second) {
		if status, body := ask(t, sts.url, "urn:test:app"); status != http.StatusOK {
			t.Fatalf("token during the outage: %d\n%s", status, body)
		}
		if status, body := sts.readyz(); status != http.StatusOK {
			t.Fatalf("/readyz during the outage: %d %s", status, body)
		}
	}
	resume(t, api)

	// An edit after the outage is followed (the watches came back).
	if err := api.Client.Get(ctx, client.ObjectKeyFromObject(rp), rp); err != nil {
		t.Fatal(err)
	}
	rp.Spec.Attributes = append(rp.Spec.Attributes, stsv1alpha1.AttributeMapping{Name: "department", From: "dept"})
	if err := api.Client.Update(ctx, rp); err != nil {
		t.Fatal(err)
	}
	waitWithin(t, 45*time.Second, "an edit made after the outage in tokens", func() bool {
		_, body := ask(t, sts.url, "urn:test:app")
		return strings.Contains(body, ">eng<")
	})
}

func outage(t *testing.T, api *apiserver.Server) {
	t.Helper()
	if err := api.Outage(); err != nil {
		t.Fatal(err)
	}
}

func resume(t *testing.T, api *apiserver.Server) {
	t.Helper()
	if err := api.Resume(); err != nil {
		t.Fatal(err)
	}
}
