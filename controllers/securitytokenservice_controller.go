package controllers

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
	"github.com/trustbroker/trustbroker/internal/source"
)

// FieldOwner is the server-side apply field manager of everything the
// operator renders.
const FieldOwner = client.FieldOwner("trustbroker-operator")

// SecurityTokenService condition reasons, in addition to the shared ones.
const (
	// ReasonPodsReady: at least one STS pod is ready.
	ReasonPodsReady = "PodsReady"
	// ReasonPodsNotReady: no STS pod is ready (yet).
	ReasonPodsNotReady = "PodsNotReady"
	// ReasonScaledToZero: spec.replicas is 0.
	ReasonScaledToZero = "ScaledToZero"
	// ReasonRenderFailed: the API server refused an object the operator rendered.
	ReasonRenderFailed = "RenderFailed"
	// ReasonNoImage: neither spec.image nor the operator's default names an image.
	ReasonNoImage = "NoImage"
)

// SecurityTokenServiceReconciler runs an STS: it keeps a Deployment of STS
// pods, their Service, ServiceAccount, Role, RoleBinding and
// PodDisruptionBudget in shape, and reports SigningKeyValid, Available,
// ReplayDetectionShared, PolicyLoaded and Ready in the status together with
// the signing certificate, replica counts and how many relying parties and
// trusted issuers name the STS.
type SecurityTokenServiceReconciler struct {
	client.Client
	// Recorder records an event whenever a condition changes.
	Recorder events.EventRecorder
	// PodEvents holds the events the STS pods post (newPodEventsCache).
	PodEvents cache.Cache
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// DefaultImage is the STS container image used when spec.image is empty.
	DefaultImage string
	// ImagePullSecrets name the Secrets every STS pod pulls its image with,
	// before those of spec.podTemplate.
	ImagePullSecrets []string
}

// Reconcile brings one SecurityTokenService's objects and status up to date.
func (r *SecurityTokenServiceReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var sts stsv1alpha1.SecurityTokenService
	if err := r.Get(ctx, req.NamespacedName, &sts); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !sts.DeletionTimestamp.IsZero() {
		// Owner references let the garbage collector remove the rest.
		return ctrl.Result{}, nil
	}
	now := clockOrNow(r.Now)
	before := sts.Status.DeepCopy()
	conds := &conditions{obj: &sts, now: now}

	signing, err := r.signingKey(ctx, &sts, now)
	if err != nil {
		return ctrl.Result{}, err
	}
	signing = keepsLastGoodKey(signing)
	conds.set(stsv1alpha1.ConditionSigningKeyValid, signing.OK, signing.Reason, signing.Message)

	rps, tis, err := r.dependents(ctx, &sts)
	if err != nil {
		return ctrl.Result{}, err
	}
	available, err := r.apply(ctx, &sts, rps, tis)
	if err != nil {
		return ctrl.Result{}, err
	}
	conds.set(stsv1alpha1.ConditionAvailable, available.OK, available.Reason, available.Message)
	replay := replayVerdict(&sts)
	conds.set(stsv1alpha1.ConditionReplayDetectionShared, replay.OK, replay.Reason, replay.Message)
	pods, err := podReports(ctx, r.PodEvents, &sts, now)
	if err != nil {
		return ctrl.Result{}, err
	}
	conds.set(stsv1alpha1.ConditionPolicyLoaded, pods.OK, pods.Reason, pods.Message)

	ready := readyVerdict(fmt.Sprintf("the STS serves tokens at %s", endpointURL(&sts)), signing, tokenTypesHandled(&sts, tis), pods, available)
	conds.set(stsv1alpha1.ConditionReady, ready.OK, ready.Reason, ready.Message)

	sts.Status.Endpoint = endpointURL(&sts)
	sts.Status.RelyingParties = int32(len(rps))
	sts.Status.TrustedIssuers = int32(len(tis))
	sts.Status.ObservedGeneration = sts.Generation

	if !equality.Semantic.DeepEqual(before, &sts.Status) {
		if err := r.Status().Update(ctx, &sts); err != nil {
			return retryOnConflict(err)
		}
		conds.record(r.Recorder)
	}
	return requeueAt(earliest(signing.Recheck, pods.Recheck), now), nil
}

// earliest is the earlier of two recheck times, zero meaning none.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// replayVerdict decides ReplayDetectionShared: whether a replay sent to
// any pod is refused, or only one sent to the pod that saw the original.
func replayVerdict(sts *stsv1alpha1.SecurityTokenService) verdict {
	if s := sts.Spec.ReplayDetection.Store; s != nil && s.Redis != nil {
		return verdict{OK: true, Reason: stsv1alpha1.ReasonSharedStore, Message: "every replica keeps replay records in Redis at " + s.Redis.Address}
	}
	n := replicas(sts)
	if n <= 1 {
		return verdict{OK: true, Reason: stsv1alpha1.ReasonSingleReplica, Message: "one replica keeps every replay record"}
	}
	return verdict{Reason: stsv1alpha1.ReasonPerPodStore, Message: fmt.Sprintf("%d replicas each keep replay records in their own memory: a signed request or nonce "+
		"replayed to another pod is accepted there, and cancelled tokens, lockout counts and sign-outs hold on one pod only; "+
		"set spec.replayDetection.store.redis, or spec.replicas: 1", n)}
}

