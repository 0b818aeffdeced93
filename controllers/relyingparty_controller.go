package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
	"github.com/trustbroker/trustbroker/internal/policy"
)

// RelyingPartyReconciler keeps a RelyingParty's status telling its owner
// whether it is in effect: Accepted (its STS exists and no relying party
// that takes precedence claims its endpoint), CertificateValid (the encryption certificate is
// usable) and Ready (both).
type RelyingPartyReconciler struct {
	client.Client
	// Recorder records an event whenever a condition changes.
	Recorder events.EventRecorder
	// APIReader reads from the API server, bypassing the cache.
	APIReader client.Reader
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Reconcile brings one RelyingParty's status up to date.
func (r *RelyingPartyReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var rp stsv1alpha1.RelyingParty
	if err := r.Get(ctx, req.NamespacedName, &rp); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	now := clockOrNow(r.Now)
	before := rp.Status.DeepCopy()
	conds := &conditions{obj: &rp, now: now}

	accepted, err := r.accepted(ctx, &rp)
	if err != nil {
		return ctrl.Result{}, err
	}
	conds.set(stsv1alpha1.ConditionAccepted, accepted.OK, accepted.Reason, accepted.Message)

	cert, err := r.certificate(ctx, &rp, now)
	if err != nil {
		return ctrl.Result{}, err
	}
	conds.set(stsv1alpha1.ConditionCertificateValid, cert.OK, cert.Reason, cert.Message)

	wsfed := wsFederationVerdict(rp.Spec.WSFederation)
	conds.set(stsv1alpha1.ConditionWSFederation, wsfed.OK, wsfed.Reason, wsfed.Message)

	ready := readyVerdict(fmt.Sprintf("tokens for %s are issued by SecurityTokenService %s", strings.TrimSpace(rp.Spec.Endpoint), rp.Spec.STSRef.Name), accepted, cert)
	conds.set(stsv1alpha1.ConditionReady, ready.OK, ready.Reason, ready.Message)
	rp.Status.ObservedGeneration = rp.Generation

	if !equality.Semantic.DeepEqual(before, &rp.Status) {
		if err := r.Status().Update(ctx, &rp); err != nil {
			return retryOnConflict(err)
		}
		conds.record(r.Recorder)
	}
	return requeueAt(cert.Recheck, now), nil
}

// accepted decides the Accepted condition: the STS must exist, and no
// relying party of the same STS that takes precedence (policy.ResolveClaims)
// may claim the same endpoint and match.
func (r *RelyingPartyReconciler) accepted(ctx context.Context, rp *stsv1alpha1.RelyingParty) (verdict, error) {
	stsName := rp.Spec.STSRef.Name
	ok, err := stsExists(ctx, r.Client, r.APIReader, rp.Namespace, stsName)
	if err != nil || !ok {
		return stsNotFound(rp.Namespace, stsName), err
	}
	var list stsv1alpha1.RelyingPartyList
	if err := r.List(ctx, &list, client.InNamespace(rp.Namespace), client.MatchingFields{indexEndpoint: endpointKey(rp)}); err != nil {
		return verdict{}, fmt.Errorf("listing relying parties of %s: %w", stsName, err)
	}
	others := make([]*stsv1alpha1.RelyingParty, len(list.Items))
	for i := range list.Items {
		others[i] = &list.Items[i]
	}
	if winner := claimHolder(rp, others); winner.Name != rp.Name {
		match := rp.Spec.Match
		if match == "" {
			match = stsv1alpha1.MatchExact
		}
		return verdict{
			Reason: stsv1alpha1.ReasonConflict,
			Message: fmt.Sprintf("RelyingParty %s already claims endpoint %s (match %s) of SecurityTokenService %s and takes precedence (%s): change spec.endpoint or delete one of the two",
				winner.Name, strings.TrimSpace(rp.Spec.Endpoint), match, stsName, precedenceNote),
		}, nil
	}
	return verdict{OK: true, Reason: stsv1alpha1.ConditionAccepted, Message: fmt.Sprintf("accepted by SecurityTokenService %s", stsName)}, nil
}

// certificate decides the CertificateValid condition and fills
// status.certificate.
func (r *RelyingPartyReconciler) certificate(ctx context.Context, rp *stsv1alpha1.RelyingParty, now time.Time) (verdict, error) {
	enc := rp.Spec.Encryption
	// A certificate set with encryption off still encrypts proof keys, and
	// the STS reads it all the same: it is checked as the STS checks it.
	if enc == nil || (!enc.Enabled && enc.Certificate == nil) {
		rp.Status.Certificate, rp.Status.CertificateSourceVersion = nil, ""
		return verdict{OK: true, Reason: stsv1alpha1.ReasonNotRequired, Message: "encryption is off: tokens for this relying party are not encrypted"}, nil
	}
	const field = "spec.encryption.certificate"
	version, err := sourceVersion(ctx, r.Client, rp.Namespace, enc.Certificate)
	if err != nil {
		return verdict{}, err
	}
	rp.Status.CertificateSourceVersion = version
	certs, err := readCertificates(ctx, r.Client, rp.Namespace, enc.Certificate, field)
	if err != nil {
		rp.Status.Certificate = nil
		v, err := sourceVerdict(err)
		return notServed(v), err
	}
	info := certificateInfo(certs[0])
	rp.Status.Certificate = &info
	v := checkEncryptionCertificate(certs[0], now, certificateSourceFix(enc.Certificate, field))
	if v.Reason == stsv1alpha1.ReasonCertificateInvalid {
		v = notServed(v)
	}
	return v, nil
}

// wsFederationVerdict decides the WSFederation condition with the check
// the STS makes (policy.CheckReplyURL): every reply URL must be usable, or
// the STS refuses passive sign-in for the relying party.
func wsFederationVerdict(spec *stsv1alpha1.WSFederationSpec) verdict {
	if spec == nil {
		return verdict{OK: true, Reason: stsv1alpha1.ReasonNotRequired, Message: "spec.wsFederation is not set: browsers cannot sign in to this relying party passively"}
	}
	for i, u := range spec.ReplyURLs {
		err := policy.CheckReplyURL(u)
		if err == nil {
			continue
		}
		reason, fix := stsv1alpha1.ReasonInvalidReplyURL, "give an absolute https URL without a fragment"
		if errors.Is(err, policy.ErrInsecureReplyURL) {
			reason, fix = stsv1alpha1.ReasonInsecureReplyURL, "serve the application over https and list its https address"
		}
		return verdict{Reason: reason, Message: fmt.Sprintf("spec.wsFederation.replyURLs[%d]: %v: %s; until then the STS refuses passive sign-in for this relying party (its WS-Trust requests are served)", i, err, fix)}
	}
	return verdict{OK: true, Reason: stsv1alpha1.ReasonConfigured, Message: fmt.Sprintf("passive sign-in at /adfs/ls/ returns to %d registered reply URL(s)", len(spec.ReplyURLs))}
}

// notServed adds to a False verdict what the STS does meanwhile, as its log
// says too: a relying party whose certificate cannot be read or used is left
// out, not served with the certificate it had before.
func notServed(v verdict) verdict {
	if !v.OK && v.Message != "" {
		v.Message += "; until then the STS does not serve this relying party: requests for its endpoint get a fault"
	}
	return v
}

// SetupWithManager registers the reconciler; RegisterIndexes must have run.
func (r *RelyingPartyReconciler) SetupWithManager(mgr ctrl.Manager) error {
	c := mgr.GetClient()
	rpList := func() client.ObjectList { return &stsv1alpha1.RelyingPartyList{} }
	return ctrl.NewControllerManagedBy(mgr).
		Named("relyingparty").
		For(&stsv1alpha1.RelyingParty{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		// Its STS appearing or disappearing changes Accepted.
		Watches(&stsv1alpha1.SecurityTokenService{},
			handler.EnqueueRequestsFromMapFunc(byIndex(c, rpList, indexSTSRef, ownName)),
			builder.WithPredicates(existenceChanged)).
		// Another party taking or leaving its endpoint changes the conflict.
		Watches(&stsv1alpha1.RelyingParty{},
			claimants(c, rpList, indexEndpoint, func(o client.Object) string {
				return endpointKey(o.(*stsv1alpha1.RelyingParty))
			}),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		// Metadata only: the certificate is read from the API server.
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(byIndex(c, rpList, indexSecrets, ownName)), builder.OnlyMetadata).
		Watches(&corev1.ConfigMap{}, handler.EnqueueRequestsFromMapFunc(byIndex(c, rpList, indexConfigMaps, ownName)), builder.OnlyMetadata).
		Complete(r)
}

// stsExists reports whether the SecurityTokenService exists and is not being
// deleted. The cache may not yet hold an STS created just before the
// resource that names it (`kubectl apply` of both), so a miss is confirmed
// with the API server before STSNotFound is reported.
func stsExists(ctx context.Context, cached, api client.Reader, ns, name string) (bool, error) {
	var sts stsv1alpha1.SecurityTokenService
	key := types.NamespacedName{Namespace: ns, Name: name}
	err := cached.Get(ctx, key, &sts)
	if apierrors.IsNotFound(err) {
		err = api.Get(ctx, key, &sts)
	}
	switch {
	case apierrors.IsNotFound(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("reading SecurityTokenService %s/%s: %w", ns, name, err)
	}
	return sts.DeletionTimestamp.IsZero(), nil
}

// stsNotFound is the Accepted verdict for a missing STS.
func stsNotFound(ns, name string) verdict {
	return verdict{
		Reason:  stsv1alpha1.ReasonSTSNotFound,
		Message: fmt.Sprintf("SecurityTokenService %s not found in namespace %s: create it or fix spec.stsRef.name (this clears by itself once it exists)", name, ns),
	}
}

// sourceVerdict turns a certificate reading error into a False verdict, or
// passes on an API error to be retried.
func sourceVerdict(err error) (verdict, error) {
	var se *sourceError
	if errors.As(err, &se) {
		return verdict{Reason: se.Reason, Message: se.Message}, nil
	}
	return verdict{}, err
}

// readyVerdict is True with okMessage when every part is; otherwise it
// repeats the first failing part's reason and message, so Ready alone tells
// the owner what to fix.
func readyVerdict(okMessage string, parts ...verdict) verdict {
	for _, p := range parts {
		if !p.OK {
			return verdict{Reason: p.Reason, Message: p.Message}
		}
	}
	return verdict{OK: true, Reason: stsv1alpha1.ConditionReady, Message: okMessage}
}

// retryOnConflict requeues quietly after a write lost a race with another
// writer; other errors are returned to be logged and retried with backoff.
func retryOnConflict(err error) (ctrl.Result, error) {
	if apierrors.IsConflict(err) {
		return ctrl.Result{RequeueAfter: 100 * time.Millisecond}, nil
	}
	return ctrl.Result{}, err
}
