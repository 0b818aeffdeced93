package source

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"

	"github.com/trustbroker/trustbroker/internal/policy"
)

// TestWSFederationSettings: spec.wsFederation reaches the relying party's
// policy with the SAML 1.1 default; a reply URL that is not https leaves
// the relying party served for WS-Trust but without passive sign-in, and
// the log says why.
func TestWSFederationSettings(t *testing.T) {
	for _, tc := range []struct {
		name, wsfed string
		want        *policy.WSFederation
		log         string
	}{
		{"absent", "", nil, ""},
		{"https, default token type", "  wsFederation:\n    replyURLs: [\"https://app.example.com/signin\"]\n",
			&policy.WSFederation{ReplyURLs: []string{"https://app.example.com/signin"}, TokenType: policy.SAML11}, ""},
		{"SAML 2.0", "  wsFederation:\n    replyURLs: [\"https://app.example.com/a\", \"https://app.example.com/b\"]\n    tokenType: SAML20\n",
			&policy.WSFederation{ReplyURLs: []string{"https://app.example.com/a", "https://app.example.com/b"}, TokenType: policy.SAML20}, ""},
		{"plain HTTP", "  wsFederation:\n    replyURLs: [\"https://app.example.com/a\", \"http://app.example.com/b\"]\n", nil,
			"passive sign-in refused for this relying party"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := standaloneFolder(t)
			raw, err := os.ReadFile(filepath.Join(dir, "relyingparties.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			const anchor = "  includeMemberships: true\n"
			writeFile(t, dir, "relyingparties.yaml", strings.Replace(string(raw), anchor, anchor+tc.wsfed, 1))
			s, logs := newLoggingSource(t, dir)
			if err := s.Load(); err != nil {
				t.Fatal(err)
			}
			rp, ok := s.Holder.Load().RelyingPartyFor("https://localhost:9444/services/echo")
			if !ok {
				t.Fatal("the relying party is not served")
			}
			got := rp.WSFederation
			if (got == nil) != (tc.want == nil) || (got != nil && (!slices.Equal(got.ReplyURLs, tc.want.ReplyURLs) || got.TokenType != tc.want.TokenType)) {
				t.Errorf("wsFederation %+v, want %+v", got, tc.want)
			}
			if tc.log != "" && (!strings.Contains(logs.String(), tc.log) || !strings.Contains(logs.String(), "http://app.example.com/b")) {
				t.Errorf("the log does not say %q for the URL:\n%s", tc.log, logs.String())
			}
		})
	}
}

// TestSignInPageSettings: spec.signInPage reaches the policy with its
// defaults; a session key Secret that holds too little is not used, and
// the log says each pod keeps its own key.
func TestSignInPageSettings(t *testing.T) {
	for _, tc := range []struct {
		name, page, key string
		want            policy.SignInPage
		log             string
	}{
		{"absent", "", "", policy.SignInPage{Title: "Sign in", SessionLifetime: 8 * time.Hour}, ""},
		{"branded with a key", "  signInPage:\n    title: Corp\n    color: \"#123456\"\n    sessionKeySecretRef: {name: session}\n    sessionLifetime: 1h\n",
			strings.Repeat("k", 40), policy.SignInPage{Title: "Corp", Color: "#123456", SessionKey: []byte(strings.Repeat("k", 40)), SessionLifetime: time.Hour}, ""},
		{"a short key", "  signInPage:\n    sessionKeySecretRef: {name: session}\n", "short",
			policy.SignInPage{Title: "Sign in", SessionLifetime: 8 * time.Hour}, "at least 32 random bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := standaloneFolder(t)
			raw, err := os.ReadFile(filepath.Join(dir, "sts.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, dir, "sts.yaml", string(raw)+tc.page)
			if tc.key != "" {
				writeFile(t, dir, "session.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: session}\nstringData:\n  session.key: "+tc.key+"\n")
			}
			s, logs := newLoggingSource(t, dir)
			if err := s.Load(); err != nil {
				t.Fatal(err)
			}
			got := s.Holder.Load().STS.SignInPage
			if got.Title != tc.want.Title || got.Color != tc.want.Color || string(got.SessionKey) != string(tc.want.SessionKey) || got.SessionLifetime != tc.want.SessionLifetime {
				t.Errorf("signInPage %+v, want %+v", got, tc.want)
			}
			if tc.log != "" && !strings.Contains(logs.String(), tc.log) {
				t.Errorf("the log does not say %q:\n%s", tc.log, logs.String())
			}
		})
	}
}

// newLoggingSource is newSource with its log kept.
func newLoggingSource(t *testing.T, dir string) (*FolderSource, *strings.Builder) {
	t.Helper()
	s := newSource(t, dir)
	logs := &strings.Builder{}
	s.Log = funcr.New(func(prefix, args string) { logs.WriteString(prefix + " " + args + "\n") }, funcr.Options{})
	return s, logs
}
