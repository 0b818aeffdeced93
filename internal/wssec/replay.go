package wssec

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"time"

	"github.com/trustbroker/trustbroker/internal/soap"
)

// ReplayStore remembers keys for a while. Implementations are safe for
// concurrent use; an in-memory one serves a single replica, a shared one
// (Redis) all replicas of an STS.
type ReplayStore interface {
	// Seen records key for ttl and reports whether it was already recorded
	// and not yet expired, in one atomic step: of two concurrent calls with
	// the same key exactly one gets false. An error means nothing is known
	// and the caller must refuse the message.
	Seen(ctx context.Context, key string, ttl time.Duration) (bool, error)
	// Holds reports whether key is recorded and not yet expired, without
	// recording it (for lists kept in the store, such as cancelled tokens).
	Holds(ctx context.Context, key string) (bool, error)
}

// Key prefixes keep the two kinds of key apart in a shared store.
const (
	utKeyPrefix      = "wssec:ut:"
	messageKeyPrefix = "wssec:msg:"
)

// UsernameTokenReplayKey is the replay key of a UsernameToken's nonce: a
// SHA-256 of username, nonce and Created as sent. The digest of a
// PasswordDigest token covers nonce and Created, and another username would
// be checked against another password, so a replayed token cannot be
// altered to get a fresh key. ok is false for a token without a nonce, which
// has nothing to remember.
func UsernameTokenReplayKey(ut *UsernameToken) (key string, ok bool) {
	if ut == nil || len(ut.Nonce) == 0 {
		return "", false
	}
	h := sha256.New()
	writeField(h, []byte(ut.Username))
	writeField(h, ut.Nonce)
	writeField(h, []byte(ut.CreatedText))
	return utKeyPrefix + hex.EncodeToString(h.Sum(nil)), true
}

// MessageReplayKey is the replay key of a signed message: a SHA-256 of the
// references in the SignedInfo of every ds:Signature of the header (URI,
// digest algorithm, decoded digest value), in document order.
//
// Why the signed references, and neither the canonical message bytes nor
// the Timestamp: everything outside a signature can be changed by whoever
// replays the message (whitespace, unsigned headers, an unsigned
// Timestamp), so a key over those bytes is trivially dodged; the
// SignatureValue itself is malleable for ECDSA (s and n−s both verify). The
// digests inside SignedInfo are fixed by the signed content and protected by
// the signature, so a replay can only change them by breaking it. The key
// is therefore meaningful only once every signature of the header has been
// verified (an unverified extra signature would change it) and the
// signature covers the Timestamp (which bounds how long the key is kept).
//
// ok is false when the header carries no signature with references: an
// unsigned message has nothing a replay cannot change, and is protected by
// TLS and, for digest passwords, by the nonce instead.
func MessageReplayKey(h *Header) (key string, ok bool) {
	if h == nil {
		return "", false
	}
	sum := sha256.New()
	n := 0
	for _, sig := range h.Signatures {
		si := soap.ChildElement(sig, NSDSig, "SignedInfo")
		if si == nil {
			continue
		}
		for _, ref := range si.ChildElements() {
			if !soap.IsElement(ref, NSDSig, "Reference") {
				continue
			}
			dv := soap.ChildElement(ref, NSDSig, "DigestValue")
			if dv == nil {
				continue
			}
			text, err := textContent(dv)
			if err != nil {
				continue
			}
			value, err := decodeBase64(text, 1<<10)
			if err != nil || len(value) == 0 {
				continue
			}
			uri, _ := soap.AttrNS(ref, "", "URI")
			alg := ""
			if dm := soap.ChildElement(ref, NSDSig, "DigestMethod"); dm != nil {
				alg, _ = soap.AttrNS(dm, "", "Algorithm")
			}
			writeField(sum, []byte(collapse(uri)))
			writeField(sum, []byte(collapse(alg)))
			writeField(sum, value)
			n++
		}
	}
	if n == 0 {
		return "", false
	}
	return messageKeyPrefix + hex.EncodeToString(sum.Sum(nil)), true
}

// writeField writes a length-prefixed field so that no two different field
// lists hash the same bytes.
func writeField(h hash.Hash, b []byte) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(b)))
	h.Write(n[:])
	h.Write(b)
}

// ReplayGuard records the parts of a message that make it unique, and
// refuses a message whose record exists. Detection is always on: a signed
// message, a UsernameToken nonce and a Kerberos authenticator (see
// KerberosVerifier.Verify) are each remembered for as long as the freshness
// checks would accept them, so a replay after that is refused as expired.
// Records are made only for parts whose signature, password or ticket was
// verified: otherwise anyone could fill the store.
type ReplayGuard struct {
	Store ReplayStore
	// MaxSkew is the clock skew allowed by the freshness checks.
	MaxSkew time.Duration
	// MaxMessageAge bounds how long a Timestamp or a UsernameToken's
	// Created stays acceptable.
	MaxMessageAge time.Duration
}

// minReplayTTL keeps a key at least this long even when its token is about
// to expire, so that a store with coarse expiry still sees the duplicate.
const minReplayTTL = time.Second

var errReplayed = errors.New("replay detected")

// Message records the signed message of header h, whose signature has been
// verified and covers its Timestamp, and refuses it if it was seen before.
func (g *ReplayGuard) Message(ctx context.Context, h *Header, now time.Time) error {
	key, ok := MessageReplayKey(h)
	if !ok || h.Timestamp == nil {
		return soap.NewFault(soap.InvalidSecurity, "a signed request must carry a wsu:Timestamp that the signature covers", errors.New("no replay key"))
	}
	ttl := h.Timestamp.Deadline(g.MaxMessageAge).Add(g.MaxSkew).Sub(now)
	return g.seen(ctx, key, ttl, "the message was already received")
}

// UsernameToken records the nonce of a UsernameToken whose password has
// been verified, and refuses it if it was used before. A token without a
// nonce has nothing to record (PasswordText over TLS; a digest token needs
// one, see CheckUsernameTokenFreshness).
func (g *ReplayGuard) UsernameToken(ctx context.Context, ut *UsernameToken, now time.Time) error {
	key, ok := UsernameTokenReplayKey(ut)
	if !ok {
		return nil
	}
	start := now
	if ut.CreatedText != "" {
		start = ut.Created
	}
	ttl := start.Add(maxMessageAge(g.MaxMessageAge) + g.MaxSkew).Sub(now)
	return g.seen(ctx, key, ttl, "the UsernameToken nonce was already used")
}

func (g *ReplayGuard) seen(ctx context.Context, key string, ttl time.Duration, reason string) error {
	ttl = max(ttl, minReplayTTL)
	dup, err := g.Store.Seen(ctx, key, ttl)
	if err != nil {
		return soap.NewFault(soap.RequestFailed, "replay detection is unavailable", fmt.Errorf("replay store: %w", err))
	}
	if dup {
		return soap.NewFault(soap.InvalidSecurity, reason, errReplayed)
	}
	return nil
}
