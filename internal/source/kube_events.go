package source

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
)

// ReasonPolicyLoaded is the reason of a pod's event saying that, after a
// problem it reported (stsv1alpha1.ReasonPolicyNotRebuilt or
// ReasonPolicyPartUnused), the policy loads without problems again.
const ReasonPolicyLoaded = "PolicyLoaded"

// PodEventsController is the reporting controller of the events STS pods
// post; the operator reads them into the PolicyLoaded condition.
const PodEventsController = "trustbroker.io/sts"

// PodReportRepeat is how often the same problem is posted again while it
// lasts, so that it stays among an object's recent events (and a report
// older than that is from a pod that is gone or recovered).
const PodReportRepeat = 10 * time.Minute

// ownerReport is what a pod last told the STS's owners.
type ownerReport struct {
	note string
	at   time.Time
}

// tellOwners posts, as an event on the SecurityTokenService, why this pod
// keeps its last good policy (err) or runs without a part of the STS's
// settings (problems of that kind): what the operator cannot see, such as
// a PKCS#11 token refusing its PIN. A problem is posted when it changes,
// and again every PodReportRepeat while it lasts; once the policy loads
// clean after one, a Normal event says so. Relying parties' and trusted
// issuers' problems are left to their own conditions, which the operator
// sets.
func (k *KubeSource) tellOwners(objs *Objects, problems []Problem, err error) {
	if k.events == nil || objs == nil {
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
	now := time.Now()
	switch {
	case note == "" && k.reported.note == "":
		return
	case note == "":
		k.events.Eventf(sts, nil, corev1.EventTypeNormal, ReasonPolicyLoaded, "Load", "%s", "the policy loads without problems again")
	case note == k.reported.note && now.Sub(k.reported.at) < PodReportRepeat:
		return
	default:
		k.events.Eventf(sts, nil, corev1.EventTypeWarning, reason, "Load", "%s", boundedNote(note))
	}
	k.reported = ownerReport{note: note, at: now}
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