// signingKey decides SigningKeyValid from the signing Secret and fills
// status.signingCertificate.
func (r *SecurityTokenServiceReconciler) signingKey(ctx context.Context, sts *stsv1alpha1.SecurityTokenService, now time.Time) (verdict, error) {
	sts.Status.SigningCertificate = nil
	if sts.Spec.Signing.PKCS11 != nil {
		return r.pkcs11SigningKey(ctx, sts, now)
	}
	ref := sts.Spec.Signing.SecretRef
	if ref == nil {
		return verdict{Reason: ReasonKeyPairInvalid, Message: "spec.signing names no key: give secretRef or pkcs11"}, nil
	}
	var secret corev1.Secret
	if err := r.Get(ctx, types.NamespacedName{Namespace: sts.Namespace, Name: ref.Name}, &secret); err != nil {
		if apierrors.IsNotFound(err) {
			return verdict{
				Reason:  ReasonSecretNotFound,
				Message: fmt.Sprintf("Secret %s not found in namespace %s: create a kubernetes.io/tls Secret with tls.crt and tls.key, or fix spec.signing.secretRef.name", ref.Name, sts.Namespace),
			}, nil
		}
		return verdict{}, fmt.Errorf("reading the signing Secret %s/%s: %w", sts.Namespace, ref.Name, err)
	}
	certKey := ref.Key
	if certKey == "" {
		certKey = corev1.TLSCertKey
	}
	for _, k := range []string{certKey, corev1.TLSPrivateKeyKey} {
		if len(secret.Data[k]) == 0 {
			return verdict{
				Reason:  ReasonKeyPairInvalid,
				Message: fmt.Sprintf("Secret %s has no key %s: the signing Secret needs the certificate chain in %s and the private key in %s", ref.Name, k, certKey, corev1.TLSPrivateKeyKey),
			}, nil
		}
	}
	fix := fmt.Sprintf("put a renewed key pair in Secret %s; the pods pick it up without a restart", ref.Name)
	v, leaf := checkSigningKeyPair(secret.Data[certKey], secret.Data[corev1.TLSPrivateKeyKey], sts.Spec.Signing.SignatureAlgorithm, now, fix)
	if leaf != nil {
		info := certificateInfo(leaf)
		sts.Status.SigningCertificate = &info
	}
	return v, nil
}

// pkcs11SigningKey checks what the operator can see of a key in a PKCS#11
// token: its certificate and the PIN Secret. The token itself is reached
// only from the STS pods, which log a wrong PIN or a missing key and are
// not ready until they can sign.
func (r *SecurityTokenServiceReconciler) pkcs11SigningKey(ctx context.Context, sts *stsv1alpha1.SecurityTokenService, now time.Time) (verdict, error) {
	p := sts.Spec.Signing.PKCS11
	pin := p.PINSecretRef
	pinKey := pin.Key
	if pinKey == "" {
		pinKey = "pin"
	}
	var secret corev1.Secret
	if err := r.Get(ctx, types.NamespacedName{Namespace: sts.Namespace, Name: pin.Name}, &secret); err != nil {
		if apierrors.IsNotFound(err) {
			return verdict{Reason: ReasonSecretNotFound,
				Message: fmt.Sprintf("the PIN Secret %s is not found in namespace %s: create it with the token's user PIN in key %s, or fix spec.signing.pkcs11.pinSecretRef", pin.Name, sts.Namespace, pinKey)}, nil
		}
		return verdict{}, fmt.Errorf("reading the PIN Secret %s/%s: %w", sts.Namespace, pin.Name, err)
	}
	if len(secret.Data[pinKey]) == 0 {
		return verdict{Reason: ReasonKeyPairInvalid, Message: fmt.Sprintf("the PIN Secret %s has no key %s: put the token's user PIN there", pin.Name, pinKey)}, nil
	}
	chain, err := readCertificates(ctx, r.Client, sts.Namespace, sts.Spec.Signing.Certificate, "spec.signing.certificate")
	if err != nil {
		return sourceVerdict(err)
	}
	leaf := chain[0]
	info := certificateInfo(leaf)
	sts.Status.SigningCertificate = &info
	if msg := signingKeyProblem(leaf.PublicKey, sts.Spec.Signing.SignatureAlgorithm); msg != "" {
		return verdict{Reason: ReasonKeyUnsuitable, Message: msg}, nil
	}
	v := checkValidity(leaf, now, "the signing certificate", "put a renewed certificate in spec.signing.certificate (and its key in the token)")
	if v.OK && v.Reason == ReasonValid {
		v.Message = fmt.Sprintf("the signing certificate (subject %q) is valid until %s; its key is in PKCS#11 token %q, which the STS pods open (when they cannot, their events on this SecurityTokenService and their log say why, and they are not ready until they can sign)",
			leaf.Subject.String(), formatTime(leaf.NotAfter), p.TokenLabel)
	}
	return v, nil
}

