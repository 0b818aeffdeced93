package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	ctrlsource "sigs.k8s.io/controller-runtime/pkg/source"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
	"github.com/trustbroker/trustbroker/internal/source"
)

// newPodEventsCache caches the events STS pods post (reporting controller
// source.PodEventsController) and no others: caching every event of the
// cluster would cost the operator memory in step with the cluster's
// activity.
func newPodEventsCache(mgr ctrl.Manager) (cache.Cache, error) {
	c, err := cache.New(mgr.GetConfig(), cache.Options{
		HTTPClient: mgr.GetHTTPClient(),
		Scheme:     mgr.GetScheme(),
		Mapper:     mgr.GetRESTMapper(),
		ByObject: map[client.Object]cache.ByObject{
			&eventsv1.Event{}: {Field: fields.OneTermEqualSelector("reportingController", source.PodEventsController)},
		},
	})
	if err != nil {
		return nil, err
	}
	return c, mgr.Add(c)
}

// podEventsSource reconciles the SecurityTokenService a pod's event is
// about.
func podEventsSource(events cache.Cache) ctrlsource.Source {
	return ctrlsource.Kind(events, &eventsv1.Event{}, handler.TypedEnqueueRequestsFromMapFunc(func(_ context.Context, e *eventsv1.Event) []reconcile.Request {
		if e.Regarding.Kind != "SecurityTokenService" {
			return nil
		}
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: e.Namespace, Name: e.Regarding.Name}}}
	}))
}

// podReports decides PolicyLoaded from the latest event of each STS pod
// about sts: a Warning from the last source.PodReportValid (the pods post a
// lasting problem again twice as often) makes it False with the pod's
// words; the pod's next Normal event (the policy loads again, or the pod
// stops) takes it back. Recheck is when the latest such report goes stale.
func podReports(ctx context.Context, events client.Reader, sts *stsv1alpha1.SecurityTokenService, now time.Time) (verdict, error) {
	var list eventsv1.EventList
	if err := events.List(ctx, &list, client.InNamespace(sts.Namespace)); err != nil {
		return verdict{}, fmt.Errorf("reading the STS pods' events: %w", err)
	}
	latest := map[string]*eventsv1.Event{} // by reporting pod
	for i := range list.Items {
		e := &list.Items[i]
		if e.Regarding.Kind != "SecurityTokenService" || e.Regarding.Name != sts.Name || e.Regarding.UID != sts.UID || !podReason(e) {
			continue
		}
		if l := latest[e.ReportingInstance]; l == nil || observed(e).After(observed(l)) {
			latest[e.ReportingInstance] = e
		}
	}
	var report *eventsv1.Event
	for _, e := range latest {
		if e.Type != corev1.EventTypeWarning || now.Sub(observed(e)) > source.PodReportValid {
			continue
		}
		if report == nil || observed(e).After(observed(report)) {
			report = e
		}
	}
	if report == nil {
		return verdict{OK: true, Reason: stsv1alpha1.ReasonLoaded, Message: "no STS pod reports a problem with the settings"}, nil
	}
	pod := strings.TrimPrefix(report.ReportingInstance, source.PodEventsController+"-")
	return verdict{Reason: report.Reason, Message: fmt.Sprintf("pod %s: %s", pod, report.Note),
		Recheck: observed(report).Add(source.PodReportValid)}, nil
}

// podReason reports whether an event carries a reason the pods post. Anyone
// who may create events in the namespace can post one that looks like a
// pod's; its reason becomes the condition's, which the API server checks,
// so an unknown one is ignored rather than left to fail every status
// update.
func podReason(e *eventsv1.Event) bool {
	switch e.Reason {
	case stsv1alpha1.ReasonPolicyNotRebuilt, stsv1alpha1.ReasonPolicyPartUnused, source.ReasonPolicyLoaded, source.ReasonPodStopped:
		return true
	}
	return false
}

// observed is when an event was last seen.
func observed(e *eventsv1.Event) time.Time {
	if e.Series != nil {
		return e.Series.LastObservedTime.Time
	}
	if !e.EventTime.IsZero() {
		return e.EventTime.Time
	}
	return e.DeprecatedLastTimestamp.Time
}
