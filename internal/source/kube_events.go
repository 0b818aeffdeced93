package source

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	eventsv1client "k8s.io/client-go/kubernetes/typed/events/v1"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
)

// ReasonPolicyLoaded is the reason of a pod's event saying that, after a
// problem it reported (stsv1alpha1.ReasonPolicyNotRebuilt or
// ReasonPolicyPartUnused), the policy loads without problems again.
const ReasonPolicyLoaded = "PolicyLoaded"

// ReasonPodStopped is the reason of a pod's last event when it stops after
// reporting a problem: the report no longer stands for a running pod. A
// rollout replaces every pod, and the operator would otherwise keep their
// reports in the status until they go stale (PodReportValid).
const ReasonPodStopped = "PodStopped"

// withdrawTimeout bounds posting ReasonPodStopped: the pod is shutting down
// and its grace period is not the report's to spend.
const withdrawTimeout = 2 * time.Second

// PodEventsController is the reporting controller of the events STS pods
// post; the operator reads them into the PolicyLoaded condition.
const PodEventsController = "trustbroker.io/sts"

// A pod marks a lasting problem's event as seen again every
// PodReportRepeat; a report is current for PodReportValid, two repeats,
// after which it is from a pod that is gone.
const (
	PodReportRepeat = 5 * time.Minute
	PodReportValid  = 2 * PodReportRepeat
)

// ownerReport is the problem a pod last told the STS's owners of, if any,
// and the event that carries it (nil when posting it failed: it is posted
// again at the next repeat).
type ownerReport struct {
	sts          *stsv1alpha1.SecurityTokenService
	reason, note string
	event        *eventsv1.Event
}

// tellOwners posts, as an event on the SecurityTokenService, why this pod
// keeps its last good policy (err) or runs without a part of the STS's
// settings (problems of that kind): what the operator cannot see, such as
// a PKCS#11 token refusing its PIN. A problem is posted when it changes
// (and marked as seen again by tellOwnersAgain while it lasts); once the
// policy loads clean after one, a Normal event says so. Relying parties'
// and trusted issuers' problems are left to their own conditions, which
// the operator sets.
func (k *KubeSource) tellOwners(ctx context.Context, objs *Objects, problems []Problem, err error) {
	if k.reporter == nil || objs == nil {
		return
	}
	sts, pickErr := k.Builder.pickSTS(objs)
	if pickErr != nil {
		return
	}
	reason, note := stsv1alpha1.ReasonPolicyNotRebuilt, ""
	if err != nil {
		note = "policy not rebuilt; the last good policy stays in force: " + err.Error()
	} else {
		var parts []string
		for _, p := range problems {
			if p.Kind == "SecurityTokenService" {
				parts = append(parts, problemText(p))
			}
		}
		reason, note = stsv1alpha1.ReasonPolicyPartUnused, strings.Join(parts, "; ")
	}
	note = boundedNote(note)
	switch {
	case note == k.reported.note:
		return
	case note == "":
		k.reporter.post(ctx, sts, corev1.EventTypeNormal, ReasonPolicyLoaded, "the policy loads without problems again")
		k.reported = ownerReport{}
	default:
		k.reported = ownerReport{sts: sts, reason: reason, note: note}
		k.reported.event = k.reporter.post(ctx, sts, corev1.EventTypeWarning, reason, note)
	}
}

// tellOwnersAgain marks the problem last reported as seen again, if it
// lasts, so that the operator keeps it current (PodReportValid); an event
// that could not be posted or updated (the API server was away, the event
// expired) is posted anew.
func (k *KubeSource) tellOwnersAgain(ctx context.Context) {
	r := &k.reported
	switch {
	case k.reporter == nil || r.note == "":
	case r.event != nil:
		r.event = k.reporter.again(ctx, r.event)
	default:
		r.event = k.reporter.post(ctx, r.sts, corev1.EventTypeWarning, r.reason, r.note)
	}
}

// withdrawReport says, as the pod stops, that the problem it reported (if
// any) no longer stands for it. A pod killed without a chance to say so
// leaves its report until it goes stale.
func (k *KubeSource) withdrawReport() {
	if k.reporter == nil || k.reported.note == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), withdrawTimeout)
	defer cancel()
	k.reporter.post(ctx, k.reported.sts, corev1.EventTypeNormal, ReasonPodStopped, "the pod is stopping; the problem it reported no longer stands for it")
	k.reported = ownerReport{}
}

// podReporter posts a pod's events through the Events API directly: the
// client-go broadcaster sends a repeated event's new time only every 30
// minutes, and the operator needs it within PodReportValid.
type podReporter struct {
	events   eventsv1client.EventInterface
	instance string
	now      func() time.Time
	log      logr.Logger
}

func newPodReporter(events eventsv1client.EventInterface, log logr.Logger) *podReporter {
	host, _ := os.Hostname()
	return &podReporter{events: events, instance: PodEventsController + "-" + host, now: time.Now, log: log}
}

// post creates an event about sts; it returns nil when the API refused it
// (the log says why; a report is not worth failing a rebuild for).
func (r *podReporter) post(ctx context.Context, sts *stsv1alpha1.SecurityTokenService, eventType, reason, note string) *eventsv1.Event {
	e := &eventsv1.Event{
		ObjectMeta: metav1.ObjectMeta{GenerateName: sts.Name + "-", Namespace: sts.Namespace},
		EventTime:  metav1.NewMicroTime(r.now()),
		Regarding: corev1.ObjectReference{APIVersion: stsv1alpha1.GroupVersion.String(), Kind: "SecurityTokenService",
			Namespace: sts.Namespace, Name: sts.Name, UID: sts.UID},
		ReportingController: PodEventsController, ReportingInstance: r.instance,
		Action: "Load", Type: eventType, Reason: reason, Note: note,
	}
	created, err := r.events.Create(ctx, e, metav1.CreateOptions{})
	if err != nil {
		r.log.Error(err, "cannot post an event on the SecurityTokenService", "reason", reason)
		return nil
	}
	return created
}

// again records that the event's problem was seen again now; nil when the
// API refused (the log says why).
func (r *podReporter) again(ctx context.Context, e *eventsv1.Event) *eventsv1.Event {
	count := int32(2)
	if e.Series != nil {
		count = e.Series.Count + 1
	}
	patch, err := json.Marshal(map[string]any{"series": eventsv1.EventSeries{Count: count, LastObservedTime: metav1.NewMicroTime(r.now())}})
	if err != nil {
		return nil
	}
	updated, err := r.events.Patch(ctx, e.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	if err != nil {
		r.log.Error(err, "cannot mark an event on the SecurityTokenService as seen again", "event", e.Name)
		return nil
	}
	return updated
}

func problemText(p Problem) string {
	if p.Msg == "" {
		return p.Err.Error()
	}
	return fmt.Sprintf("%s: %v", p.Msg, p.Err)
}

// maxNote is the Events API's limit on a note.
const maxNote = 1024

func boundedNote(s string) string {
	if len(s) <= maxNote {
		return s
	}
	return strings.ToValidUTF8(s[:maxNote-3], "") + "..."
}
