package server_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/trustbroker/trustbroker/internal/client"
	"github.com/trustbroker/trustbroker/internal/testfixture"
	"github.com/trustbroker/trustbroker/internal/testtools"
	"github.com/trustbroker/trustbroker/internal/wssec"
)

const passiveRP = `apiVersion: sts.trustbroker.io/v1alpha1
kind: RelyingParty
metadata:
  name: wsfed
spec:
  stsRef: {name: dev-sts}
  endpoint: urn:example:wsfed
  wsFederation:
    replyURLs: ["https://app.example.com/signin", "https://app.example.com/other"]
`

// passiveClient is a browser-like client of the passive endpoint over TLS:
// it keeps cookies and does not follow the token's form post.
type passiveClient struct {
	t    *testing.T
	base string
	http *http.Client
}

func startPassive(t *testing.T) (*testfixture.STS, *passiveClient) {
	t.Helper()
	sts := testfixture.StartSTS(t, map[string]string{"wsfed.yaml": passiveRP})
	return sts, tlsClient(t, sts)
}

// tlsClient is a fresh browser of sts's passive endpoint over TLS.
func tlsClient(t *testing.T, sts *testfixture.STS) *passiveClient {
	t.Helper()
	base, caFile := sts.ServeTLS(t)
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	jar, _ := cookiejar.New(nil)
	return &passiveClient{t: t, base: base, http: &http.Client{Jar: jar, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}}
}

// get fetches the passive endpoint with query q.
func (c *passiveClient) get(q url.Values) (*http.Response, string) {
	c.t.Helper()
	resp, err := c.http.Get(c.base + "/adfs/ls/?" + q.Encode())
	if err != nil {
		c.t.Fatal(err)
	}
	return resp, readAll(c.t, resp)
}

// post posts a sign-in form.
func (c *passiveClient) post(state, username, password string) (*http.Response, string) {
	c.t.Helper()
	resp, err := c.http.PostForm(c.base+"/adfs/ls/", url.Values{"state": {state}, "username": {username}, "password": {password}})
	if err != nil {
		c.t.Fatal(err)
	}
	return resp, readAll(c.t, resp)
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

var stateField = regexp.MustCompile(`name="state" value="([^"]+)"`)

func formState(t *testing.T, page string) string {
	t.Helper()
	m := stateField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no sign-in form:\n%s", page)
	}
	return html.UnescapeString(m[1])
}

func signIn(wctx string) url.Values {
	return url.Values{"wa": {"wsignin1.0"}, "wtrealm": {"urn:example:wsfed"}, "wreply": {"https://app.example.com/other"}, "wctx": {wctx}}
}

// TestPassiveSignInPage: the form and the token's post carry the security
// headers, never reflect input unescaped, and post to the reply URL asked.
func TestPassiveSignInPage(t *testing.T) {
	_, c := startPassive(t)
	const hostile = `"><script>alert(1)</script>`
	resp, page := c.get(signIn(hostile))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d:\n%s", resp.StatusCode, page)
	}
	checkPageHeaders(t, resp, "form-action 'self'")
	if strings.Contains(page, "<script>alert") {
		t.Error("the sign-in page reflects wctx unescaped")
	}
	for _, cookie := range resp.Cookies() {
		if cookie.Name == "__Host-TBSignIn" && (!cookie.Secure || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/" || cookie.Domain != "") {
			t.Errorf("form cookie %+v, want Secure, HttpOnly, SameSite=Strict on / without Domain", cookie)
		}
	}

	resp, post := c.post(formState(t, page), "alice", "alice-password")
	if resp.StatusCode != http.StatusOK || !strings.Contains(post, `action="https://app.example.com/other"`) || !strings.Contains(post, `name="wresult"`) {
		t.Fatalf("status %d, want the token posted to the reply URL asked:\n%s", resp.StatusCode, post)
	}
	checkPageHeaders(t, resp, "form-action https://app.example.com")
	if strings.Contains(post, "<script>alert") || !strings.Contains(post, html.EscapeString(hostile)) {
		t.Errorf("wctx is not posted back escaped:\n%s", post)
	}
	var session *http.Cookie
	for _, cookie := range resp.Cookies() {
		if cookie.Name == "__Host-TBSession" {
			session = cookie
		}
	}
	if session == nil || !session.Secure || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.Path != "/" || session.Domain != "" {
		t.Errorf("session cookie %+v, want Secure, HttpOnly, SameSite=Lax on / without Domain (a __Host- cookie)", session)
	}
}

