package source

import (
	"fmt"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
	"github.com/trustbroker/trustbroker/internal/policy"
)

const (
	msgPassiveSignInRefused = "passive sign-in refused for this relying party until spec.wsFederation is fixed; its WS-Trust requests are served"
	msgSessionKeyPerPod     = "each pod signs its sign-in sessions with a key of its own until the session key Secret is fixed: single sign-on lasts only on the pod that signed the user in"
)

// wsFederationPolicy is a relying party's passive sign-in, nil when it has
// none or when a reply URL is unusable (every reply URL must be, so that a
// typo cannot leave the relying party half served).
func wsFederationPolicy(spec *stsv1alpha1.WSFederationSpec) (*policy.WSFederation, error) {
	if spec == nil {
		return nil, nil
	}
	if len(spec.ReplyURLs) == 0 {
		return nil, fmt.Errorf("spec.wsFederation.replyURLs is empty")
	}
	for _, u := range spec.ReplyURLs {
		if err := policy.CheckReplyURL(u); err != nil {
			return nil, fmt.Errorf("spec.wsFederation: %w", err)
		}
	}
	return &policy.WSFederation{
		ReplyURLs: spec.ReplyURLs,
		TokenType: policy.TokenType(stringOr(string(spec.TokenType), string(policy.SAML11))),
	}, nil
}

// signInPagePolicy is the STS's passive sign-in page. A session key Secret
// that cannot be read, or holds too little, leaves each process with a key
// of its own, and report says so.
func signInPagePolicy(spec *stsv1alpha1.SignInPageSpec, r resolver, report func(err error, msg string)) policy.SignInPage {
	p := policy.SignInPage{Title: "Sign in", SessionLifetime: policy.DefaultSessionLifetime}
	if spec == nil {
		return p
	}
	p.Title = stringOr(spec.Title, p.Title)
	p.LogoURL, p.Color = spec.LogoURL, spec.Color
	p.SessionLifetime = durationOr(spec.SessionLifetime, p.SessionLifetime)
	if ref := spec.SessionKeySecretRef; ref != nil {
		key, err := r.secretKey(*ref, "session.key")
		if err == nil && len(key) < policy.MinSessionKeyBytes {
			err = fmt.Errorf("Secret %s holds %d bytes; at least %d random bytes are needed", ref.Name, len(key), policy.MinSessionKeyBytes)
		}
		if err != nil {
			report(fmt.Errorf("signInPage.sessionKeySecretRef: %w", err), msgSessionKeyPerPod)
		} else {
			p.SessionKey = key
		}
	}
	return p
}
