package controllers

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
)

// maxEventNote is the events.k8s.io/v1 limit on an event's note.
const maxEventNote = 1024

// conditionSetter is the SetCondition every trustbroker kind has.
type conditionSetter interface {
	runtime.Object
	SetCondition(now time.Time, typ string, status metav1.ConditionStatus, reason, message string) bool
}

// conditionChange is a condition whose status, reason or message changed;
// it becomes an event once the status is stored.
type conditionChange struct {
	Type    string
	Status  metav1.ConditionStatus
	Reason  string
	Message string
}

// conditions sets conditions on one object and remembers which changed.
type conditions struct {
	obj     conditionSetter
	now     time.Time
	changes []conditionChange
}

// set sets one condition; ok picks True or False.
func (c *conditions) set(typ string, ok bool, reason, message string) {
	status := metav1.ConditionFalse
	if ok {
		status = metav1.ConditionTrue
	}
	if c.obj.SetCondition(c.now, typ, status, reason, message) {
		c.changes = append(c.changes, conditionChange{typ, status, reason, message})
	}
}

// record emits one event per changed condition: Warning when it is False,
// Normal otherwise. Call it only after the status was stored, so a failed
// write (retried) does not announce a change twice.
func (c *conditions) record(rec events.EventRecorder) {
	if rec == nil {
		return
	}
	for _, ch := range c.changes {
		typ := corev1.EventTypeNormal
		if ch.Status == metav1.ConditionFalse {
			typ = corev1.EventTypeWarning
		}
		note := fmt.Sprintf("%s is %s: %s", ch.Type, ch.Status, ch.Message)
		if len(note) > maxEventNote {
			note = strings.ToValidUTF8(note[:maxEventNote-3], "") + "..."
		}
		// The note is passed as an argument so that a '%' in a message is not
		// read as a formatting verb.
		rec.Eventf(c.obj, nil, typ, ch.Reason, ch.Type, "%s", note)
	}
}