func checkPageHeaders(t *testing.T, resp *http.Response, formAction string) {
	t.Helper()
	h := resp.Header
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", formAction} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if h.Get("X-Frame-Options") != "DENY" || h.Get("Cache-Control") != "no-store" || !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
		t.Errorf("headers %v", h)
	}
}

// TestPassiveRefusals: what is refused, with a page that says why and no
// token.
func TestPassiveRefusals(t *testing.T) {
	for _, tc := range []struct {
		name   string
		query  url.Values
		status int
		says   string
	}{
		{"unregistered wreply", url.Values{"wa": {"wsignin1.0"}, "wtrealm": {"urn:example:wsfed"}, "wreply": {"https://evil.example.net/"}}, http.StatusBadRequest, "has not registered"},
		{"a reply URL that only starts like a registered one", url.Values{"wa": {"wsignin1.0"}, "wtrealm": {"urn:example:wsfed"}, "wreply": {"https://app.example.com/signin.evil"}}, http.StatusBadRequest, "has not registered"},
		{"a relying party without wsFederation", url.Values{"wa": {"wsignin1.0"}, "wtrealm": {"https://localhost:9444/services/echo"}}, http.StatusBadRequest, "not registered for sign-in"},
		{"no realm", url.Values{"wa": {"wsignin1.0"}}, http.StatusBadRequest, "wtrealm"},
		{"an unknown action", url.Values{"wa": {"wattr1.0"}}, http.StatusBadRequest, "open the application"},
		{"an overlong wctx", signIn(strings.Repeat("x", 5000)), http.StatusBadRequest, "too long"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, c := startPassive(t)
			resp, page := c.get(tc.query)
			if resp.StatusCode != tc.status || !strings.Contains(page, tc.says) || strings.Contains(page, "wresult") {
				t.Errorf("status %d, want %d and a page saying %q:\n%s", resp.StatusCode, tc.status, tc.says, page)
			}
			if loc := resp.Header.Get("Location"); loc != "" {
				t.Errorf("redirected to %s", loc)
			}
		})
	}
}

// TestPassiveForms: a form posted without its browser's cookie (cross-site
// request forgery), posted twice, or altered is refused; a user locked out
// after failed attempts stays out with the right password, told only that
// sign-in failed.
func TestPassiveForms(t *testing.T) {
	_, c := startPassive(t)
	_, page := c.get(signIn("ctx"))
	state := formState(t, page)

	jar, _ := cookiejar.New(nil)
	other := &passiveClient{t: t, base: c.base, http: &http.Client{Jar: jar, Transport: c.http.Transport}}
	if resp, body := other.post(state, "alice", "alice-password"); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "not opened in this browser") {
		t.Errorf("another browser posting the form: %d\n%s", resp.StatusCode, body)
	}

	if resp, body := c.post(state, "alice", "alice-password"); resp.StatusCode != http.StatusOK || !strings.Contains(body, "wresult") {
		t.Fatalf("the form's own browser: %d\n%s", resp.StatusCode, body)
	}
	if resp, body := c.post(state, "alice", "alice-password"); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "already used") {
		t.Errorf("the form posted again: %d\n%s", resp.StatusCode, body)
	}
	if resp, body := c.post(state[:len(state)-4]+"AAAA", "alice", "alice-password"); resp.StatusCode != http.StatusBadRequest || strings.Contains(body, "wresult") {
		t.Errorf("an altered form: %d\n%s", resp.StatusCode, body)
	}

	// The sample locks a user out after 10 failures.
	_, c = startPassive(t)
	_, page = c.get(url.Values{"wa": {"wsignin1.0"}, "wtrealm": {"urn:example:wsfed"}})
	for range 10 {
		_, page = c.post(formState(t, page), "dave", "wrong")
	}
	resp, body := c.post(formState(t, page), "dave", "dave-password")
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "user name or password is incorrect") || strings.Contains(body, "wresult") {
		t.Errorf("a locked-out user with the right password: %d\n%s", resp.StatusCode, body)
	}
}

