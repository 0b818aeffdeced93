package controllers

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/source"
)

// stsSnapshot builds the policy an STS pod would serve from what the API
// server holds in ns, with the STS's own code (internal/source).
func stsSnapshot(t *testing.T, ns, stsName string) *policy.Snapshot {
	t.Helper()
	ctx := context.Background()
	var sts stsv1alpha1.SecurityTokenService
	if err := cluster.client.Get(ctx, key(ns, stsName), &sts); err != nil {
		t.Fatal(err)
	}
	var rps stsv1alpha1.RelyingPartyList
	var tis stsv1alpha1.TrustedIssuerList
	var secrets corev1.SecretList
	for _, l := range []client.ObjectList{&rps, &tis, &secrets} {
		if err := cluster.client.List(ctx, l, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
	}
	objs := &source.Objects{
		SecurityTokenServices: []*stsv1alpha1.SecurityTokenService{&sts},
		Secrets:               map[types.NamespacedName]*corev1.Secret{},
		ConfigMaps:            map[types.NamespacedName]*corev1.ConfigMap{},
	}
	for i := range rps.Items {
		objs.RelyingParties = append(objs.RelyingParties, &rps.Items[i])
	}
	for i := range tis.Items {
		objs.TrustedIssuers = append(objs.TrustedIssuers, &tis.Items[i])
	}
	for i := range secrets.Items {
		objs.Secrets[key(ns, secrets.Items[i].Name)] = &secrets.Items[i]
	}
	b := &source.Builder{STS: key(ns, stsName)}
	snap, _, err := b.Build(objs, nil)
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// TestDuplicatesSameWinnerAsSTS: two relying parties with one endpoint, and
// two trusted issuers with one issuer name, the older of each named so that
// it sorts second. The operator accepts the older and marks the other
// Accepted=False with reason Conflict, and the STS's own policy build
// serves the same one. Moving or deleting the winner hands the claim over.
func TestDuplicatesSameWinnerAsSTS(t *testing.T) {
	needCluster(t)
	ns := newNamespace(t, "duplicates")
	certPEM, keyPEM, _ := makeCert(t, certSpec{cn: "corp-sts"})
	create(t, tlsSecret(ns, "corp-sts-signing", certPEM, keyPEM))
	create(t, newSTS(ns, "corp-sts", "corp-sts-signing"))
	idpCert, _, _ := makeCert(t, certSpec{cn: "idp"})
	const endpoint, issuer = "https://app.example.com/orders", "https://idp.example.com/"

	olderRP := newRP(ns, "zz-older", "corp-sts", endpoint)
	create(t, olderRP)
	olderTI := newTI(ns, "zz-older-idp", "corp-sts", stsv1alpha1.CertificateSource{PEM: string(idpCert)})
	olderTI.Spec.Issuer = issuer
	create(t, olderTI)
	// Creation timestamps have second resolution: make the order unambiguous.
	time.Sleep(1100 * time.Millisecond)
	newerRP := newRP(ns, "aa-newer", "corp-sts", endpoint)
	create(t, newerRP)
	newerTI := newTI(ns, "aa-newer-idp", "corp-sts", stsv1alpha1.CertificateSource{PEM: string(idpCert)})
	newerTI.Spec.Issuer = issuer
	create(t, newerTI)

	c := waitCondition(t, newerRP, stsv1alpha1.ConditionAccepted, metav1.ConditionFalse, stsv1alpha1.ReasonConflict)
	if !strings.Contains(c.Message, "RelyingParty zz-older already claims endpoint "+endpoint+" (match Exact)") {
		t.Errorf("relying party conflict message %q does not name the winner and the endpoint", c.Message)
	}
	waitCondition(t, newerRP, stsv1alpha1.ConditionReady, metav1.ConditionFalse, stsv1alpha1.ReasonConflict)
	waitCondition(t, olderRP, stsv1alpha1.ConditionAccepted, metav1.ConditionTrue, stsv1alpha1.ConditionAccepted)
	c = waitCondition(t, newerTI, stsv1alpha1.ConditionAccepted, metav1.ConditionFalse, stsv1alpha1.ReasonConflict)
	if !strings.Contains(c.Message, "TrustedIssuer zz-older-idp already claims issuer "+issuer) {
		t.Errorf("trusted issuer conflict message %q does not name the winner and the issuer", c.Message)
	}
	waitEvent(t, newerTI, corev1.EventTypeWarning, stsv1alpha1.ReasonConflict)
	waitCondition(t, olderTI, stsv1alpha1.ConditionAccepted, metav1.ConditionTrue, stsv1alpha1.ConditionAccepted)

	snap := stsSnapshot(t, ns, "corp-sts")
	if rp, ok := snap.RelyingPartyFor(endpoint); !ok || rp.Name != olderRP.Name {
		t.Errorf("the STS serves %s with %v, the operator accepted %s", endpoint, rp, olderRP.Name)
	}
	if ti, ok := snap.TrustedIssuerFor(issuer); !ok || ti.Name != olderTI.Name {
		t.Errorf("the STS trusts %s through %v, the operator accepted %s", issuer, ti, olderTI.Name)
	}
	if len(snap.RelyingParties) != 1 || len(snap.TrustedIssuers) != 1 {
		t.Errorf("the STS holds %d relying parties and %d trusted issuers, want the winners only", len(snap.RelyingParties), len(snap.TrustedIssuers))
	}

	// The winning issuer moves to another name: the other takes over.
	if err := cluster.client.Get(context.Background(), client.ObjectKeyFromObject(olderTI), olderTI); err != nil {
		t.Fatal(err)
	}
	olderTI.Spec.Issuer = "https://other-idp.example.com/"
	if err := cluster.client.Update(context.Background(), olderTI); err != nil {
		t.Fatal(err)
	}
	waitCondition(t, newerTI, stsv1alpha1.ConditionAccepted, metav1.ConditionTrue, stsv1alpha1.ConditionAccepted)
	waitCondition(t, olderTI, stsv1alpha1.ConditionAccepted, metav1.ConditionTrue, stsv1alpha1.ConditionAccepted)
	// The winning relying party is deleted: the other takes over.
	if err := cluster.client.Delete(context.Background(), olderRP); err != nil {
		t.Fatal(err)
	}
	waitCondition(t, newerRP, stsv1alpha1.ConditionAccepted, metav1.ConditionTrue, stsv1alpha1.ConditionAccepted)
	snap = stsSnapshot(t, ns, "corp-sts")
	if rp, ok := snap.RelyingPartyFor(endpoint); !ok || rp.Name != newerRP.Name {
		t.Errorf("after the winner's deletion the STS serves %s with %v, want %s", endpoint, rp, newerRP.Name)
	}
	if ti, ok := snap.TrustedIssuerFor(issuer); !ok || ti.Name != newerTI.Name {
		t.Errorf("after the winner moved the STS trusts %s through %v, want %s", issuer, ti, newerTI.Name)
	}
}
