package userstore

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-ldap/ldap/v3"

	"github.com/trustbroker/trustbroker/internal/policy"
)

// Defaults and limits of the LDAP store.
const (
	DefaultLDAPUserFilter  = "(uid={0})"
	DefaultLDAPGroupFilter = "(member={0})"
	DefaultLDAPTimeout     = 5 * time.Second
	DefaultLDAPPoolSize    = 4

	maxLDAPUsername   = 256
	maxLDAPAttributes = 128
	// maxLDAPGroups bounds the groups read per user; a user in more groups
	// is refused rather than given an arbitrary subset of its roles.
	maxLDAPGroups = 1000
)

// LDAPConfig configures an LDAP user store.
type LDAPConfig struct {
	// URL is ldap://host[:port] or ldaps://host[:port].
	URL string
	// StartTLS upgrades an ldap:// connection to TLS before anything else.
	StartTLS bool
	// CA verifies the directory's certificate; nil means the system roots.
	CA *x509.CertPool
	// BindDN and BindPassword are the service account that searches users
	// and groups; without BindDN the searches are anonymous.
	BindDN, BindPassword string
	// UserBaseDN is where users are searched (whole subtree).
	UserBaseDN string
	// UserFilter finds a user; "{0}" is the escaped user name.
	// DefaultLDAPUserFilter when empty.
	UserFilter string
	// GroupBaseDN is where groups are searched; without it users get no
	// roles from the directory.
	GroupBaseDN string
	// GroupFilter finds a user's groups; "{0}" is the escaped user DN and
	// "{1}" the escaped user name. DefaultLDAPGroupFilter when empty.
	GroupFilter string
	// Attributes are read from the user's entry into User.Attributes, under
	// the names given here.
	Attributes []string
	// Timeout bounds connecting (TCP, TLS, service bind) and each request.
	// DefaultLDAPTimeout when zero.
	Timeout time.Duration
	// PoolSize bounds the connections open for searches, and separately
	// those open for checking passwords. DefaultLDAPPoolSize when zero.
	PoolSize int
	// Cache remembers successful binds; a new one when nil. It may be
	// shared with other stores.
	Cache *VerifiedCache
}

// LDAP is a user store that checks passwords by binding to a directory as
// the user, and reads the user's attributes and groups (its roles) from it.
// It is safe for concurrent use; Close releases its connections.
type LDAP struct {
	cfg     LDAPConfig
	addr    string // host:port
	ldaps   bool
	tls     *tls.Config
	timeout time.Duration
	// searches holds connections bound as the service account; binds holds
	// connections used only to check users' passwords, which leave them
	// bound as whichever user came last.
	searches *connPool
	binds    *connPool
	cache    *VerifiedCache
}

var _ policy.UserStore = (*LDAP)(nil)

