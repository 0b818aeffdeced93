package server

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/trustbroker/trustbroker/internal/policy"
)

// Metrics are the STS's Prometheus metrics.
type Metrics struct {
	issued   *prometheus.CounterVec
	failures *prometheus.CounterVec
	duration *prometheus.HistogramVec
	lockouts *prometheus.CounterVec
	// storeFull counts records refused because their store was full.
	storeFull *prometheus.CounterVec
	// auditSuppressed counts refusal audit lines left out (refusalLines).
	auditSuppressed prometheus.Counter
}

// NewMetrics registers the STS's metrics with reg, including the generation
// of the policy in holder.
func NewMetrics(reg prometheus.Registerer, holder *policy.Holder) *Metrics {
	m := &Metrics{
		issued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "trustbroker_tokens_issued_total",
			Help: "Tokens issued, by relying party, token type and key type.",
		}, []string{"relying_party", "token_type", "key_type"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "trustbroker_requests_failed_total",
			Help: "Requests answered with a fault, by fault code.",
		}, []string{"fault"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "trustbroker_request_duration_seconds",
			Help:    "Time to answer a WS-Trust request, by request type and outcome.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"request_type", "outcome"}),
		lockouts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "trustbroker_lockouts_total",
			Help: "Lockouts engaged after repeated failed sign-ins, by scope (user or address).",
		}, []string{"scope"}),
		storeFull: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "trustbroker_replay_store_full_total",
			Help: "Requests refused because the in-memory store they needed a record in (replay, cancelled or lockout) was full of live records.",
		}, []string{"store"}),
		auditSuppressed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "trustbroker_audit_suppressed_total",
			Help: "Audit lines of refused requests left out because their client address had too many; the next line from that address says how many.",
		}),
	}
	generation := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "trustbroker_policy_generation",
		Help: "Generation of the policy in force; it increases with every reload.",
	}, func() float64 {
		if snap := holder.Load(); snap != nil {
			return float64(snap.Generation)
		}
		return 0
	})
	reg.MustRegister(m.issued, m.failures, m.duration, m.lockouts, m.storeFull, m.auditSuppressed, generation)
	return m
}
