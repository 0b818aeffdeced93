package userstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// connPool bounds and reuses connections to the directory. At most max
// connections are open at once; callers beyond that wait for one. Idle
// connections that the server or the network closed are dropped on the way
// out, and a request that fails on a reused connection is retried once on a
// fresh one, since the failure may be the connection's, not the request's.
type connPool struct {
	dial  func(ctx context.Context) (*ldap.Conn, error)
	wait  time.Duration   // longest wait for a free slot
	slots chan struct{}   // one token per open (or being dialled) connection
	idle  chan *ldap.Conn // connections waiting to be reused

	mu     sync.Mutex
	closed bool
}

func newConnPool(max int, wait time.Duration, dial func(ctx context.Context) (*ldap.Conn, error)) *connPool {
	return &connPool{dial: dial, wait: wait, slots: make(chan struct{}, max), idle: make(chan *ldap.Conn, max)}
}

// Errors of the pool itself.
var (
	errPoolClosed = errors.New("connection pool closed")
	errPoolBusy   = errors.New("all connections stayed busy")
)

// do runs fn on a connection. fn reports whether the connection is still
// usable (false after network errors and timeouts, which leave the
// connection in an unknown state).
func (p *connPool) do(ctx context.Context, fn func(*ldap.Conn) (reusable bool, err error)) error {
	for attempt := 0; ; attempt++ {
		conn, reused, err := p.get(ctx)
		if err != nil {
			return err
		}
		reusable, err := p.run(ctx, conn, fn)
		p.put(conn, reusable)
		if err == nil || reusable || !reused || attempt > 0 || ctx.Err() != nil {
			return err
		}
		// A reused connection broke: the others idle since the same time
		// (a server restart, a firewall's idle cut) are likely broken too,
		// so the retry dials afresh.
		p.closeIdle()
	}
}

// run calls fn, closing the connection if ctx ends first so that fn returns.
func (p *connPool) run(ctx context.Context, conn *ldap.Conn, fn func(*ldap.Conn) (bool, error)) (bool, error) {
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	reusable, err := fn(conn)
	if !stop() {
		return false, errors.Join(ctx.Err(), err)
	}
	return reusable, err
}

// get returns an idle connection (reused=true) or a new one, after taking a
// slot.
func (p *connPool) get(ctx context.Context) (conn *ldap.Conn, reused bool, err error) {
	timer := time.NewTimer(p.wait)
	defer timer.Stop()
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, false, ctx.Err()
	case <-timer.C:
		return nil, false, fmt.Errorf("%w for %v", errPoolBusy, p.wait)
	}
	if conn := p.takeIdle(); conn != nil {
		return conn, true, nil
	}
	if p.isClosed() {
		<-p.slots
		return nil, false, errPoolClosed
	}
	conn, err = p.dial(ctx)
	if err != nil {
		<-p.slots
		return nil, false, err
	}
	return conn, false, nil
}

// takeIdle returns an idle connection that is still open, or nil.
func (p *connPool) takeIdle() *ldap.Conn {
	for {
		select {
		case conn := <-p.idle:
			if !conn.IsClosing() {
				return conn
			}
		default:
			return nil
		}
	}
}

// put returns a connection to the pool, or closes it, and frees its slot.
func (p *connPool) put(conn *ldap.Conn, reusable bool) {
	defer func() { <-p.slots }()
	p.mu.Lock()
	defer p.mu.Unlock()
	if !reusable || p.closed || conn.IsClosing() {
		_ = conn.Close()
		return
	}
	// idle has room for max connections and at most max are open, so this
	// never blocks.
	p.idle <- conn
}

func (p *connPool) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// close closes the idle connections and stops the pool; connections in use
// are closed when they come back.
func (p *connPool) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.closeIdle()
}

// closeIdle closes the connections waiting to be reused.
func (p *connPool) closeIdle() {
	for {
		select {
		case conn := <-p.idle:
			_ = conn.Close()
		default:
			return
		}
	}
}
