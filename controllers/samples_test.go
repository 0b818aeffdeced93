package controllers

import (
	"context"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
	"github.com/trustbroker/trustbroker/internal/testtools"
)

// TestSamplesApplyWithoutSTSNotFound applies the cluster example as the
// README says, `kubectl apply -k config/samples`: the STS goes in before the
// relying parties and trusted issuer that name it, so none of them is ever
// reported without its STS.
func TestSamplesApplyWithoutSTSNotFound(t *testing.T) {
	needCluster(t)
	ns := newNamespace(t, "samples")
	kubectl(t, "apply", "-n", ns, "-k", filepath.Join(testtools.RepoRoot(t), "config", "samples"))

	rps := []string{"intranet-portal", "orders-api"}
	for _, name := range rps {
		rp := &stsv1alpha1.RelyingParty{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
		waitCondition(t, rp, stsv1alpha1.ConditionAccepted, metav1.ConditionTrue, stsv1alpha1.ConditionAccepted)
		// Events are recorded in order: once Accepted's is there, an
		// earlier STSNotFound would be too.
		waitEvent(t, rp, corev1.EventTypeNormal, stsv1alpha1.ConditionAccepted)
	}
	ti := &stsv1alpha1.TrustedIssuer{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "partner-idp"}}
	waitCondition(t, ti, stsv1alpha1.ConditionAccepted, metav1.ConditionTrue, stsv1alpha1.ConditionAccepted)
	waitEvent(t, ti, corev1.EventTypeNormal, stsv1alpha1.ConditionAccepted)

	var list eventsv1.EventList
	if err := cluster.client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, e := range list.Items {
		if e.Reason == stsv1alpha1.ReasonSTSNotFound {
			t.Errorf("%s %s: %s %s: %s", e.Regarding.Kind, e.Regarding.Name, e.Type, e.Reason, e.Note)
		}
	}
}
