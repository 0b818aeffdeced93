package main

import (
	"net/http"
	"sync/atomic"
)

// drain is the pod's way out of service. On SIGTERM the endpoints
// controller and load balancers take a while to stop sending; closing the
// listeners at once drops what they still send. So serve first turns
// /readyz unready and keeps answering for --shutdown-delay, asking every
// client to close its connection after the answer, and only then stops
// accepting and waits for the requests in flight.
type drain struct{ started atomic.Bool }

// start begins draining.
func (d *drain) start() { d.started.Store(true) }

// draining reports whether draining has begun.
func (d *drain) draining() bool { return d.started.Load() }

// wrap answers with "Connection: close" while draining, so keep-alive
// clients open their next connection to another pod.
func (d *drain) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d.draining() {
			w.Header().Set("Connection", "close")
		}
		h.ServeHTTP(w, r)
	})
}
