package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/issuer"
	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/saml"
	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/wssec"
	"github.com/trustbroker/trustbroker/internal/wstrust"
)

// WS-Federation passive sign-in (the browser profile AD FS serves at
// /adfs/ls/): the relying party sends the browser with wa=wsignin1.0, its
// realm (wtrealm), where to come back (wreply) and its own context (wctx);
// the user signs in with the form, or is known from the session cookie;
// the browser posts the token (wresult) back to the reply URL.

// Bounds of the passive sign-in's inputs.
const (
	maxPassiveParam   = 2048
	maxPassiveContext = 4096
	maxPassiveBody    = 16 << 10
)

// passiveRequest is a sign-in request, from the query or a posted form.
type passiveRequest struct {
	realm, reply, context string
}

// passiveError is a refusal shown to the user as a page: a status, what
// the user reads, and the cause for the log.
type passiveError struct {
	status  int
	message string
	cause   error
}

func (e *passiveError) Error() string { return e.message + ": " + errString(e.cause) }

func refuse(status int, message string, cause error) error {
	return &passiveError{status: status, message: message, cause: cause}
}

// servePassive answers GET and POST at /adfs/ls/.
func (s *Server) servePassive(w http.ResponseWriter, r *http.Request) {
	snap := s.Policy.Load()
	if snap == nil {
		s.passiveMessage(w, r, policy.SignInPage{Title: "Sign in"}, refuse(http.StatusServiceUnavailable, "Sign-in is not available yet; try again shortly.", errors.New("no policy loaded")))
		return
	}
	brand := snap.STS.SignInPage
	if err := checkAddress(snap, r, s.TrustedProxies); err != nil {
		s.passiveMessage(w, r, brand, refuse(http.StatusForbidden, "Access denied: this address may not sign in here.", err))
		return
	}
	if !s.AllowInsecureADFSPaths && !s.overTLS(r) {
		s.passiveMessage(w, r, brand, refuse(http.StatusForbidden, "Sign-in is served over HTTPS only.", fmt.Errorf("passive sign-in over plain HTTP from %s", r.RemoteAddr)))
		return
	}
	keys, err := s.sessions.sealer(brand.SessionKey)
	if err != nil {
		s.passiveMessage(w, r, brand, refuse(http.StatusInternalServerError, "Sign-in is not available at the moment.", err))
		return
	}
	p := passive{s: s, snap: snap, keys: keys, w: w, r: r, now: s.Now()}
	if r.Method == http.MethodPost {
		err = p.signIn()
	} else {
		err = p.get()
	}
	if err != nil {
		s.passiveMessage(w, r, brand, err)
	}
}

// passive is one request to the passive endpoint.
type passive struct {
	s    *Server
	snap *policy.Snapshot
	keys sealer
	w    http.ResponseWriter
	r    *http.Request
	now  time.Time
}

// get answers a query: sign in (with the session when there is one, else
// with the form) or sign out.
func (p *passive) get() error {
	q := p.r.URL.Query()
	switch wa := q.Get("wa"); wa {
	case "wsignin1.0":
	case "wsignout1.0", "wsignoutcleanup1.0":
		return p.signOut(q.Get("wreply"))
	default:
		return refuse(http.StatusBadRequest, "This address signs in to applications; open the application to sign in.", fmt.Errorf("wa %q", truncateParam(wa)))
	}
	req := passiveRequest{realm: q.Get("wtrealm"), reply: q.Get("wreply"), context: q.Get("wctx")}
	rp, err := p.relyingParty(&req)
	if err != nil {
		return err
	}
	if u, sess, ok := p.session(); ok && freshEnough(q.Get("wfresh"), time.Unix(sess.AuthInstant, 0), p.now) {
		return p.issue(rp, req, u, time.Unix(sess.AuthInstant, 0))
	}
	return p.showForm(req, "", "", http.StatusOK)
}

// relyingParty checks a sign-in request: the realm names a relying party
// with passive sign-in, and the reply URL is one it registered (the first
// when none is asked). An unregistered reply URL is refused, never
// redirected to.
func (p *passive) relyingParty(req *passiveRequest) (*policy.RelyingParty, error) {
	if len(req.realm) > maxPassiveParam || len(req.reply) > maxPassiveParam || len(req.context) > maxPassiveContext {
		return nil, refuse(http.StatusBadRequest, "The application's sign-in request is too long.", errors.New("wtrealm, wreply or wctx over its limit"))
	}
	if req.realm == "" {
		return nil, refuse(http.StatusBadRequest, "The application's sign-in request does not say which application it is (wtrealm).", errors.New("no wtrealm"))
	}
	rp, ok := p.snap.RelyingPartyFor(req.realm)
	if !ok || rp.WSFederation == nil {
		return nil, refuse(http.StatusBadRequest, "This application is not registered for sign-in here. Contact the application's owner.",
			fmt.Errorf("wtrealm %q: no relying party with spec.wsFederation", truncateParam(req.realm)))
	}
	switch {
	case req.reply == "":
		req.reply = rp.WSFederation.ReplyURLs[0]
	case !slices.Contains(rp.WSFederation.ReplyURLs, req.reply):
		return nil, refuse(http.StatusBadRequest, "The application asked to return to an address it has not registered, so sign-in stops here. Contact the application's owner.",
			fmt.Errorf("wreply %q is not among the replyURLs of relying party %s/%s", truncateParam(req.reply), rp.Namespace, rp.Name))
	}
	return rp, nil
}