// attributeName matches an attribute description: a name or an OID, with
// options. It keeps "*", "+" and filters out of the requested attributes.
var attributeName = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9-]*|[0-9]+(\.[0-9]+)+)(;[A-Za-z0-9-]+)*$`)

// NewLDAP checks the configuration and returns the store. It does not
// connect: the directory may be down at start and come up later.
func NewLDAP(cfg LDAPConfig) (*LDAP, error) {
	l := &LDAP{cfg: cfg, timeout: cfg.Timeout, cache: cfg.Cache}
	if err := l.parseURL(); err != nil {
		return nil, err
	}
	if err := l.checkSearch(); err != nil {
		return nil, err
	}
	switch {
	case cfg.BindDN == "" && cfg.BindPassword != "":
		return nil, errors.New("ldap: a bind password needs a bind DN")
	case cfg.BindDN != "" && cfg.BindPassword == "":
		// An empty password would be an unauthenticated bind, which
		// servers accept as anonymous.
		return nil, errors.New("ldap: the bind DN needs a password")
	case cfg.Timeout < 0:
		return nil, errors.New("ldap: the timeout must be positive")
	case cfg.PoolSize < 0:
		return nil, errors.New("ldap: the pool size must be positive")
	}
	if l.timeout == 0 {
		l.timeout = DefaultLDAPTimeout
	}
	if l.cache == nil {
		l.cache = NewVerifiedCache(DefaultCacheSize, DefaultCacheTTL)
	}
	size := cmp.Or(cfg.PoolSize, DefaultLDAPPoolSize)
	l.searches = newConnPool(size, l.timeout, func(ctx context.Context) (*ldap.Conn, error) {
		return l.dial(ctx, cfg.BindDN, cfg.BindPassword)
	})
	l.binds = newConnPool(size, l.timeout, func(ctx context.Context) (*ldap.Conn, error) {
		return l.dial(ctx, "", "")
	})
	return l, nil
}

func (l *LDAP) parseURL() error {
	u, err := url.Parse(strings.TrimSpace(l.cfg.URL))
	if err != nil {
		return fmt.Errorf("ldap: url: %w", err)
	}
	port := u.Port()
	switch u.Scheme {
	case "ldap":
		if port == "" {
			port = ldap.DefaultLdapPort
		}
	case "ldaps":
		if l.cfg.StartTLS {
			return errors.New("ldap: StartTLS is for ldap:// URLs; ldaps:// is TLS already")
		}
		if port == "" {
			port = ldap.DefaultLdapsPort
		}
		l.ldaps = true
	default:
		return fmt.Errorf("ldap: url %q must start with ldap:// or ldaps://", l.cfg.URL)
	}
	if u.Hostname() == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return fmt.Errorf("ldap: url %q must be ldap[s]://host[:port]", l.cfg.URL)
	}
	l.addr = net.JoinHostPort(u.Hostname(), port)
	l.cfg.URL = u.Scheme + "://" + l.addr
	l.tls = &tls.Config{RootCAs: l.cfg.CA, ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}
	return nil
}

func (l *LDAP) checkSearch() error {
	c := &l.cfg
	if c.UserFilter == "" {
		c.UserFilter = DefaultLDAPUserFilter
	}
	if c.GroupFilter == "" {
		c.GroupFilter = DefaultLDAPGroupFilter
	}
	if _, err := ldap.ParseDN(c.UserBaseDN); err != nil || c.UserBaseDN == "" {
		return fmt.Errorf("ldap: user base DN %q is not a DN: %v", c.UserBaseDN, err)
	}
	if _, err := ldap.ParseDN(c.GroupBaseDN); err != nil {
		return fmt.Errorf("ldap: group base DN %q is not a DN: %w", c.GroupBaseDN, err)
	}
	if !strings.Contains(c.UserFilter, "{0}") {
		return fmt.Errorf("ldap: user filter %q does not use {0}, the user name", c.UserFilter)
	}
	if _, err := ldap.CompileFilter(userFilter(c.UserFilter, "name")); err != nil {
		return fmt.Errorf("ldap: user filter %q: %w", c.UserFilter, err)
	}
	if _, err := ldap.CompileFilter(groupFilter(c.GroupFilter, "cn=dn", "name")); err != nil {
		return fmt.Errorf("ldap: group filter %q: %w", c.GroupFilter, err)
	}
	if len(c.Attributes) > maxLDAPAttributes {
		return fmt.Errorf("ldap: %d attributes, at most %d", len(c.Attributes), maxLDAPAttributes)
	}
	for _, a := range c.Attributes {
		if !attributeName.MatchString(a) {
			return fmt.Errorf("ldap: %q is not an attribute name", a)
		}
	}
	return nil
}

// userFilter puts the escaped user name into the filter.
func userFilter(filter, username string) string {
	return strings.ReplaceAll(filter, "{0}", ldap.EscapeFilter(username))
}

// groupFilter puts the escaped user DN and user name into the filter, in
// one pass, so that a "{1}" inside the DN stays as it is.
func groupFilter(filter, dn, username string) string {
	return strings.NewReplacer("{0}", ldap.EscapeFilter(dn), "{1}", ldap.EscapeFilter(username)).Replace(filter)
}

// Close closes the idle connections; connections in use close when their
// request ends. The store must not be used afterwards.
func (l *LDAP) Close() {
	l.searches.close()
	l.binds.close()
}

// Authenticate finds the user's entry, binds as it with the password (or
// finds the pair in the cache), and reads the attributes and groups. A wrong
// password, an unknown user and a name matching several entries wrap
// policy.ErrBadCredentials; their messages differ for the log, so callers
// must not show them to the client. Directory failures wrap
// ErrDirectoryUnavailable.
func (l *LDAP) Authenticate(ctx context.Context, username, password string) (*policy.User, error) {
	switch {
	case password == "":
		// A bind with a DN and no password is an unauthenticated bind,
		// which the server accepts.
		return nil, fmt.Errorf("%w: empty password", policy.ErrBadCredentials)
	case username == "" || len(username) > maxLDAPUsername || !utf8.ValidString(username):
		return nil, fmt.Errorf("%w: user name empty, too long or not UTF-8", policy.ErrBadCredentials)
	}
	entry, err := l.findUser(ctx, username)
	if err != nil {
		return nil, err
	}
	// The entry's modifyTimestamp is part of the key so that a password
	// change (which modifies the entry) ends the cached verification at once.
	key := l.cache.key(username, password,
		l.cfg.URL+"\x00"+entry.DN+"\x00"+entry.GetEqualFoldAttributeValue("modifyTimestamp"))
	if !l.cache.hit(key) {
		if err := l.checkPassword(ctx, entry.DN, password); err != nil {
			return nil, err
		}
		l.cache.add(key)
	}
	return l.user(ctx, entry, username)
}

// Lookup implements policy.UserLookup: the user's groups and attributes,
// for a caller authenticated otherwise (certificate, Kerberos, a trusted
// requestor's OnBehalfOf).
func (l *LDAP) Lookup(ctx context.Context, username string) (*policy.User, error) {
	if username == "" || len(username) > maxLDAPUsername || !utf8.ValidString(username) {
		return nil, fmt.Errorf("%w: user name empty, too long or not UTF-8", policy.ErrBadCredentials)
	}
	entry, err := l.findUser(ctx, username)
	if err != nil {
		return nil, err
	}
	return l.user(ctx, entry, username)
}

func (l *LDAP) user(ctx context.Context, entry *ldap.Entry, username string) (*policy.User, error) {
	roles, err := l.findGroups(ctx, entry.DN, username)
	if err != nil {
		return nil, err
	}
	return &policy.User{Name: username, Roles: roles, Attributes: l.attributes(entry)}, nil
}

// PlainPassword always fails: a directory never reveals passwords, so
// PasswordDigest cannot be checked against LDAP.
func (l *LDAP) PlainPassword(context.Context, string) (string, *policy.User, error) {
	return "", nil, policy.ErrNoPlainPassword
}

// findUser returns the one entry the user filter finds.
func (l *LDAP) findUser(ctx context.Context, username string) (*ldap.Entry, error) {
	attrs := append(slices.Clone(l.cfg.Attributes), "modifyTimestamp")
	// A size limit of 2 is enough to tell one match from several.
	req := ldap.NewSearchRequest(l.cfg.UserBaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 2,
		l.timeLimit(), false, userFilter(l.cfg.UserFilter, username), attrs, nil)
	res, err := l.search(ctx, req)
	switch {
	case isResult(err, ldap.LDAPResultSizeLimitExceeded) || err == nil && len(res.Entries) > 1:
		return nil, fmt.Errorf("%w: the user name matches several entries", policy.ErrBadCredentials)
	case err != nil:
		return nil, l.unavailable(fmt.Errorf("searching the user: %w", err))
	case len(res.Entries) == 0:
		return nil, fmt.Errorf("%w: no such user", policy.ErrBadCredentials)
	}
	return res.Entries[0], nil
}

// checkPassword binds as dn with the password, on a connection of its own.
func (l *LDAP) checkPassword(ctx context.Context, dn, password string) error {
	var bindErr error
	err := l.binds.do(ctx, func(conn *ldap.Conn) (bool, error) {
		bindErr = conn.Bind(dn, password)
		if answered(bindErr) {
			return true, nil
		}
		return false, bindErr
	})
	switch {
	case err != nil:
		return l.unavailable(fmt.Errorf("binding as the user: %w", err))
	case bindErr == nil:
		return nil
	// Servers answer invalidCredentials for a wrong password, and also for
	// locked or expired accounts (Active Directory, OpenLDAP ppolicy);
	// inappropriateAuthentication and unwillingToPerform are how some
	// refuse a disabled account.
	case isResult(bindErr, ldap.LDAPResultInvalidCredentials, ldap.LDAPResultInappropriateAuthentication,
		ldap.LDAPResultUnwillingToPerform):
		return fmt.Errorf("%w: %w", policy.ErrBadCredentials, bindErr)
	default:
		return l.unavailable(fmt.Errorf("binding as the user: %w", bindErr))
	}
}

// findGroups returns the names (cn) of the groups the group filter finds,
// sorted, each once.
func (l *LDAP) findGroups(ctx context.Context, dn, username string) ([]string, error) {
	if l.cfg.GroupBaseDN == "" {
		return nil, nil
	}
	req := ldap.NewSearchRequest(l.cfg.GroupBaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, maxLDAPGroups,
		l.timeLimit(), false, groupFilter(l.cfg.GroupFilter, dn, username), []string{"cn"}, nil)
	res, err := l.search(ctx, req)
	if err != nil {
		return nil, l.unavailable(fmt.Errorf("searching the user's groups: %w", err))
	}
	var roles []string
	for _, e := range res.Entries {
		if name := groupName(e); name != "" {
			roles = append(roles, name)
		}
	}
	slices.Sort(roles)
	return slices.Compact(roles), nil
}

// groupName is the cn of the group's RDN, as it appears in its DN; when the
// RDN is something else, the first cn.
func groupName(e *ldap.Entry) string {
	if dn, err := ldap.ParseDN(e.DN); err == nil && len(dn.RDNs) > 0 {
		for _, a := range dn.RDNs[0].Attributes {
			if strings.EqualFold(a.Type, "cn") {
				return a.Value
			}
		}
	}
	return e.GetEqualFoldAttributeValue("cn")
}

// attributes copies the configured attributes the entry has.
func (l *LDAP) attributes(e *ldap.Entry) map[string][]string {
	attrs := make(map[string][]string, len(l.cfg.Attributes))
	for _, name := range l.cfg.Attributes {
		if values := e.GetEqualFoldAttributeValues(name); len(values) > 0 {
			attrs[name] = slices.Clone(values)
		}
	}
	return attrs
}

// search runs a search on a service account connection. The result is
// returned with the error too, as a size limit error comes with entries.
func (l *LDAP) search(ctx context.Context, req *ldap.SearchRequest) (*ldap.SearchResult, error) {
	var res *ldap.SearchResult
	var searchErr error
	err := l.searches.do(ctx, func(conn *ldap.Conn) (bool, error) {
		res, searchErr = conn.Search(req)
		if answered(searchErr) {
			return true, nil
		}
		return false, searchErr
	})
	if err != nil {
		return nil, err
	}
	return res, searchErr
}

// timeLimit is the timeout in whole seconds, rounded up, for the server's
// own limit on a search.
func (l *LDAP) timeLimit() int {
	return int(math.Ceil(l.timeout.Seconds()))
}
