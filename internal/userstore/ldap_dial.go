package userstore

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// ErrDirectoryUnavailable means the directory could not answer: it is down,
// too slow, refused the TLS handshake or the service account, or is
// misconfigured. It is never the caller's fault, so it must not be answered
// like a wrong password.
var ErrDirectoryUnavailable = errors.New("LDAP directory unavailable")

// dial opens a connection ready for requests: TCP, then TLS (ldaps:// or
// StartTLS), then the bind as bindDN when not empty. All of it must finish
// within the store's timeout.
func (l *LDAP) dial(ctx context.Context, bindDN, password string) (*ldap.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	raw, err := (&net.Dialer{}).DialContext(ctx, "tcp", l.addr)
	if err != nil {
		return nil, err
	}
	// The deadline bounds the TLS handshakes, which the LDAP library does
	// not time out, and the first bind; it is lifted once the connection is
	// ready, and from then on each request has its own timeout.
	deadline, _ := ctx.Deadline()
	if err := raw.SetDeadline(deadline); err != nil {
		raw.Close()
		return nil, err
	}
	var conn *ldap.Conn
	if l.ldaps {
		tc := tls.Client(raw, l.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, fmt.Errorf("TLS handshake: %w", err)
		}
		conn = ldap.NewConn(tc, true)
	} else {
		conn = ldap.NewConn(raw, false)
	}
	conn.Start()
	// Every request on the connection, now and when reused, times out.
	conn.SetTimeout(l.timeout)
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	err = l.prepare(conn, bindDN, password)
	if !stop() {
		err = errors.Join(ctx.Err(), err)
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	if err := raw.SetDeadline(time.Time{}); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

func (l *LDAP) prepare(conn *ldap.Conn, bindDN, password string) error {
	if l.cfg.StartTLS {
		if err := conn.StartTLS(l.tls); err != nil {
			return fmt.Errorf("StartTLS: %w", err)
		}
	}
	if bindDN != "" {
		if err := conn.Bind(bindDN, password); err != nil {
			return fmt.Errorf("bind as the service account %q: %w", bindDN, err)
		}
	}
	return nil
}

// unavailable wraps an error that is the directory's, naming its URL.
func (l *LDAP) unavailable(err error) error {
	return fmt.Errorf("%w at %s: %w", ErrDirectoryUnavailable, l.cfg.URL, err)
}

// answered reports whether err is a result the server sent, after which the
// connection is still in a known state and can be reused. Network errors,
// timeouts and malformed answers leave it unusable.
func answered(err error) bool {
	var lerr *ldap.Error
	return err == nil || errors.As(err, &lerr) && lerr.ResultCode < ldap.ErrorNetwork
}

// isResult reports whether err is an LDAP result with one of the codes.
func isResult(err error, codes ...uint16) bool {
	return answered(err) && ldap.IsErrorAnyOf(err, codes...)
}
