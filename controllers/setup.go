package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// EventSource is the reporting controller named on the operator's events.
const EventSource = "trustbroker-operator"

// Options configure the operator's reconcilers.
type Options struct {
	// STSImage is the STS container image used when an STS sets no spec.image.
	STSImage string
	// STSImagePullSecrets name the Secrets every STS pod pulls its image
	// with; a SecurityTokenService can add more.
	STSImagePullSecrets []string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Setup registers the field indexes and the three reconcilers with mgr.
func Setup(ctx context.Context, mgr ctrl.Manager, opts Options) error {
	if err := RegisterIndexes(ctx, mgr.GetFieldIndexer()); err != nil {
		return fmt.Errorf("registering indexes: %w", err)
	}
	c, err := newClient(mgr)
	if err != nil {
		return fmt.Errorf("creating the reconcilers' client: %w", err)
	}
	rec := mgr.GetEventRecorder(EventSource)
	podEvents, err := newPodEventsCache(mgr)
	if err != nil {
		return fmt.Errorf("creating the cache of the STS pods' events: %w", err)
	}
	if err := (&SecurityTokenServiceReconciler{Client: c, Recorder: rec, PodEvents: podEvents, Now: opts.Now, DefaultImage: opts.STSImage, ImagePullSecrets: opts.STSImagePullSecrets}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the SecurityTokenService reconciler: %w", err)
	}
	if err := (&RelyingPartyReconciler{Client: c, APIReader: mgr.GetAPIReader(), Recorder: rec, Now: opts.Now}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the RelyingParty reconciler: %w", err)
	}
	if err := (&TrustedIssuerReconciler{Client: c, APIReader: mgr.GetAPIReader(), Recorder: rec, Now: opts.Now}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the TrustedIssuer reconciler: %w", err)
	}
	return nil
}

// uncachedKinds are read from the API server, never from the manager's cache.
// The cache holds only their metadata, for the watches (builder.OnlyMetadata):
// caching them in full would keep every Secret of the cluster in the
// operator's memory, while the reconcilers read just the few that resources
// name.
func uncachedKinds() []client.Object {
	return []client.Object{&corev1.Secret{}, &corev1.ConfigMap{}}
}

// newClient returns the reconcilers' client: the manager's, except that
// Secrets and ConfigMaps are read from the API server.
func newClient(mgr ctrl.Manager) (client.Client, error) {
	return client.New(mgr.GetConfig(), client.Options{
		HTTPClient: mgr.GetHTTPClient(),
		Scheme:     mgr.GetScheme(),
		Mapper:     mgr.GetRESTMapper(),
		Cache: &client.CacheOptions{
			Reader:     mgr.GetCache(),
			DisableFor: uncachedKinds(),
		},
	})
}
