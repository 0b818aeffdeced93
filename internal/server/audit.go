package server

import (
	"net/http"
	"time"

	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/wstrust"
)

// refusalLines bounds the audit lines of refused requests per client
// address: a refused client must not grow the log without bound. Past the
// burst, one line in ten seconds; the next line written says how many were
// left out, and trustbroker_audit_suppressed_total counts them.
var refusalLines = bucketLimit{burst: 10, rate: 0.1}

// record writes the audit line of a request and counts it: who asked, for
// which relying party, what was issued, and the outcome. Passwords, keys and
// tokens never appear; the fault's cause does, for the operator.
func (s *Server) record(r *http.Request, req *request, fault *soap.Fault, elapsed time.Duration) {
	requestType := req.requestType.String()
	kv := []any{
		"requestType", requestType,
		"user", req.user,
		"remote", r.RemoteAddr,
		"appliesTo", req.appliesTo,
		"policyGeneration", req.generation,
	}
	outcome := "ok"
	if fault != nil {
		outcome = "fault"
		kv = append(kv, "outcome", "refused", "fault", fault.Code.Local, "reason", fault.Reason, "cause", errString(fault.Cause))
		if s.Metrics != nil {
			s.Metrics.failures.WithLabelValues(fault.Code.Local).Inc()
		}
	} else {
		kv = append(kv, "outcome", "ok", "relyingParty", req.relyingParty)
		if rstr := req.rstr; rstr != nil && rstr.Token != nil {
			keyType := rstr.KeyType.String()
			kv = append(kv, "tokenType", rstr.TokenType, "keyType", keyType, "tokenID", tokenID(rstr))
			if s.Metrics != nil {
				s.Metrics.issued.WithLabelValues(req.relyingParty, tokenKind(rstr.TokenType), keyType).Inc()
			}
		}
	}
	if s.Metrics != nil {
		s.Metrics.duration.WithLabelValues(requestType, outcome).Observe(elapsed.Seconds())
	}
	if fault != nil {
		addr, known := clientAddress(r, s.TrustedProxies)
		if known {
			ok, skipped := s.auditRefusals.takeIfAllowed(addr, s.Now(), refusalLines)
			if !ok {
				if s.Metrics != nil {
					s.Metrics.auditSuppressed.Inc()
				}
				return
			}
			if skipped > 0 {
				kv = append(kv, "suppressedBefore", skipped)
			}
		}
	}
	s.Audit.Info("audit", kv...)
}

// tokenID is the ID the RSTR's attached reference names.
func tokenID(rstr *wstrust.RSTR) string {
	if rstr.AttachedReference == nil {
		return ""
	}
	if ki := rstr.AttachedReference.SelectElement("KeyIdentifier"); ki != nil {
		return ki.Text()
	}
	return ""
}

func tokenKind(uri string) string {
	return wstrust.TokenKindOf(uri).String()
}
