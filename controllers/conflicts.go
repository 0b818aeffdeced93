package controllers

import (
	"context"

	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/trustbroker/trustbroker/internal/policy"
)

// precedenceNote says in messages why the other object wins.
const precedenceNote = "created earlier, or in the same second with a name that sorts first"

// claimHolder returns, of the objects claiming what self claims (self
// among them or not), the one that holds the claim, by policy.ResolveClaims:
// the rule the STS applies when it builds its policy, so the status names
// the object the STS serves.
func claimHolder[T client.Object](self T, claimants []T) T {
	all := []T{self}
	claims := []policy.Claim{claimOf(self)}
	for _, o := range claimants {
		if o.GetName() != self.GetName() {
			all = append(all, o)
			claims = append(claims, claimOf(o))
		}
	}
	return all[policy.ResolveClaims(claims)[0]]
}

// claimOf is an object's claim; all claimants passed to ResolveClaims
// together claim the same, so the key is the same for all.
func claimOf(o client.Object) policy.Claim {
	return policy.Claim{Namespace: o.GetNamespace(), Name: o.GetName(), Created: o.GetCreationTimestamp().Time}
}

// claimants enqueues the objects that claim what a changed object claims,
// before and after the change: a loser is examined again when the holder
// of its claim is deleted or moves to another endpoint or issuer.
func claimants(c client.Reader, newList func() client.ObjectList, field string, key func(client.Object) string) handler.EventHandler {
	mapFn := byIndex(c, newList, field, func(o client.Object) []string { return []string{key(o)} })
	add := func(ctx context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request], objs ...client.Object) {
		for _, o := range objs {
			if o == nil {
				continue
			}
			for _, req := range mapFn(ctx, o) {
				q.Add(req)
			}
		}
	}
	return handler.Funcs{
		CreateFunc: func(ctx context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(ctx, q, e.Object)
		},
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(ctx, q, e.ObjectOld, e.ObjectNew)
		},
		DeleteFunc: func(ctx context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(ctx, q, e.Object)
		},
		GenericFunc: func(ctx context.Context, e event.GenericEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(ctx, q, e.Object)
		},
	}
}
