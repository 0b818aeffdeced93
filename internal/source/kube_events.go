package source

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Reasons of the events an STS pod posts on its SecurityTokenService.
const (
	// ReasonPolicyNotRebuilt: the pod could not build a policy from the
	// current objects and keeps serving the last one it built.
	ReasonPolicyNotRebuilt = "PolicyNotRebuilt"
	// ReasonPolicyPartUnused: the policy loaded, but a part of the STS's
	// own settings could not be used and is switched off, or the signing
	// key keeps its last good version.
	ReasonPolicyPartUnused = "PolicyPartUnused"
	// ReasonPolicyLoaded: after one of the above, the policy loads clean
	// again.
	ReasonPolicyLoaded = "PolicyLoaded"
)

// ownerEventsController is the reporting controller of the pods' events.
const ownerEventsController = "trustbroker.io/sts"

// ownerReportRepeat is how often the same problem is posted again while it
// lasts, so that it stays among an object's recent events.
const ownerReportRepeat = 10 * time.Minute

// ownerReport is what a pod last told the STS's owners.
type ownerReport struct {
	note string
	at   time.Time
}

// tellOwners posts, as an event on the SecurityTokenService, why this pod
// keeps its last good policy (err) or runs without a part of the STS's
// settings (problems of that kind): what the operator cannot see, such as
// a PKCS#11 token refusing its PIN. A problem is posted when it changes,
// and again every ownerReportRepeat while it lasts; once the policy loads
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
	reason, note := ReasonPolicyNotRebuilt, ""
	if err != nil {
		note = "policy not rebuilt; the last good policy stays in force: " + err.Error()
	} else {
		var parts []string
		for _, p := range problems {
			if p.Kind == "SecurityTokenService" {
				parts = append(parts, problemText(p))
			}
		}
		reason, note = ReasonPolicyPartUnused, strings.Join(parts, "; ")
	}
	now := time.Now()
	switch {
	case note == "" && k.reported.note == "":
		return
	case note == "":
		k.events.Eventf(sts, nil, corev1.EventTypeNormal, ReasonPolicyLoaded, "Load", "%s", "the policy loads without problems again")
	case note == k.reported.note && now.Sub(k.reported.at) < ownerReportRepeat:
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
