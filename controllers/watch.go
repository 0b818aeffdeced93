package controllers

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// maxRequeue bounds how long a reconciler waits before looking again at an
// object whose status changes with the clock, so a clock jump or a missed
// event is corrected within hours.
const maxRequeue = 12 * time.Hour

// requeueAt returns the result that reconciles again shortly after t, when
// t is in the future; a zero result otherwise.
func requeueAt(t, now time.Time) reconcile.Result {
	if t.IsZero() || !t.After(now) {
		return reconcile.Result{}
	}
	// A second late, so the condition has certainly turned when we look.
	d := t.Sub(now) + time.Second
	if d > maxRequeue {
		d = maxRequeue
	}
	return reconcile.Result{RequeueAfter: d}
}

// clockOrNow returns the injected clock, or time.Now.
func clockOrNow(now func() time.Time) time.Time {
	if now != nil {
		return now()
	}
	return time.Now()
}

// byIndex maps an object to the objects of the list's kind, in the same
// namespace, whose field index holds one of the values keys returns.
func byIndex(c client.Reader, newList func() client.ObjectList, field string, keys func(client.Object) []string) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []reconcile.Request {
		var reqs []reconcile.Request
		seen := map[types.NamespacedName]bool{}
		for _, key := range keys(o) {
			list := newList()
			if err := c.List(ctx, list, client.InNamespace(o.GetNamespace()), client.MatchingFields{field: key}); err != nil {
				logf.FromContext(ctx).Error(err, "listing dependents", "field", field, "value", key)
				continue
			}
			_ = meta.EachListItem(list, func(item runtime.Object) error {
				nn := client.ObjectKeyFromObject(item.(client.Object))
				if !seen[nn] {
					seen[nn] = true
					reqs = append(reqs, reconcile.Request{NamespacedName: nn})
				}
				return nil
			})
		}
		return reqs
	}
}

// ownName is a key function returning the object's own name.
func ownName(o client.Object) []string { return []string{o.GetName()} }

// existenceChanged passes only creation and deletion: objects that care
// whether another exists, not what it holds.
var existenceChanged = predicate.Funcs{
	UpdateFunc:  func(event.UpdateEvent) bool { return false },
	GenericFunc: func(event.GenericEvent) bool { return false },
}
