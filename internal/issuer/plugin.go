package issuer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/beevik/etree"
	"github.com/russellhaering/goxmldsig/etreeutils"

	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/saml"
	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/tokenreview"
	"github.com/trustbroker/trustbroker/internal/wssec"
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
	// AttributeName) or SAML 2.0 (Name, NameFormat). Custom tokens use SAML20.
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

// customTokenType is the type URI of a token that is neither a
// UsernameToken nor a SAML assertion: a BinarySecurityToken's ValueType,
// else the namespace of the token element. "" when it has none.
func customTokenType(el *etree.Element) string {
	if soap.IsElement(el, wssec.NSSecExt, "BinarySecurityToken") {
		return strings.TrimSpace(el.SelectAttrValue("ValueType", ""))
	}
	return el.NamespaceURI()
}

// pluginIdentity has a custom token reviewed by the webhook of the trusted
// issuer that validates its type, and returns whom the webhook says it
// names. The type must be listed in onBehalfOf.allowedTokenTypes, and the
// issuer's allowedUsages must include the use. Whatever keeps the webhook
// from answering clearly refuses the token.
func (is *Issuer) pluginIdentity(ctx context.Context, snap *policy.Snapshot, el *etree.Element, req *Request, use tokenUse) (*Identity, error) {
	t := customTokenType(el)
	if t == "" || !snap.STS.OnBehalfOf.AllowsTokenType(t) {
		return nil, soap.NewFault(soap.InvalidRequest, use.what+" is of a kind this STS does not accept.",
			fmt.Errorf("token {%s}%s of type %q is not in onBehalfOf.allowedTokenTypes", truncate(el.NamespaceURI(), 120), truncate(el.Tag, 60), truncate(t, 120)))
	}
	// From here on t is a configured value, not request content.
	ti, ok := snap.TokenReviewerFor(t)
	if !ok {
		return nil, soap.NewFault(soap.RequestFailed,
			fmt.Sprintf("%s is of type %s, which no trusted issuer of this STS validates.", use.what, t),
			fmt.Errorf("token type %s is in onBehalfOf.allowedTokenTypes, but no TrustedIssuer of SecurityTokenService %s/%s has it in spec.tokenTypes with a spec.webhook: add one",
				t, snap.STS.Namespace, snap.STS.Name))
	}
	if !ti.AllowsUsage(use.usage) {
		return nil, soap.NewFault(soap.InvalidRequest, fmt.Sprintf("%s is of type %s, whose tokens may not be used for %s.", use.what, t, use.usage),
			fmt.Errorf("TrustedIssuer %s/%s allows %v", ti.Namespace, ti.Name, ti.AllowedUsages))
	}
	client, err := is.reviewers.client(snap, ti)
	if err != nil {
		return nil, soap.NewFault(soap.RequestFailed, use.what+" cannot be checked at the moment.", fmt.Errorf("TrustedIssuer %s/%s: %w", ti.Namespace, ti.Name, err))
	}
	token, err := standalone(el)
	if err != nil {
		return nil, soap.NewFault(soap.InvalidRequest, use.what+" cannot be read.", err)
	}
	var audiences []string
	for _, a := range []string{snap.STS.Issuer, snap.STS.Endpoint} {
		if a != "" {
			audiences = append(audiences, a)
		}
	}
	answer, err := client.Review(ctx, tokenreview.Request{TokenType: t, Token: token, Usage: use.usage, Audiences: audiences})
	if err != nil {
		// The webhook, not the token, failed: a receiver fault, so Validate
		// does not report the token invalid either.
		return nil, soap.NewFault(soap.RequestFailed, use.what+" cannot be checked at the moment.",
			fmt.Errorf("TrustedIssuer %s/%s webhook %s: %w", ti.Namespace, ti.Name, ti.Webhook.URL, err))
	}
	if !answer.Authenticated {
		return nil, soap.NewFault(soap.InvalidSecurityToken, use.what+" is not valid.",
			fmt.Errorf("TrustedIssuer %s/%s webhook refused a token of type %s: %q", ti.Namespace, ti.Name, t, truncate(answer.Reason, 200)))
	}
	if answer.Expires != nil && !req.Now.Add(-snap.STS.MaxClockSkew).Before(*answer.Expires) {
		return nil, soap.NewFault(soap.InvalidSecurityToken, use.what+" has expired.",
			fmt.Errorf("TrustedIssuer %s/%s webhook: expired at %s", ti.Namespace, ti.Name, answer.Expires.UTC().Format(time.RFC3339)))
	}
	return &Identity{
		Subject:      saml.Subject{NameID: answer.Subject},
		Attributes:   reviewedAttributes(answer.Attributes),
		Version:      saml.SAML20,
		Authn:        saml.AuthnUnspecified,
		AuthnInstant: req.Now,
		Issuer:       ti.Issuer,
	}, nil
}