// showForm shows the sign-in form for req, bound to this browser by its
// form cookie (made when it has none yet, so forms open in other tabs stay
// valid), with an error message after a failed attempt.
func (p *passive) showForm(req passiveRequest, username, message string, status int) error {
	binding, ok := p.formBinding()
	if !ok {
		binding = randomToken()
		cookie, err := p.keys.seal("form-cookie", formBinding{Binding: binding})
		if err != nil {
			return err
		}
		setCookie(p.w, formCookie, cookie, 0, http.SameSiteStrictMode)
	}
	state, err := p.keys.seal("form", formState{ID: randomToken(), Binding: binding, Realm: req.realm, Reply: req.reply, Context: req.context, Expires: p.now.Add(formLifetime).Unix()})
	if err != nil {
		return err
	}
	page := newPage(p.snap.STS.SignInPage)
	page.Action, page.State, page.Username, page.Error = passivePath, state, username, message
	return writePage(p.w, status, "signin", page, page.Nonce, "'self'")
}

// signIn answers a posted form: the form must be this browser's and fresh;
// then the password is checked as a UsernameToken's is (per-address
// throttle, lockout, the user store's bounded checks); only a form whose
// password was right is recorded as used, so failed posts cost the replay
// store nothing and a replayed failed post just fails again.
func (p *passive) signIn() error {
	p.r.Body = http.MaxBytesReader(p.w, p.r.Body, maxPassiveBody)
	if err := p.r.ParseForm(); err != nil {
		return refuse(http.StatusBadRequest, "The sign-in form could not be read.", err)
	}
	form := p.r.PostForm
	var st formState
	if err := p.keys.open("form", form.Get("state"), &st); err != nil {
		return refuse(http.StatusBadRequest, "This sign-in form is not valid. Go back to the application and sign in again.", fmt.Errorf("form state: %w", err))
	}
	if err := p.checkForm(st); err != nil {
		return err
	}
	req := passiveRequest{realm: st.Realm, reply: st.Reply, context: st.Context}
	rp, err := p.relyingParty(&req)
	if err != nil {
		return err
	}
	username, password := form.Get("username"), form.Get("password")
	u, err := p.authenticate(username, password)
	if err != nil {
		var shown *passiveError
		if errors.As(err, &shown) {
			return err
		}
		p.s.record(p.r, &request{requestType: wstrust.RequestIssue, user: username, appliesTo: req.realm, generation: p.snap.Generation}, soap.AsFault(err), p.s.Now().Sub(p.now))
		return p.showForm(req, username, "The user name or password is incorrect, or this account cannot sign in right now.", http.StatusUnauthorized)
	}
	if err := p.useForm(st); err != nil {
		return err
	}
	sess, err := p.keys.seal("session", passiveSession{ID: randomToken(), User: u.Name, AuthInstant: p.now.Unix(), Expires: p.now.Add(p.snap.STS.SignInPage.SessionLifetime).Unix()})
	if err != nil {
		return err
	}
	setCookie(p.w, sessionCookie, sess, int(p.snap.STS.SignInPage.SessionLifetime.Seconds()), http.SameSiteLaxMode)
	return p.issue(rp, req, u, p.now)
}

// formUsedAgain is what a stale or replayed form reads.
const formUsedAgain = "This sign-in form has expired or was already used. Go back to the application and sign in again."

// checkForm refuses a form that is stale or was shown to another browser
// (cross-site request forgery).
func (p *passive) checkForm(st formState) error {
	if p.now.Unix() > st.Expires {
		return refuse(http.StatusBadRequest, formUsedAgain, errors.New("form expired"))
	}
	if binding, ok := p.formBinding(); !ok || binding != st.Binding {
		return refuse(http.StatusForbidden, "This sign-in form was not opened in this browser. Go back to the application and sign in again.",
			errors.New("the form cookie is missing or does not match the form (cross-site post?)"))
	}
	return nil
}

