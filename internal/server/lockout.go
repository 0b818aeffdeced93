package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"

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

// lockoutGuard is the extranet lockout as the inbound pipeline asks it:
// Allow refuses a caller when the user named in the request or the client
// address is locked out, Failed counts a failure against both. A locked-out
// caller gets the same fault as a wrong password: the caller learns
// nothing, the audit log and the lockout metric say what happened. The
// password of a locked-out user is not checked at all, so guessing cannot
// go on and a directory behind the STS (whose own lockout would lock the
// user out of everything) is spared.
type lockoutGuard struct {
	s    *Server
	snap *policy.Snapshot
	r    *http.Request
}

func (s *Server) lockoutGuard(r *http.Request, snap *policy.Snapshot) wssec.AttemptGuard {
	return lockoutGuard{s: s, snap: snap, r: r}
}

// Allow implements wssec.AttemptGuard.
func (g lockoutGuard) Allow(ctx context.Context, username string) error {
	store := g.s.stores(g.snap).Lockout
	if _, ok := store.(wssec.Counter); !ok {
		return soap.NewFault(soap.RequestFailed, "The STS cannot check sign-in attempts at the moment.",
			fmt.Errorf("the replay store %T cannot count failed sign-ins", store))
	}
	lock := g.snap.STS.Lockout
	for _, sub := range g.s.lockoutSubjects(g.r, username) {
		locked, err := store.Holds(ctx, lockoutLockedPrefix+sub.key)
		if err != nil {
			return soap.NewFault(soap.RequestFailed, "The STS cannot check sign-in attempts at the moment.", fmt.Errorf("lockout: %w", err))
		}
		if locked {
			return wssec.Denied(fmt.Errorf("lockout: %s %q is locked out after %d failed sign-ins within %s; the credentials were not checked",
				sub.scope, sub.name, lock.Threshold, lock.Window))
		}
	}
	return nil
}

// Failed implements wssec.AttemptGuard.
func (g lockoutGuard) Failed(ctx context.Context, username string) {
	store := g.s.stores(g.snap).Lockout
	counter, ok := store.(wssec.Counter)
	if !ok {
		return
	}
	for _, sub := range g.s.lockoutSubjects(g.r, username) {
		g.s.countFailure(ctx, g.snap, store, counter, sub)
	}
}

// lockoutSubjects are the client address and, when the request names one,
// the user.
func (s *Server) lockoutSubjects(r *http.Request, username string) []lockoutSubject {
	var subjects []lockoutSubject
	if username != "" {
		subjects = append(subjects, userLockoutSubject(username))
	}
	if addr, ok := clientAddress(r, s.TrustedProxies); ok {
		subjects = append(subjects, lockoutSubject{scope: "address", name: addr.String(), key: "address:" + addr.String()})
	}
	return subjects
}

func userLockoutSubject(username string) lockoutSubject {
	// User stores (LDAP, AD) compare names without case: so does the count.
	sum := sha256.Sum256([]byte(strings.ToLower(username)))
	return lockoutSubject{scope: "user", name: username, key: "user:" + hex.EncodeToString(sum[:])}
}

// userLockedOut reports whether the lockout holds username now, for what
// the user does without a password (a passive session resumed): a stolen
// session must not outlive a lockout.
func (s *Server) userLockedOut(ctx context.Context, snap *policy.Snapshot, username string) (bool, error) {
	if !snap.STS.Lockout.Enabled() {
		return false, nil
	}
	locked, err := s.stores(snap).Lockout.Holds(ctx, lockoutLockedPrefix+userLockoutSubject(username).key)
	if err != nil {
		return false, fmt.Errorf("lockout: %w", err)
	}
	return locked, nil
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