// reviewedAttributes are a webhook's attributes as SAML 2.0 URI-named
// attributes, ordered by name so that equal answers give equal tokens.
func reviewedAttributes(m map[string][]string) []saml.Attribute {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]saml.Attribute, 0, len(names))
	for _, n := range names {
		if len(m[n]) == 0 {
			continue
		}
		out = append(out, saml.Attribute{Name: n, Namespace: saml.AttrNameFormatURI, Values: append([]string(nil), m[n]...)})
	}
	return out
}

// standalone serialises el with every namespace it inherits declared on
// it, so the webhook can parse it alone.
func standalone(el *etree.Element) ([]byte, error) {
	ctx, err := etreeutils.NSBuildParentContext(el)
	if err != nil {
		return nil, fmt.Errorf("reading the token's namespaces: %w", err)
	}
	cp, err := etreeutils.NSDetatch(ctx, el)
	if err != nil {
		return nil, fmt.Errorf("detaching the token: %w", err)
	}
	// Written exactly, so that the token's signature still verifies.
	return soap.SerializeExact(cp), nil
}

// webhookClients keeps one tokenreview client per webhook configuration,
// so connections to a webhook are reused across requests and survive
// policy reloads that do not change it.
type webhookClients struct {
	mu      sync.Mutex
	gen     uint64
	clients map[string]*tokenreview.Client
}

// client returns the client for ti's webhook in snap. On a new policy
// generation the clients of webhooks it no longer has are closed.
func (w *webhookClients) client(snap *policy.Snapshot, ti *policy.TrustedIssuer) (*tokenreview.Client, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.clients == nil {
		w.clients = map[string]*tokenreview.Client{}
	}
	if w.gen != snap.Generation {
		live := map[string]bool{}
		for _, t := range snap.TrustedIssuers {
			if t.Webhook != nil {
				live[webhookKey(t.Webhook)] = true
			}
		}
		for k, c := range w.clients {
			if !live[k] {
				c.Close()
				delete(w.clients, k)
			}
		}
		w.gen = snap.Generation
	}
	key := webhookKey(ti.Webhook)
	if c, ok := w.clients[key]; ok {
		return c, nil
	}
	c, err := tokenreview.New(tokenreview.Config{URL: ti.Webhook.URL, CAs: ti.Webhook.CAs, Timeout: ti.Webhook.Timeout})
	if err != nil {
		return nil, err
	}
	w.clients[key] = c
	return c, nil
}

// webhookKey identifies a webhook configuration: URL, timeout and CAs.
func webhookKey(h *policy.Webhook) string {
	d := sha256.New()
	fmt.Fprintf(d, "%d\x00%s\x00%d\x00", len(h.URL), h.URL, h.Timeout)
	for _, c := range h.CAs {
		sum := sha256.Sum256(c.Raw)
		d.Write(sum[:])
	}
	return hex.EncodeToString(d.Sum(nil))
}