// useForm records a form whose password was right, refusing one posted
// with success before (replay).
func (p *passive) useForm(st formState) error {
	seen, err := p.s.stores(p.snap).Replay.Seen(p.r.Context(), "passive:form:"+st.ID, time.Unix(st.Expires, 0).Sub(p.now)+time.Minute)
	switch {
	case err != nil:
		return refuse(http.StatusServiceUnavailable, "Sign-in is not available at the moment; try again shortly.", fmt.Errorf("recording the form: %w", err))
	case seen:
		return refuse(http.StatusBadRequest, formUsedAgain, errors.New("the form was posted before (replay)"))
	}
	return nil
}

// formBinding is the binding of this browser's form cookie.
func (p *passive) formBinding() (string, bool) {
	var b formBinding
	c, err := p.r.Cookie(formCookie)
	if err != nil || p.keys.open("form-cookie", c.Value, &b) != nil || b.Binding == "" {
		return "", false
	}
	return b.Binding, true
}

// authenticate checks a user name and password against the user store
// behind the same guards as a UsernameToken: an address or user that is
// throttled or locked out gets the same answer as a wrong password, and
// the password is not checked.
func (p *passive) authenticate(username, password string) (*policy.User, error) {
	if username == "" || password == "" || len(username) > 256 || len(password) > 1024 {
		return nil, wssec.Denied(errors.New("empty or overlong user name or password"))
	}
	auth := p.snap.STS.UsernameToken
	if !auth.Enabled || p.snap.Users == nil {
		return nil, refuse(http.StatusServiceUnavailable, "Sign-in with a password is not enabled here.", errors.New("usernameToken authentication is off or has no user store"))
	}
	ctx := p.r.Context()
	guard := attemptGuard{s: p.s, r: p.r}
	if p.snap.STS.Lockout.Enabled() {
		guard.lockout = p.s.lockoutGuard(p.r, p.snap)
	}
	if err := guard.Allow(ctx, username); err != nil {
		return nil, err
	}
	u, err := p.snap.Users.Authenticate(ctx, username, password)
	if err != nil {
		if errors.Is(err, policy.ErrBadCredentials) {
			// A caller that hangs up must still be counted.
			guard.Failed(context.WithoutCancel(ctx), username)
		}
		return nil, storeFault(username, err)
	}
	return u, nil
}

// freshEnough honours wfresh, the relying party's limit in minutes on the
// age of the sign-in: 0 asks for the password again. A value that is not a
// number of minutes asks for it too.
func freshEnough(wfresh string, authInstant, now time.Time) bool {
	if wfresh == "" {
		return true
	}
	minutes, err := strconv.ParseUint(wfresh, 10, 32)
	if err != nil {
		return false
	}
	return now.Sub(authInstant) <= time.Duration(minutes)*time.Minute
}

// session is the user of a valid session cookie, looked up again so that
// roles and attributes are current, and a removed or locked-out user is
// signed out.
func (p *passive) session() (*policy.User, passiveSession, bool) {
	var sess passiveSession
	c, err := p.r.Cookie(sessionCookie)
	if err != nil || p.keys.open("session", c.Value, &sess) != nil || p.now.Unix() > sess.Expires {
		return nil, sess, false
	}
	lookup, ok := p.snap.Users.(policy.UserLookup)
	if !ok || !p.snap.STS.UsernameToken.Enabled {
		return nil, sess, false
	}
	if ended, err := p.s.stores(p.snap).Replay.Holds(p.r.Context(), signedOutKey(sess.ID)); err != nil || ended {
		return nil, sess, false
	}
	u, err := lookup.Lookup(p.r.Context(), sess.User)
	if err != nil {
		p.s.Log.Info("passive session not resumed", "user", sess.User, "cause", err.Error())
		return nil, sess, false
	}
	locked, err := p.s.userLockedOut(p.r.Context(), p.snap, u.Name)
	if err != nil || locked {
		p.s.Log.Info("passive session not resumed", "user", sess.User, "cause", errString(err), "lockedOut", locked)
		return nil, sess, false
	}
	return u, sess, true
}

