package controllers

import (
	"context"
	"fmt"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
)

// EventSource is the reporting controller named on the operator's events.
const EventSource = "trustbroker-operator"

// Options configure the operator's reconcilers.
type Options struct {
	// STSImage is the STS container image used when an STS sets no spec.image.
	STSImage string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Setup registers the field indexes and the three reconcilers with mgr.
func Setup(ctx context.Context, mgr ctrl.Manager, opts Options) error {
	if err := RegisterIndexes(ctx, mgr.GetFieldIndexer()); err != nil {
		return fmt.Errorf("registering indexes: %w", err)
	}
	rec := mgr.GetEventRecorder(EventSource)
	if err := (&SecurityTokenServiceReconciler{Client: mgr.GetClient(), Recorder: rec, Now: opts.Now, DefaultImage: opts.STSImage}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the SecurityTokenService reconciler: %w", err)
	}
	if err := (&RelyingPartyReconciler{Client: mgr.GetClient(), Recorder: rec, Now: opts.Now}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the RelyingParty reconciler: %w", err)
	}
	if err := (&TrustedIssuerReconciler{Client: mgr.GetClient(), Recorder: rec, Now: opts.Now}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the TrustedIssuer reconciler: %w", err)
	}
	return nil
}