// TestPassiveNeedsTLS: passwords are not taken over plain HTTP.
func TestPassiveNeedsTLS(t *testing.T) {
	sts := testfixture.StartSTS(t, map[string]string{"wsfed.yaml": passiveRP})
	resp, err := http.Get(strings.TrimSuffix(sts.URL, "/sts") + "/adfs/ls/?" + signIn("").Encode())
	if err != nil {
		t.Fatal(err)
	}
	if page := readAll(t, resp); resp.StatusCode != http.StatusForbidden || !strings.Contains(page, "HTTPS only") {
		t.Errorf("over plain HTTP: %d\n%s", resp.StatusCode, page)
	}
}

// FuzzPassivePost posts arbitrary forms and cookies to the passive
// endpoint: the answer is always a page, never a token, never a crash.
func FuzzPassivePost(f *testing.F) {
	f.Add("state=abc&username=alice&password=x", "__Host-TBSignIn=abc")
	f.Add("state="+strings.Repeat("A", 9000), "")
	f.Add("%zz", "__Host-TBSession=%00")
	sts := testfixture.StartSTS(f, map[string]string{"wsfed.yaml": passiveRP})
	sts.Server.AllowInsecureADFSPaths = true
	handler := sts.Server.Handler()
	f.Fuzz(func(t *testing.T, body, cookie string) {
		req := httptest.NewRequest(http.MethodPost, "/adfs/ls/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Cookie", cookie)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code == http.StatusOK || strings.Contains(rec.Body.String(), "wresult") || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
			t.Fatalf("status %d:\n%s", rec.Code, rec.Body.String())
		}
	})
}

// TestPassiveSignOut: after sign-out the session cookie, even a copy kept
// from before, no longer signs the user in.
func TestPassiveSignOut(t *testing.T) {
	_, c := startPassive(t)
	_, page := c.get(signIn("ctx"))
	if _, body := c.post(formState(t, page), "alice", "alice-password"); !strings.Contains(body, "wresult") {
		t.Fatalf("no token:\n%s", body)
	}
	if _, body := c.get(signIn("ctx")); !strings.Contains(body, "wresult") {
		t.Fatalf("single sign-on gave no token:\n%s", body)
	}
	u, _ := url.Parse(c.base + "/adfs/ls/")
	kept := c.http.Jar.Cookies(u)
	if _, body := c.get(url.Values{"wa": {"wsignout1.0"}}); !strings.Contains(body, "signed out") {
		t.Fatalf("sign-out page:\n%s", body)
	}
	c.http.Jar.SetCookies(u, kept)
	if _, body := c.get(signIn("ctx")); strings.Contains(body, "wresult") || !strings.Contains(body, `name="password"`) {
		t.Errorf("the session cookie kept from before sign-out still signs in:\n%s", body)
	}
}

// TestPassiveFailedPostsRecordNothing: unauthenticated posts with wrong
// passwords, each on a fresh form, leave the replay store (which also
// holds WS-Trust nonces and sign-outs) as it was; a replayed failed post
// fails again, and a successful post still cannot be posted twice.
func TestPassiveFailedPostsRecordNothing(t *testing.T) {
	sts, c := startPassive(t)
	// Room for a handful of records: a post that recorded its form would
	// fill it.
	replay := wssec.NewMemoryReplayStore(5, time.Now)
	sts.Server.Replay.Memory.Replay = replay
	var state string
	for i := range 12 {
		_, page := c.get(signIn("ctx"))
		state = formState(t, page)
		if resp, body := c.post(state, fmt.Sprintf("nobody-%d", i), "junk"); resp.StatusCode != http.StatusUnauthorized || strings.Contains(body, "wresult") {
			t.Fatalf("junk post %d: %d\n%s", i, resp.StatusCode, body)
		}
	}
	for i := range 5 {
		if seen, err := replay.Seen(t.Context(), fmt.Sprintf("nonce-%d", i), time.Minute); err != nil || seen {
			t.Fatalf("a WS-Trust nonce after the junk posts: seen %v, %v", seen, err)
		}
	}
	if resp, body := c.post(state, "nobody", "junk"); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "user name or password is incorrect") {
		t.Errorf("a failed post replayed: %d\n%s", resp.StatusCode, body)
	}
}

