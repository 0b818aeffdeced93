package policy

import (
	"errors"
	"fmt"
	"net/url"
	"time"
)

// WSFederation is a relying party's WS-Federation passive sign-in.
type WSFederation struct {
	// ReplyURLs are the only places the token is posted to; the first is
	// the default.
	ReplyURLs []string
	// TokenType is the token posted: SAML11 unless the relying party asks.
	TokenType TokenType
}

// SignInPage brands the passive sign-in page and keeps its sessions.
type SignInPage struct {
	Title, LogoURL, Color string
	// SessionKey is the secret the session and form keys derive from; nil
	// makes each process generate its own.
	SessionKey []byte
	// SessionLifetime is how long a sign-in is good for single sign-on.
	SessionLifetime time.Duration
}

// MinSessionKeyBytes is the least secret a session key Secret must hold.
const MinSessionKeyBytes = 32

// DefaultSessionLifetime is how long a passive sign-in session lasts by default.
const DefaultSessionLifetime = 8 * time.Hour

// ErrInsecureReplyURL marks a reply URL that is not https.
var ErrInsecureReplyURL = errors.New("is not https: the token would cross the network in clear")

// CheckReplyURL says whether a passive sign-in may post a token to raw: an
// absolute https URL with a host and no fragment. A URL that is only not
// https wraps ErrInsecureReplyURL.
func CheckReplyURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return fmt.Errorf("replyURL %q is not a URL: %w", raw, err)
	case !u.IsAbs() || u.Host == "" || u.Fragment != "" || u.User != nil:
		return fmt.Errorf("replyURL %q is not an absolute URL with a host, no user and no fragment", raw)
	case u.Scheme != "https":
		return fmt.Errorf("replyURL %q %w", raw, ErrInsecureReplyURL)
	}
	return nil
}
