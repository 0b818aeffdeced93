package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ConditionWSFederation on a RelyingParty says whether browsers can sign in
// to it with WS-Federation passive sign-in: True with reason Configured, or
// NotRequired when spec.wsFederation is absent; False with reason
// InsecureReplyURL or InvalidReplyURL and a message naming the URL, while
// the STS refuses passive sign-in for the relying party (its WS-Trust
// requests are still served).
const ConditionWSFederation = "WSFederation"

// Reasons of the WSFederation condition.
const (
	// ReasonConfigured: passive sign-in is served.
	ReasonConfigured = "Configured"
	// ReasonInsecureReplyURL: a reply URL is not https, so the token would
	// cross the network in clear.
	ReasonInsecureReplyURL = "InsecureReplyURL"
	// ReasonInvalidReplyURL: a reply URL is not an absolute URL without a
	// fragment.
	ReasonInvalidReplyURL = "InvalidReplyURL"
)

// WSFederationSpec lets browsers sign in to the relying party with
// WS-Federation passive sign-in at the STS's /adfs/ls/: the request's
// wtrealm is the relying party's endpoint, and the token is posted back to
// one of its reply URLs.
type WSFederationSpec struct {
	// ReplyURLs are where the browser may return with the token: https URLs
	// of the application, for example "https://app.example.com/signin-wsfed".
	// A request's wreply must equal one of them; without wreply the first is
	// used. Any other wreply is refused, never redirected to.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.all(u, isURL(u) && url(u).getScheme() in ['http', 'https'] && url(u).getHostname() != '' && !u.contains('#'))",message="each replyURL must be an absolute URL without a fragment, such as https://app.example.com/signin-wsfed (https: passive sign-in refuses others)"
	// +listType=set
	ReplyURLs []string `json:"replyURLs"`

	// TokenType is the token posted back: SAML11 (default, as AD FS sends
	// to WS-Federation applications) or SAML20.
	// +optional
	// +kubebuilder:default=SAML11
	TokenType TokenType `json:"tokenType,omitempty"`
}

// SignInPageSpec brands the WS-Federation passive sign-in page and keeps
// its single sign-on sessions.
type SignInPageSpec struct {
	// Title heads the page, for example "Example Corp sign-in". Defaults to
	// "Sign in".
	// +optional
	// +kubebuilder:validation:MaxLength=128
	Title string `json:"title,omitempty"`

	// LogoURL is an https URL of an image shown above the form.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() == 'https'",message="logoURL must be an https URL"
	LogoURL string `json:"logoURL,omitempty"`

	// Color is the page's accent colour, as #rrggbb.
	// +optional
	// +kubebuilder:validation:Pattern=`^#[0-9a-fA-F]{6}$`
	Color string `json:"color,omitempty"`

	// SessionKeySecretRef names a Secret holding at least 32 random bytes
	// (key "session.key", or the key given here) from which the keys that
	// sign and encrypt sign-in sessions and forms are derived. Every replica
	// reading the same Secret lets a session started on one pod continue on
	// another. Without it each pod generates its own key at start: sessions
	// then last only on the pod that made them, and end with it.
	// +optional
	SessionKeySecretRef *SecretKeySelector `json:"sessionKeySecretRef,omitempty"`

	// SessionLifetime is how long a sign-in lets the browser obtain tokens
	// for other relying parties without signing in again, as a duration such
	// as "8h" (default); at most 24h.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') && duration(self) > duration('0s') && duration(self) <= duration('24h')",message="sessionLifetime must be a duration such as 8h, greater than zero and at most 24h"
	SessionLifetime *metav1.Duration `json:"sessionLifetime,omitempty"`
}
