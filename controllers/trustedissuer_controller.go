package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
)

// TrustedIssuerReconciler keeps a TrustedIssuer's status telling its owner
// whether its tokens are accepted: Accepted (its STS exists and no trusted
// issuer that takes precedence claims its issuer name),
// CertificateValid (every certificate is current and usable) and Ready (both).
type TrustedIssuerReconciler struct {
	client.Client
	// Recorder records an event whenever a condition changes.
	Recorder events.EventRecorder
	// APIReader reads from the API server, bypassing the cache.
	APIReader client.Reader
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Reconcile brings one TrustedIssuer's status up to date.
func (r *TrustedIssuerReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var ti stsv1alpha1.TrustedIssuer
	if err := r.Get(ctx, req.NamespacedName, &ti); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	now := clockOrNow(r.Now)
	before := ti.Status.DeepCopy()
	conds := &conditions{obj: &ti, now: now}

	stsName := ti.Spec.STSRef.Name
	accepted, err := r.accepted(ctx, &ti)
	if err != nil {
		return ctrl.Result{}, err
	}
	conds.set(stsv1alpha1.ConditionAccepted, accepted.OK, accepted.Reason, accepted.Message)

	cert, err := r.certificates(ctx, &ti, now)
	if err != nil {
		return ctrl.Result{}, err
	}
	conds.set(stsv1alpha1.ConditionCertificateValid, cert.OK, cert.Reason, cert.Message)

	ready := readyVerdict(fmt.Sprintf("tokens issued by %s are accepted by SecurityTokenService %s", ti.Spec.Issuer, stsName), accepted, cert)
	conds.set(stsv1alpha1.ConditionReady, ready.OK, ready.Reason, ready.Message)
	ti.Status.ObservedGeneration = ti.Generation

	if !equality.Semantic.DeepEqual(before, &ti.Status) {
		if err := r.Status().Update(ctx, &ti); err != nil {
			return retryOnConflict(err)
		}
		conds.record(r.Recorder)
	}
	return requeueAt(cert.Recheck, now), nil
}

// accepted decides the Accepted condition: the STS must exist, and no
// trusted issuer of the same STS that takes precedence
// (policy.ResolveClaims) may claim the same issuer name.
func (r *TrustedIssuerReconciler) accepted(ctx context.Context, ti *stsv1alpha1.TrustedIssuer) (verdict, error) {
	stsName := ti.Spec.STSRef.Name
	ok, err := stsExists(ctx, r.Client, r.APIReader, ti.Namespace, stsName)
	if err != nil || !ok {
		return stsNotFound(ti.Namespace, stsName), err
	}
	var list stsv1alpha1.TrustedIssuerList
	if err := r.List(ctx, &list, client.InNamespace(ti.Namespace), client.MatchingFields{indexIssuer: issuerKey(ti)}); err != nil {
		return verdict{}, fmt.Errorf("listing trusted issuers of %s: %w", stsName, err)
	}
	others := make([]*stsv1alpha1.TrustedIssuer, len(list.Items))
	for i := range list.Items {
		others[i] = &list.Items[i]
	}
	if winner := claimHolder(ti, others); winner.Name != ti.Name {
		return verdict{
			Reason: stsv1alpha1.ReasonConflict,
			Message: fmt.Sprintf("TrustedIssuer %s already claims issuer %s of SecurityTokenService %s and takes precedence (%s): change spec.issuer or delete one of the two",
				winner.Name, ti.Spec.Issuer, stsName, precedenceNote),
		}, nil
	}
	return verdict{OK: true, Reason: stsv1alpha1.ConditionAccepted, Message: fmt.Sprintf("accepted by SecurityTokenService %s", stsName)}, nil
}

// certificates decides the CertificateValid condition and fills
// status.certificates: the certificates that verify the issuer's SAML
// tokens, then those of its webhook's CA bundle. An issuer with neither (a
// webhook trusting the system's roots) has nothing to check.
func (r *TrustedIssuerReconciler) certificates(ctx context.Context, ti *stsv1alpha1.TrustedIssuer, now time.Time) (verdict, error) {
	ti.Status.Certificates = nil
	type source struct {
		src   *stsv1alpha1.CertificateSource
		field string
	}
	var sources []source
	if ti.Spec.Certificates != nil {
		sources = append(sources, source{ti.Spec.Certificates, "spec.certificates"})
	}
	if w := ti.Spec.Webhook; w != nil && w.CABundle != nil {
		sources = append(sources, source{w.CABundle, "spec.webhook.caBundle"})
	}
	if len(sources) == 0 {
		return verdict{OK: true, Reason: ReasonValid, Message: "no certificates to check: the webhook's serving certificate is verified against the system's roots"}, nil
	}
	var all verdict
	for i, s := range sources {
		certs, err := readCertificates(ctx, r.Client, ti.Namespace, s.src, s.field)
		if err != nil {
			ti.Status.Certificates = nil
			v, err := sourceVerdict(err)
			if !v.OK && v.Message != "" {
				// As the STS's log says: it does not keep trusting the
				// certificates it read before.
				v.Message += "; until then the STS refuses every token from this issuer"
			}
			return v, err
		}
		for _, c := range certs {
			ti.Status.Certificates = append(ti.Status.Certificates, certificateInfo(c))
		}
		v := checkVerificationCertificates(certs, now, certificateSourceFix(s.src, s.field))
		if s.field != "spec.certificates" {
			v.Message = s.field + ": " + v.Message
		}
		if !v.OK {
			ti.Status.Certificates = nil
			return v, nil
		}
		all = mergeValid(all, v, i == 0)
	}
	return all, nil
}

// mergeValid combines two passing verdicts: ExpiringSoon wins over Valid,
// the messages are joined and the earlier recheck is kept.
func mergeValid(acc, v verdict, first bool) verdict {
	if first {
		return v
	}
	out := acc
	if v.Reason != ReasonValid {
		out.Reason = v.Reason
	}
	out.Message = acc.Message + "; " + v.Message
	if out.Recheck.IsZero() || (!v.Recheck.IsZero() && v.Recheck.Before(out.Recheck)) {
		out.Recheck = v.Recheck
	}
	return out
}

// SetupWithManager registers the reconciler; RegisterIndexes must have run.
func (r *TrustedIssuerReconciler) SetupWithManager(mgr ctrl.Manager) error {
	c := mgr.GetClient()
	tiList := func() client.ObjectList { return &stsv1alpha1.TrustedIssuerList{} }
	return ctrl.NewControllerManagedBy(mgr).
		Named("trustedissuer").
		For(&stsv1alpha1.TrustedIssuer{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&stsv1alpha1.SecurityTokenService{},
			handler.EnqueueRequestsFromMapFunc(byIndex(c, tiList, indexSTSRef, ownName)),
			builder.WithPredicates(existenceChanged)).
		// Another issuer taking or leaving its name changes the conflict.
		Watches(&stsv1alpha1.TrustedIssuer{},
			claimants(c, tiList, indexIssuer, func(o client.Object) string {
				return issuerKey(o.(*stsv1alpha1.TrustedIssuer))
			}),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		// Metadata only: the certificates are read from the API server.
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(byIndex(c, tiList, indexSecrets, ownName)), builder.OnlyMetadata).
		Watches(&corev1.ConfigMap{}, handler.EnqueueRequestsFromMapFunc(byIndex(c, tiList, indexConfigMaps, ownName)), builder.OnlyMetadata).
		Complete(r)
}