// issue issues the relying party's token for u as the answer to a WS-Trust
// 2005 RST, as AD FS does, and sends the browser to the reply URL with it.
func (p *passive) issue(rp *policy.RelyingParty, req passiveRequest, u *policy.User, authInstant time.Time) error {
	rst, err := passiveRST(req.realm, rp.WSFederation.TokenType)
	if err != nil {
		return err
	}
	audit := request{requestType: wstrust.RequestIssue, user: u.Name, appliesTo: req.realm, relyingParty: rp.Namespace + "/" + rp.Name, generation: p.snap.Generation}
	who := issuer.Principal{User: u, Method: saml.AuthnPassword, Instant: authInstant}
	rstr, err := p.s.Issuer.Issue(p.snap, issuer.Request{Ctx: p.r.Context(), Who: who, RST: rst, Store: p.s.stores(p.snap).Cancelled, Now: p.now, ConfidentialTransport: true})
	if err != nil {
		p.s.record(p.r, &audit, soap.AsFault(err), p.s.Now().Sub(p.now))
		return refuse(http.StatusForbidden, "You cannot sign in to this application. Contact the application's owner if you should.", err)
	}
	el, err := rstr.Build()
	if err != nil {
		return fmt.Errorf("building the RSTR: %w", err)
	}
	// Written exactly (CR, tab and newline as references), or the relying
	// party's parser would normalise them and the digest would not match.
	result := string(soap.SerializeExact(el))
	audit.rstr = rstr
	p.s.record(p.r, &audit, nil, p.s.Now().Sub(p.now))
	nonce := randomToken()
	return writePage(p.w, http.StatusOK, "post", postData{ReplyURL: req.reply, Result: result, Context: req.context, Nonce: nonce}, nonce, origin(req.reply))
}

// passiveRST is the Issue request a passive sign-in stands for: a bearer
// token of the relying party's passive token type for realm, in WS-Trust
// 2005, whose RSTR is the wresult WS-Federation relying parties read.
func passiveRST(realm string, t policy.TokenType) (*wstrust.RST, error) {
	tokenType := "urn:oasis:names:tc:SAML:1.0:assertion"
	if t == policy.SAML20 {
		tokenType = "urn:oasis:names:tc:SAML:2.0:assertion"
	}
	el := etree.NewElement("t:RequestSecurityToken")
	el.CreateAttr("xmlns:t", wstrust.Namespace2005)
	epr := el.CreateElement("wsp:AppliesTo")
	epr.CreateAttr("xmlns:wsp", wstrust.NamespacePolicy200409)
	addr := epr.CreateElement("wsa:EndpointReference")
	addr.CreateAttr("xmlns:wsa", soap.NamespaceWSA10)
	addr.CreateElement("wsa:Address").SetText(realm)
	el.CreateElement("t:RequestType").SetText(wstrust.Namespace2005 + "/Issue")
	el.CreateElement("t:TokenType").SetText(tokenType)
	el.CreateElement("t:KeyType").SetText("http://schemas.xmlsoap.org/ws/2005/05/identity/NoProofKey")
	return wstrust.ParseRST(el)
}

// signOut ends the session and says so, with a link back to wreply when
// it is a reply URL some relying party registered.
func (p *passive) signOut(reply string) error {
	var sess passiveSession
	if c, err := p.r.Cookie(sessionCookie); err == nil && p.keys.open("session", c.Value, &sess) == nil && p.now.Unix() < sess.Expires {
		if _, err := p.s.stores(p.snap).Replay.Seen(p.r.Context(), signedOutKey(sess.ID), time.Unix(sess.Expires, 0).Sub(p.now)); err != nil {
			return refuse(http.StatusServiceUnavailable, "Signing out failed on our side; close the browser to end the session.", fmt.Errorf("recording the sign-out: %w", err))
		}
	}
	clearCookie(p.w, sessionCookie, http.SameSiteLaxMode)
	page := newPage(p.snap.STS.SignInPage)
	page.Heading, page.Message = "Signed out", "You have signed out."
	if reply != "" && registeredReply(p.snap, reply) {
		page.Link = reply
	}
	return writePage(p.w, http.StatusOK, "message", page, page.Nonce, "'self'")
}

// signedOutKey is the replay store's record of a session signed out.
func signedOutKey(id string) string { return "passive:signout:" + id }

// registeredReply reports whether some relying party lists reply.
func registeredReply(snap *policy.Snapshot, reply string) bool {
	for _, rp := range snap.RelyingParties {
		if rp.WSFederation != nil && slices.Contains(rp.WSFederation.ReplyURLs, reply) {
			return true
		}
	}
	return false
}

// passiveMessage shows err as an error page and logs its cause.
func (s *Server) passiveMessage(w http.ResponseWriter, r *http.Request, brand policy.SignInPage, err error) {
	var shown *passiveError
	if !errors.As(err, &shown) {
		shown = &passiveError{status: http.StatusInternalServerError, message: "Sign-in failed on our side; try again shortly.", cause: err}
	}
	s.Log.Info("passive sign-in refused", "reason", shown.message, "cause", errString(shown.cause), "remote", r.RemoteAddr)
	page := newPage(brand)
	page.Heading, page.Message, page.Error = "Sign-in stopped", shown.message, "yes"
	if err := writePage(w, shown.status, "message", page, page.Nonce, "'self'"); err != nil {
		s.Log.Error(err, "writing the sign-in page", "remote", r.RemoteAddr)
	}
}

// truncateParam keeps a logged request parameter short.
func truncateParam(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}