// keepsLastGoodKey adds to a verdict on an unreadable or unusable signing
// key what the pods do meanwhile, as their log says too: the signing key is
// the one thing they keep in its last good version.
func keepsLastGoodKey(v verdict) verdict {
	switch v.Reason {
	case ReasonSecretNotFound, ReasonKeyPairInvalid, ReasonKeyUnsuitable:
		v.Message += "; until then running STS pods keep signing with the last good key, and a pod that starts cannot serve"
	}
	return v
}

// dependents lists the relying parties and trusted issuers that name the STS.
func (r *SecurityTokenServiceReconciler) dependents(ctx context.Context, sts *stsv1alpha1.SecurityTokenService) ([]stsv1alpha1.RelyingParty, []stsv1alpha1.TrustedIssuer, error) {
	var rps stsv1alpha1.RelyingPartyList
	if err := r.List(ctx, &rps, client.InNamespace(sts.Namespace), client.MatchingFields{indexSTSRef: sts.Name}); err != nil {
		return nil, nil, fmt.Errorf("listing relying parties: %w", err)
	}
	var tis stsv1alpha1.TrustedIssuerList
	if err := r.List(ctx, &tis, client.InNamespace(sts.Namespace), client.MatchingFields{indexSTSRef: sts.Name}); err != nil {
		return nil, nil, fmt.Errorf("listing trusted issuers: %w", err)
	}
	return rps.Items, tis.Items, nil
}

// secretNames lists every Secret the STS pods must read: exactly what they
// read (source.ReferencesOf), so that the Role and the pods cannot disagree.
func secretNames(sts *stsv1alpha1.SecurityTokenService, rps []stsv1alpha1.RelyingParty, tis []stsv1alpha1.TrustedIssuer) []string {
	return source.ReferencesOf(sts, pointers(rps), pointers(tis)).Secrets
}

// pointers points at each item of a list.
func pointers[T any](items []T) []*T {
	out := make([]*T, len(items))
	for i := range items {
		out[i] = &items[i]
	}
	return out
}

// apply renders and server-side applies the STS's objects, then decides
// Available from the Deployment and fills the replica counts. Refusals by the
// API server that the user must fix become a False verdict; other errors are
// returned to be retried.
func (r *SecurityTokenServiceReconciler) apply(ctx context.Context, sts *stsv1alpha1.SecurityTokenService, rps []stsv1alpha1.RelyingParty, tis []stsv1alpha1.TrustedIssuer) (verdict, error) {
	image := sts.Spec.Image
	if image == "" {
		image = r.DefaultImage
	}
	if image == "" {
		return verdict{Reason: ReasonNoImage, Message: "no STS image: set spec.image, or start the operator with --sts-image"}, nil
	}
	// The Deployment goes last: the response to applying it carries its
	// status, which decides Available without waiting for the cache.
	deployment, err := renderDeployment(sts, image, r.ImagePullSecrets)
	if err != nil {
		return verdict{Reason: ReasonRenderFailed, Message: fmt.Sprintf("the Deployment %s cannot be rendered: %v", sts.Name, err)}, nil
	}
	objects := []struct {
		kind string
		obj  runtime.ApplyConfiguration
	}{
		{"ServiceAccount", renderServiceAccount(sts)},
		{"Role", renderRole(sts, secretNames(sts, rps, tis))},
		{"RoleBinding", renderRoleBinding(sts)},
		{"Service", renderService(sts)},
	}
	if replicas(sts) > 1 {
		objects = append(objects, struct {
			kind string
			obj  runtime.ApplyConfiguration
		}{"PodDisruptionBudget", renderPodDisruptionBudget(sts)})
	}
	objects = append(objects, struct {
		kind string
		obj  runtime.ApplyConfiguration
	}{"Deployment", deployment})
	for _, o := range objects {
		if err := r.Apply(ctx, o.obj, FieldOwner, client.ForceOwnership); err != nil {
			if apierrors.IsInvalid(err) || apierrors.IsForbidden(err) {
				return verdict{Reason: ReasonRenderFailed, Message: fmt.Sprintf("the %s %s was refused: %v", o.kind, sts.Name, err)}, nil
			}
			return verdict{}, fmt.Errorf("applying %s %s/%s: %w", o.kind, sts.Namespace, sts.Name, err)
		}
	}
	if replicas(sts) <= 1 {
		if err := r.deleteOwned(ctx, sts, &policyv1.PodDisruptionBudget{}); err != nil {
			return verdict{}, err
		}
	}
	return available(sts, deployment.Status), nil
}