// TestPassiveTokenWithLineBreaksVerifies: a user attribute holding CR, LF
// and a tab reaches the relying party as signed (xmlsec1 verifies the
// wresult's assertion), not normalised by its XML parser.
func TestPassiveTokenWithLineBreaksVerifies(t *testing.T) {
	sts := testfixture.StartSTS(t, map[string]string{
		"wsfed.yaml": passiveRP + `  attributes:
  - name: displayname
    from: displayName
`,
		"users.yaml": `apiVersion: v1
kind: Secret
metadata:
  name: dev-users
stringData:
  users.yaml: |
    - username: alice
      password: alice-password
      roles: [admin]
      attributes:
        mail: alice@example.com
        displayName: "Alice\r\n\tExample"
`,
	})
	c := tlsClient(t, sts)
	_, page := c.get(signIn("ctx"))
	resp, post := c.post(formState(t, page), "alice", "alice-password")
	m := regexp.MustCompile(`name="wresult" value="([^"]+)"`).FindStringSubmatch(post)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("status %d, no wresult:\n%s", resp.StatusCode, post)
	}
	wresult := html.UnescapeString(m[1])
	if !strings.Contains(wresult, "Alice&#xD;\n\tExample") {
		t.Errorf("the attribute is not in the token as written:\n%s", wresult)
	}
	const idAttr = "AssertionID urn:oasis:names:tc:SAML:1.0:assertion:Assertion"
	if err := testtools.XMLSec1Verify(t, sts.CertFile, []byte(wresult), idAttr); err != nil {
		t.Error(err)
	}
	// The client's copy of the token, as it hands it on, still verifies.
	token, err := client.Token([]byte(wresult))
	if err != nil {
		t.Fatal(err)
	}
	if err := testtools.XMLSec1Verify(t, sts.CertFile, []byte(token), idAttr); err != nil {
		t.Errorf("the token as client.Token writes it: %v", err)
	}
}

// TestPassiveSessionResume: a session cookie signs the user in again only
// while the user exists and is not locked out, and not when the relying
// party asks for a fresh sign-in (wfresh).
func TestPassiveSessionResume(t *testing.T) {
	signedIn := func(t *testing.T, c *passiveClient, user, password string) {
		t.Helper()
		_, page := c.get(signIn("ctx"))
		if _, body := c.post(formState(t, page), user, password); !strings.Contains(body, "wresult") {
			t.Fatalf("no token:\n%s", body)
		}
	}
	resumes := func(c *passiveClient, q url.Values) bool {
		_, body := c.get(q)
		if !strings.Contains(body, "wresult") && !strings.Contains(body, `name="password"`) {
			t.Fatalf("neither a token nor the form:\n%s", body)
		}
		return strings.Contains(body, "wresult")
	}
	withFresh := func(wfresh string) url.Values {
		q := signIn("ctx")
		q.Set("wfresh", wfresh)
		return q
	}

	t.Run("wfresh", func(t *testing.T) {
		_, c := startPassive(t)
		signedIn(t, c, "alice", "alice-password")
		for _, tc := range []struct {
			query url.Values
			want  bool
		}{
			{signIn("ctx"), true},
			{withFresh("60"), true},
			{withFresh("0"), false},
			{withFresh("-1"), false},
			{withFresh("soon"), false},
		} {
			if got := resumes(c, tc.query); got != tc.want {
				t.Errorf("wfresh=%q: the session resumed %v, want %v", tc.query.Get("wfresh"), got, tc.want)
			}
		}
	})

	t.Run("a user locked out since", func(t *testing.T) {
		sts, c := startPassive(t)
		signedIn(t, c, "dave", "dave-password")
		// Another browser (the real user's, or an attacker's) fails dave's
		// password until the lockout (10 in the sample).
		guesser := tlsClient(t, sts)
		_, page := guesser.get(signIn("ctx"))
		for range 10 {
			_, page = guesser.post(formState(t, page), "dave", "wrong")
		}
		if resumes(c, signIn("ctx")) {
			t.Error("the session of a locked-out user still signs in")
		}
	})

	t.Run("a user removed since", func(t *testing.T) {
		sts, c := startPassive(t)
		signedIn(t, c, "alice", "alice-password")
		users, err := os.ReadFile(filepath.Join(testtools.RepoRoot(t), "config", "samples", "standalone", "users.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		sts.WriteManifest(t, "users.yaml", strings.Replace(string(users), "- username: alice", "- username: alice-gone", 1))
		if err := sts.Source.Load(); err != nil {
			t.Fatal(err)
		}
		if resumes(c, signIn("ctx")) {
			t.Error("the session of a removed user still signs in")
		}
	})
}
