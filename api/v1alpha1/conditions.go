package v1alpha1

import (
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// setCondition records a condition observed at now for the given generation
// and reports whether its status, reason or message changed, so callers emit
// an event exactly when a user would see something new.
func setCondition(conds *[]metav1.Condition, generation int64, now time.Time, typ string, status metav1.ConditionStatus, reason, message string) bool {
	old := meta.FindStatusCondition(*conds, typ)
	changed := old == nil || old.Status != status || old.Reason != reason || old.Message != message
	meta.SetStatusCondition(conds, metav1.Condition{
		Type:               typ,
		Status:             status,
		Reason:             reason,
		Message:            message,
		ObservedGeneration: generation,
		LastTransitionTime: metav1.NewTime(now),
	})
	return changed
}

// SetCondition sets one status condition and reports whether it changed.
func (s *SecurityTokenService) SetCondition(now time.Time, typ string, status metav1.ConditionStatus, reason, message string) bool {
	return setCondition(&s.Status.Conditions, s.Generation, now, typ, status, reason, message)
}

// SetCondition sets one status condition and reports whether it changed.
func (rp *RelyingParty) SetCondition(now time.Time, typ string, status metav1.ConditionStatus, reason, message string) bool {
	return setCondition(&rp.Status.Conditions, rp.Generation, now, typ, status, reason, message)
}

// SetCondition sets one status condition and reports whether it changed.
func (ti *TrustedIssuer) SetCondition(now time.Time, typ string, status metav1.ConditionStatus, reason, message string) bool {
	return setCondition(&ti.Status.Conditions, ti.Generation, now, typ, status, reason, message)
}
