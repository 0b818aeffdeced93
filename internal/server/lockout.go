package server

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/trustbroker/trustbroker/internal/issuer"
	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/wssec"
)

// Keys of the lockout in the replay store: a failure count per subject, and
// a marker that the subject is locked out.
const (
	lockoutCountPrefix  = "lockout:count:"
	lockoutLockedPrefix = "lockout:locked:"
)

// lockoutSubject is what failures are counted against: a user name or a
// client address.
type lockoutSubject struct {
	// scope is "user" or "address", the metric's label.
	scope string
	// name is the user name or address, for the audit log.
	name string
	// key identifies the subject in the store.
	key string
}

// authenticateWithLockout authenticates the caller unless the user named in
// the request or the client address is locked out, and counts failures
// against both. A locked-out caller gets the same fault as a wrong
// password: the caller learns nothing, the audit log and the lockout metric
// say what happened. The password of a locked-out user is not checked at
// all, so guessing cannot go on and a directory behind the STS (whose own
// lockout would lock the user out of everything) is spared.
func (s *Server) authenticateWithLockout(r *http.Request, snap *policy.Snapshot, env *soap.Envelope, h *wssec.Header, now time.Time) (issuer.Principal, error) {
	lock := snap.STS.Lockout
	if !lock.Enabled() {
		return s.authenticate(r.Context(), snap, env, h, r.TLS, now)
	}
	store := s.Replay.For(snap)
	counter, ok := store.(wssec.Counter)
	if !ok {
		return issuer.Principal{}, soap.NewFault(soap.RequestFailed, "The STS cannot check sign-in attempts at the moment.",
			fmt.Errorf("the replay store %T cannot count failed sign-ins", store))
	}
	subjects := s.lockoutSubjects(r, h)
	for _, sub := range subjects {
		locked, err := store.Holds(r.Context(), lockoutLockedPrefix+sub.key)
		if err != nil {
			return issuer.Principal{}, soap.NewFault(soap.RequestFailed, "The STS cannot check sign-in attempts at the moment.", fmt.Errorf("lockout: %w", err))
		}
		if locked {
			return issuer.Principal{}, denied(fmt.Errorf("lockout: %s %q is locked out after %d failed sign-ins within %s; the credentials were not checked",
				sub.scope, sub.name, lock.Threshold, lock.Window))
		}
	}
	who, err := s.authenticate(r.Context(), snap, env, h, r.TLS, now)
	if err == nil || !isAuthenticationFailure(err) || !carriesCredentials(h, r.TLS) {
		return who, err
	}
	// A caller that hangs up must still be counted.
	ctx := context.WithoutCancel(r.Context())
	for _, sub := range subjects {
		s.countFailure(ctx, snap, store, counter, sub)
	}
	return who, err
}

// lockoutSubjects are the client address and, when the request carries one
// UsernameToken, its user name.
func (s *Server) lockoutSubjects(r *http.Request, h *wssec.Header) []lockoutSubject {
	var subjects []lockoutSubject
	if h != nil && len(h.UsernameTokens) == 1 && h.UsernameTokens[0].Username != "" {
		// User stores (LDAP, AD) compare names without case: so does the count.
		name := strings.ToLower(h.UsernameTokens[0].Username)
		sum := sha256.Sum256([]byte(name))
		subjects = append(subjects, lockoutSubject{scope: "user", name: h.UsernameTokens[0].Username, key: "user:" + hex.EncodeToString(sum[:])})
	}
	if addr, ok := clientAddress(r, s.TrustedProxies); ok {
		subjects = append(subjects, lockoutSubject{scope: "address", name: addr.String(), key: "address:" + addr.String()})
	}
	return subjects
}

// countFailure counts a failed sign-in against sub and locks sub out for
// the window once the threshold is reached. The store failing here does not
// change the answer (the sign-in failed anyway); it is logged.
func (s *Server) countFailure(ctx context.Context, snap *policy.Snapshot, store wssec.ReplayStore, counter wssec.Counter, sub lockoutSubject) {
	lock := snap.STS.Lockout
	n, err := counter.Incr(ctx, lockoutCountPrefix+sub.key, lock.Window)
	if err != nil {
		s.Log.Error(err, "counting a failed sign-in", "scope", sub.scope, sub.scope, sub.name)
		return
	}
	if n < int64(lock.Threshold) {
		return
	}
	already, err := store.Seen(ctx, lockoutLockedPrefix+sub.key, lock.Window)
	if err != nil {
		s.Log.Error(err, "recording a lockout", "scope", sub.scope, sub.scope, sub.name)
		return
	}
	if already {
		return // another replica or request locked it first
	}
	s.Audit.Info("lockout", "scope", sub.scope, sub.scope, sub.name, "failures", n, "window", lock.Window.String(), "policyGeneration", snap.Generation)
	if s.Metrics != nil {
		s.Metrics.lockouts.WithLabelValues(sub.scope).Inc()
	}
}

// isAuthenticationFailure reports whether err says the credentials were
// wrong (a password, an untrusted certificate, a bad signature or ticket),
// as opposed to a refused option, an expired message or the STS failing.
func isAuthenticationFailure(err error) bool {
	var f *soap.Fault
	if !errors.As(err, &f) {
		return false
	}
	switch f.Code {
	case soap.FailedAuthentication, soap.TrustFailedAuthentication, soap.FailedCheck, soap.InvalidSecurityToken:
		return true
	}
	return false
}

// carriesCredentials reports whether the request presented any credential:
// a request with none (an anonymous token translation) has nothing to count.
func carriesCredentials(h *wssec.Header, conn *tls.ConnectionState) bool {
	if conn != nil && len(conn.PeerCertificates) > 0 {
		return true
	}
	return h != nil && (len(h.UsernameTokens) > 0 || len(h.BinarySecurityTokens) > 0 || len(h.Signatures) > 0)
}