// deleteOwned deletes the object of the STS's name when the STS controls it.
func (r *SecurityTokenServiceReconciler) deleteOwned(ctx context.Context, sts *stsv1alpha1.SecurityTokenService, obj client.Object) error {
	if err := r.Get(ctx, types.NamespacedName{Namespace: sts.Namespace, Name: sts.Name}, obj); err != nil {
		return client.IgnoreNotFound(err)
	}
	if !metav1.IsControlledBy(obj, sts) {
		return nil
	}
	return client.IgnoreNotFound(r.Delete(ctx, obj))
}

// available decides Available from the Deployment's status, as the API
// server returned it, and fills the replica counts.
func available(sts *stsv1alpha1.SecurityTokenService, st *appsv1ac.DeploymentStatusApplyConfiguration) verdict {
	var have, ready int32
	var conds []appsv1ac.DeploymentConditionApplyConfiguration
	if st != nil {
		have, ready, conds = deref(st.Replicas), deref(st.ReadyReplicas), st.Conditions
	}
	sts.Status.Replicas, sts.Status.ReadyReplicas = have, ready
	want := replicas(sts)
	switch {
	case want == 0:
		return verdict{Reason: ReasonScaledToZero, Message: "spec.replicas is 0: no STS pod runs; set spec.replicas to 1 or more to serve tokens"}
	case ready >= 1:
		return verdict{OK: true, Reason: ReasonPodsReady, Message: fmt.Sprintf("%d of %d STS pods are ready", ready, want)}
	}
	msg := fmt.Sprintf("0 of %d STS pods are ready: see `kubectl describe deployment %s -n %s` and the events of its pods", want, sts.Name, sts.Namespace)
	for _, c := range conds {
		typ, status := deref(c.Type), deref(c.Status)
		failing := (typ == appsv1.DeploymentReplicaFailure && status == corev1.ConditionTrue) ||
			(typ == appsv1.DeploymentProgressing && status == corev1.ConditionFalse)
		if failing && deref(c.Message) != "" {
			msg += fmt.Sprintf("; Deployment %s: %s", typ, deref(c.Message))
		}
	}
	return verdict{Reason: ReasonPodsNotReady, Message: msg}
}

// deref returns *p, or the zero value when p is nil.
func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// endpointURL is the in-cluster address of the STS endpoint, through its Service.
func endpointURL(sts *stsv1alpha1.SecurityTokenService) string {
	if sts.Spec.TLS != nil {
		return fmt.Sprintf("https://%s.%s.svc/sts", sts.Name, sts.Namespace)
	}
	return fmt.Sprintf("http://%s.%s.svc/sts", sts.Name, sts.Namespace)
}

// SetupWithManager registers the reconciler; RegisterIndexes must have run.
func (r *SecurityTokenServiceReconciler) SetupWithManager(mgr ctrl.Manager) error {
	c := mgr.GetClient()
	stsList := func() client.ObjectList { return &stsv1alpha1.SecurityTokenServiceList{} }
	stsOf := func(o client.Object) []ctrl.Request {
		var name string
		switch v := o.(type) {
		case *stsv1alpha1.RelyingParty:
			name = v.Spec.STSRef.Name
		case *stsv1alpha1.TrustedIssuer:
			name = v.Spec.STSRef.Name
		}
		return []ctrl.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: name}}}
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("securitytokenservice").
		For(&stsv1alpha1.SecurityTokenService{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Owns(&appsv1.Deployment{}).
		Owns(&corev1.Service{}).
		Owns(&corev1.ServiceAccount{}).
		Owns(&rbacv1.Role{}).
		Owns(&rbacv1.RoleBinding{}).
		Owns(&policyv1.PodDisruptionBudget{}).
		// Relying parties and trusted issuers change the counts and the
		// Secrets the pods may read. On an update the map runs for the old
		// and the new object, so a party moving between STSs updates both.
		Watches(&stsv1alpha1.RelyingParty{},
			handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []ctrl.Request { return stsOf(o) }),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&stsv1alpha1.TrustedIssuer{},
			handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []ctrl.Request { return stsOf(o) }),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		// Metadata only: a change is all the STS needs to hear of; the
		// reconciler reads the signing Secret from the API server.
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(byIndex(c, stsList, indexSecrets, ownName)), builder.OnlyMetadata).
		WatchesRawSource(podEventsSource(r.PodEvents)).
		Complete(r)
}
