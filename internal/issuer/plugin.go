package issuer

import (
	"context"
	"fmt"
	"time"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/saml"
)

// Identity is who a presented token (in OnBehalfOf, ActAs or a Validate
// target) names: what a translated or exchanged token carries over.
type Identity struct {
	// Subject is the NameID, carried over with its format and qualifier.
	Subject saml.Subject
	// User is the local user a UsernameToken named; its roles and attributes
	// go through the relying party's mapping as an authenticated caller's
	// do. Nil for other tokens.
	User *policy.User
	// Attributes are the token's attributes named as in Version.
	Attributes []saml.Attribute
	// Version is how Attributes are named: SAML 1.1 (AttributeNamespace +
	// AttributeName) or SAML 2.0 (Name, NameFormat). Plug-ins use SAML20.
	Version saml.Version
	// Authn is how, and AuthnInstant when, the subject authenticated.
	Authn        saml.AuthnKind
	AuthnInstant time.Time
	// Issuer issued the presented token ("" for a UsernameToken).
	Issuer string
	// Actors are the actors the presented token already records.
	Actors []string
	// Assertion is the verified SAML assertion, nil for other tokens; an
	// ActAs token is carried in the Advice of a SAML 2.0 result.
	Assertion *etree.Element
}

// TokenHandler validates a custom token type: a plug-in consulted for
// OnBehalfOf, ActAs and Validate tokens that are neither UsernameTokens
// nor SAML assertions, when its TokenType is listed in the STS's
// onBehalfOf.allowedTokenTypes.
type TokenHandler interface {
	// TokenType is the token type URI, as listed in allowedTokenTypes.
	TokenType() string
	// Match reports whether el is a token of this type; it must be cheap
	// and must not fail.
	Match(el *etree.Element) bool
	// Validate checks the token (signature, validity at now) and returns
	// whom it names. A token the caller got wrong is a *soap.Fault.
	Validate(ctx context.Context, el *etree.Element, now time.Time) (*Identity, error)
}

// Register adds a token plug-in. A second handler for the same token type
// is refused, so a configuration cannot silently replace one.
func (is *Issuer) Register(h TokenHandler) error {
	is.mu.Lock()
	defer is.mu.Unlock()
	if h == nil || h.TokenType() == "" {
		return fmt.Errorf("issuer: a token handler needs a token type")
	}
	if is.handlers == nil {
		is.handlers = map[string]TokenHandler{}
	}
	if _, dup := is.handlers[h.TokenType()]; dup {
		return fmt.Errorf("issuer: a handler for token type %q is already registered", h.TokenType())
	}
	is.handlers[h.TokenType()] = h
	return nil
}

// handlerFor returns the plug-in that matches el among the allowed types.
func (is *Issuer) handlerFor(el *etree.Element, allowed func(string) bool) TokenHandler {
	is.mu.Lock()
	defer is.mu.Unlock()
	for t, h := range is.handlers {
		if allowed(t) && h.Match(el) {
			return h
		}
	}
	return nil
}
