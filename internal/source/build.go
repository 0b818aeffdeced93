// Package source builds policy snapshots from the API objects, whether they
// come from a manifests folder (standalone) or from the Kubernetes API, and
// publishes them atomically.
package source

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/go-logr/logr"

	"github.com/trustbroker/trustbroker/internal/pki"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/userstore"
	"github.com/trustbroker/trustbroker/internal/wssec"
)

// Builder turns Objects into policy snapshots for one SecurityTokenService.
type Builder struct {
	// STS names the SecurityTokenService to serve; an empty Name serves the
	// only one there is.
	STS types.NamespacedName
	// Passwords remembers verified passwords across snapshots.
	Passwords *userstore.VerifiedCache

	ldap  ldapStores
	certs parsedCertificates
	hsm   hsmKeys
}

// Problem is an object, or a part of one, that could not be used. Only the
// signing key keeps its last good version; everything else that cannot be
// read is left out or switched off, so that deleting a Secret revokes what
// it granted.
type Problem struct {
	Kind string
	types.NamespacedName
	Err error
	// Msg is the log message when the default one (the object is not used)
	// does not say what the STS does instead.
	Msg string
}

func (p Problem) Error() string { return fmt.Sprintf("%s %s: %v", p.Kind, p.NamespacedName, p.Err) }

// Publish builds a snapshot from objs and makes it current in holder,
// logging each object that could not be used, and returns those problems.
// On an error the current snapshot stays in force.
func (b *Builder) Publish(objs *Objects, holder *policy.Holder, log logr.Logger) ([]Problem, error) {
	snap, problems, err := b.Build(objs, holder.Load())
	if err != nil {
		return nil, err
	}
	for _, p := range problems {
		msg := p.Msg
		if msg == "" {
			msg = "object not used"
		}
		log.Error(p.Err, msg, "kind", p.Kind, "object", p.NamespacedName.String())
	}
	holder.Publish(snap)
	log.Info("policy loaded", "generation", snap.Generation, "relyingParties", len(snap.RelyingParties), "trustedIssuers", len(snap.TrustedIssuers))
	return problems, nil
}

// Build makes a snapshot from objs. Only a missing STS, a setting its CRD
// schema refuses, or a signing key that cannot be read with none in prev
// fails the build (the caller keeps serving prev). Every other part that
// cannot be read is reported as a Problem and fails closed: a relying party
// or trusted issuer is left out, the user store refuses everyone, an X.509
// trust source, keytab, serving or decryption key is switched off. The
// signing key alone keeps its version from prev, so that a deleted signing
// Secret does not stop issuance (status SigningKeyValid=False says so).
func (b *Builder) Build(objs *Objects, prev *policy.Snapshot) (*policy.Snapshot, []Problem, error) {
	sts, err := b.pickSTS(objs)
	if err != nil {
		return nil, nil, err
	}
	r := resolver{objs: objs, namespace: sts.Namespace, parse: b.certs.parse}
	defer b.certs.sweep()
	snap := &policy.Snapshot{}
	if prev != nil {
		snap.Generation = prev.Generation
	}
	snap.Generation++
	var stsProblems []Problem
	report := func(err error, msg string) {
		stsProblems = append(stsProblems, Problem{Kind: "SecurityTokenService", NamespacedName: Key(sts.Namespace, sts.Name), Err: err, Msg: msg})
	}
	if snap.STS, err = stsPolicy(sts, r, report); err != nil {
		return nil, nil, fmt.Errorf("SecurityTokenService %s/%s: %w", sts.Namespace, sts.Name, err)
	}
	if snap.STS.Signing, err = signingKey(sts, r, &b.hsm, prev, report); err != nil {
		return nil, nil, fmt.Errorf("SecurityTokenService %s/%s: %w", sts.Namespace, sts.Name, err)
	}
	snap.Users = b.users(sts, r, report)

	// Of two objects claiming one endpoint or issuer only the winner is
	// built, so lookups never see duplicates.
	rpLosers, problems := relyingPartyLosers(objs, sts)
	tiLosers, tiConflicts := trustedIssuerLosers(objs, sts)
	problems = append(problems, tiConflicts...)
	lostTypes, typeConflicts := webhookTokenTypeLosers(objs, sts, tiLosers)
	problems = append(problems, typeConflicts...)
	for _, o := range objs.RelyingParties {
		if o.Namespace != sts.Namespace || o.Spec.STSRef.Name != sts.Name || rpLosers[o] {
			continue
		}
		rp, err := relyingPartyPolicy(o, &snap.STS, r)
		if err != nil {
			problems = append(problems, Problem{Kind: "RelyingParty", NamespacedName: Key(o.Namespace, o.Name), Err: err, Msg: msgRelyingPartyLeftOut})
		}
		if rp != nil {
			if rp.WSFederation, err = wsFederationPolicy(o.Spec.WSFederation); err != nil {
				problems = append(problems, Problem{Kind: "RelyingParty", NamespacedName: Key(o.Namespace, o.Name), Err: err, Msg: msgPassiveSignInRefused})
			}
			snap.RelyingParties = append(snap.RelyingParties, rp)
		}
	}
	policy.SortRelyingParties(snap.RelyingParties)
	for _, o := range objs.TrustedIssuers {
		if o.Namespace != sts.Namespace || o.Spec.STSRef.Name != sts.Name || tiLosers[o] {
			continue
		}
		ti, err := trustedIssuerPolicy(o, r, lostTypes[o])
		if err == nil {
			var weak []Problem
			ti, weak, err = withoutWeakKeys(ti)
			problems = append(problems, weak...)
		}
		if err != nil {
			problems = append(problems, Problem{Kind: "TrustedIssuer", NamespacedName: Key(o.Namespace, o.Name), Err: err, Msg: msgTrustedIssuerLeftOut})
		}
		if ti != nil {
			snap.TrustedIssuers = append(snap.TrustedIssuers, ti)
		}
	}
	if ref := sts.Spec.DefaultRelyingPartyRef; ref != nil {
		for _, rp := range snap.RelyingParties {
			if rp.Name == ref.Name {
				snap.STS.DefaultRelyingParty = rp
			}
		}
		if snap.STS.DefaultRelyingParty == nil {
			problems = append(problems, Problem{Kind: "SecurityTokenService", NamespacedName: Key(sts.Namespace, sts.Name),
				Err: fmt.Errorf("defaultRelyingPartyRef names RelyingParty %q, which does not exist, is not bound to this STS or lost its endpoint to an older one", ref.Name)})
		}
	}
	return snap, append(stsProblems, problems...), nil
}

// Key names an object.
func Key(namespace, name string) types.NamespacedName {
	return types.NamespacedName{Namespace: namespace, Name: name}
}

func (b *Builder) pickSTS(objs *Objects) (*stsv1alpha1.SecurityTokenService, error) {
	if b.STS.Name != "" {
		for _, s := range objs.SecurityTokenServices {
			if s.Name == b.STS.Name && (b.STS.Namespace == "" || s.Namespace == b.STS.Namespace) {
				return s, nil
			}
		}
		return nil, fmt.Errorf("SecurityTokenService %s not found", b.STS)
	}
	switch len(objs.SecurityTokenServices) {
	case 1:
		return objs.SecurityTokenServices[0], nil
	case 0:
		return nil, errors.New("no SecurityTokenService found")
	default:
		return nil, fmt.Errorf("%d SecurityTokenServices found: name the one to serve", len(objs.SecurityTokenServices))
	}
}

// stsPolicy reads the STS's settings but its signing key. A part whose
// Secret or ConfigMap cannot be read is reported and left off; only a
// setting the CRD schema refuses fails.
func stsPolicy(o *stsv1alpha1.SecurityTokenService, r resolver, report func(err error, msg string)) (policy.STS, error) {
	spec := o.Spec
	p := policy.STS{
		Namespace:     o.Namespace,
		Name:          o.Name,
		Issuer:        spec.Issuer,
		Endpoint:      spec.Endpoint,
		TokenLifetime: durationOr(spec.TokenLifetime, time.Hour),
		MaxClockSkew:  durationOr(spec.MaxClockSkew, 5*time.Minute),
		MaxMessageAge: durationOr(spec.Authentication.MaxMessageAge, 5*time.Minute),
		AllowedRoles:  spec.Authentication.AllowedRoles,
		SAML: policy.SAMLDefaults{
			AttributeNamespace: spec.SAML.AttributeNamespace,
			IncludeMemberships: spec.SAML.IncludeMemberships,
			NameID:             nameID(spec.SAML.NameIDMapping, policy.NameID{}),
		},
		OnBehalfOf: policy.OnBehalfOf{
			AllowedTokenTypes:             spec.OnBehalfOf.AllowedTokenTypes,
			RequireAuthenticatedRequestor: spec.OnBehalfOf.RequireAuthenticatedRequestor,
		},
		Renewal: policy.Renewal{
			AllowAfterExpiry: spec.Renewal.AllowAfterExpiry,
			MaxLifetime:      durationOr(spec.Renewal.MaxLifetime, policy.DefaultRenewalMaxLifetime),
		},
		Replay: policy.Replay{MaxEntries: 100000},
	}
	p.SignInPage = signInPagePolicy(spec.SignInPage, r, report)
	if err := replayStore(&p.Replay, spec.ReplayDetection.Store, r); err != nil {
		report(err, "the Redis replay store is reached without a password; requests fail if it requires one")
	}
	if l := spec.Authentication.Lockout; l != nil {
		p.Lockout = policy.Lockout{Threshold: int(l.Threshold), Window: durationOr(l.Window, 15*time.Minute)}
	}
	if ut := spec.Authentication.UsernameToken; ut != nil {
		p.UsernameToken = policy.UsernameTokenAuth{Enabled: ut.Enabled, AllowText: ut.AllowPasswordText, AllowDigest: ut.AllowPasswordDigest}
	}
	if x := spec.Authentication.X509; x != nil && x.Enabled {
		p.X509 = x509Auth(x, r, report)
	}
	rs := spec.ResponseSecurity
	p.ResponseSecurity = policy.ResponseSecurity{Sign: rs.SignResponse, ReferenceType: stringOr(string(rs.ReferenceType), "DirectReference"), SkipOverTLS: rs.SkipSignatureOverTLS}
	for _, part := range rs.SignedParts {
		p.ResponseSecurity.Parts = append(p.ResponseSecurity.Parts, string(part))
	}
	if len(p.ResponseSecurity.Parts) == 0 {
		p.ResponseSecurity.Parts = []string{"Body", "Timestamp"}
	}
	if k := spec.Authentication.Kerberos; k != nil && k.Enabled {
		keytab, err := r.secretKey(*k.KeytabSecretRef, "krb5.keytab")
		if err != nil {
			err = fmt.Errorf("kerberos.keytabSecretRef: %w", err)
		} else {
			// Checked now, so that a wrong keytab shows when it is loaded
			// rather than at the first request.
			_, err = wssec.NewKerberosVerifier(k.ServicePrincipal, keytab, p.MaxClockSkew)
		}
		if err != nil {
			report(fmt.Errorf("kerberos: %w", err), "Kerberos callers are refused until the keytab is fixed")
		} else {
			p.Kerberos = &policy.KerberosAuth{ServicePrincipal: k.ServicePrincipal, Keytab: keytab}
		}
	}
	if spec.TLS != nil {
		certPEM, keyPEM, err := r.keyPair(spec.TLS.SecretRef)
		if err == nil {
			var pair tls.Certificate
			if pair, err = tls.X509KeyPair(certPEM, keyPEM); err != nil {
				err = fmt.Errorf("serving certificate in Secret %s: %w", spec.TLS.SecretRef.Name, err)
			} else {
				p.TLS = &pair
			}
		}
		if err != nil {
			report(fmt.Errorf("tls: %w", err), "the TLS listener refuses connections until the serving key is fixed")
		}
	}
	requestors, err := allowedRequestors(spec.OnBehalfOf.AllowedRequestors)
	if err != nil {
		return p, fmt.Errorf("onBehalfOf.allowedRequestors: %w", err)
	}
	p.OnBehalfOf.AllowedRequestors = requestors
	for _, a := range spec.TrustedAddresses {
		prefix, err := parseAddress(a)
		if err != nil {
			return p, fmt.Errorf("trustedAddresses: %w", err)
		}
		p.TrustedAddresses = append(p.TrustedAddresses, prefix)
	}

	if d := spec.RequestDecryption; d != nil {
		dec, err := requestDecryption(d, r)
		if err != nil {
			report(fmt.Errorf("requestDecryption: %w", err), "encrypted requests are refused until the decryption key is fixed")
		} else {
			p.RequestDecryption = dec
		}
	}
	return p, nil
}

// requestDecryption reads the RSA key pair that decrypts requests.
func requestDecryption(d *stsv1alpha1.RequestDecryptionSpec, r resolver) (*policy.RequestDecryption, error) {
	certPEM, keyPEM, err := r.keyPair(d.SecretRef)
	if err != nil {
		return nil, err
	}
	key, chain, err := pki.ParseKeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("Secret %s: %w", d.SecretRef.Name, err)
	}
	dec, ok := key.(crypto.Decrypter)
	if _, isRSA := key.Public().(*rsa.PublicKey); !ok || !isRSA {
		return nil, fmt.Errorf("Secret %s: the key must be RSA to decrypt requests", d.SecretRef.Name)
	}
	out := &policy.RequestDecryption{Key: dec, Certificate: chain[0], DataAlgorithms: []string{"aes256-gcm", "aes128-gcm"}}
	if len(d.DataAlgorithms) > 0 {
		out.DataAlgorithms = out.DataAlgorithms[:0]
		for _, a := range d.DataAlgorithms {
			out.DataAlgorithms = append(out.DataAlgorithms, string(a))
		}
	}
	return out, nil
}

// x509Auth reads the CAs and registered certificates that authenticate
// callers. A source that cannot be read trusts no one, so that deleting it
// revokes the callers it admitted.
func x509Auth(x *stsv1alpha1.X509Spec, r resolver, report func(err error, msg string)) policy.X509Auth {
	auth := policy.X509Auth{Enabled: true, Identity: policy.DefaultIdentity}
	if len(x.Identity) > 0 {
		auth.Identity = make([]string, len(x.Identity))
		for i, id := range x.Identity {
			auth.Identity[i] = string(id)
		}
	}
	if x.TrustedCASecretRef != nil {
		data, err := r.secretKey(*x.TrustedCASecretRef, "ca.crt")
		var cas []*x509.Certificate
		if err == nil {
			cas, err = r.parse(data)
		}
		if err != nil {
			report(fmt.Errorf("x509.trustedCASecretRef: %w", err), "client certificates issued by these CAs are refused until the Secret is fixed")
		} else {
			auth.Roots = x509.NewCertPool()
			for _, c := range cas {
				auth.Roots.AddCert(c)
			}
		}
	}
	if x.ClientCertificates != nil {
		certs, err := r.certificates(x.ClientCertificates)
		if err != nil {
			report(fmt.Errorf("x509.clientCertificates: %w", err), "registered client certificates are refused until their source is fixed")
		} else {
			auth.Pinned = certs
		}
	}
	return auth
}

func replayStore(p *policy.Replay, store *stsv1alpha1.ReplayStoreSpec, r resolver) error {
	switch {
	case store == nil:
	case store.Memory != nil && store.Memory.MaxEntries > 0:
		p.MaxEntries = int(store.Memory.MaxEntries)
	case store.Redis != nil:
		p.Redis = &policy.Redis{Address: store.Redis.Address, DB: int(store.Redis.DB)}
		if ref := store.Redis.PasswordSecretRef; ref != nil {
			password, err := r.secretKey(*ref, "password")
			if err != nil {
				return fmt.Errorf("replayDetection.store.redis password: %w", err)
			}
			p.Redis.Password = string(password)
		}
	}
	return nil
}

// users is the STS's user store. One that cannot be read refuses every
// user (and the log says why), so that deleting the users Secret locks
// users out instead of leaving its last copy in force.
func (b *Builder) users(o *stsv1alpha1.SecurityTokenService, r resolver, report func(err error, msg string)) policy.UserStore {
	ut := o.Spec.Authentication.UsernameToken
	if ut == nil || !ut.Enabled || ut.UserStore == nil {
		return nil
	}
	users, err := b.readUsers(ut.UserStore, r)
	if err != nil {
		report(err, "no user can sign in until the user store is fixed")
		return userstore.Unavailable{Cause: err}
	}
	return users
}

func (b *Builder) readUsers(spec *stsv1alpha1.UserStoreSpec, r resolver) (policy.UserStore, error) {
	if spec.LDAP != nil {
		store, err := b.ldapStore(spec.LDAP, r)
		if err != nil {
			return nil, err
		}
		return store, nil
	}
	data, err := r.secretKey(*spec.SecretRef, "users.yaml")
	if err != nil {
		return nil, fmt.Errorf("user store: %w", err)
	}
	users, err := userstore.ParseUsers(data, b.Passwords)
	if err != nil {
		return nil, fmt.Errorf("user store Secret %s: %w", spec.SecretRef.Name, err)
	}
	return users, nil
}

func relyingPartyPolicy(o *stsv1alpha1.RelyingParty, sts *policy.STS, r resolver) (*policy.RelyingParty, error) {
	spec := o.Spec
	rp := &policy.RelyingParty{
		Namespace:              o.Namespace,
		Name:                   o.Name,
		Endpoint:               spec.Endpoint,
		Prefix:                 spec.Match == stsv1alpha1.MatchPrefix,
		Audiences:              spec.Audiences,
		TokenType:              policy.TokenType(stringOr(string(spec.TokenType), string(policy.SAML20))),
		NameID:                 nameID(spec.NameID, sts.SAML.NameID),
		IncludeMemberships:     sts.SAML.IncludeMemberships,
		AttributeStatementOnly: spec.AttributeStatementOnly,
		TokenLifetime:          durationOr(spec.TokenLifetime, sts.TokenLifetime),
		AllowedRoles:           spec.AllowedRoles,
		Issuer:                 spec.Issuer,
	}
	if len(rp.Audiences) == 0 {
		rp.Audiences = []string{spec.Endpoint}
	}
	if spec.IncludeMemberships != nil {
		rp.IncludeMemberships = *spec.IncludeMemberships
	}
	for _, k := range spec.AllowedKeyTypes {
		rp.AllowedKeyTypes = append(rp.AllowedKeyTypes, policy.KeyType(k))
	}
	if len(rp.AllowedKeyTypes) == 0 {
		rp.AllowedKeyTypes = []policy.KeyType{policy.Bearer, policy.SymmetricKey, policy.PublicKey}
	}
	for _, a := range spec.Attributes {
		rp.Attributes = append(rp.Attributes, policy.AttributeMapping{Name: a.Name, From: a.From, Namespace: stringOr(a.Namespace, sts.SAML.AttributeNamespace)})
	}
	if e := spec.Encryption; e != nil && (e.Enabled || e.Certificate != nil) {
		certs, err := r.certificates(e.Certificate)
		if err == nil {
			err = checkEncryptionCertificate(certs[0])
		}
		if err != nil {
			return nil, fmt.Errorf("spec.encryption.certificate: %w", err)
		}
		rp.Encryption = &policy.Encryption{
			Tokens:        e.Enabled,
			Certificates:  certs,
			DataAlgorithm: stringOr(string(e.DataAlgorithm), "aes256-gcm"),
			KeyTransport:  stringOr(string(e.KeyTransport), "rsa-oaep"),
			AllowRSA15:    e.AllowInsecureKeyTransport,
		}
	}
	return rp, nil
}

func trustedIssuerPolicy(o *stsv1alpha1.TrustedIssuer, r resolver, lostTypes map[string]bool) (*policy.TrustedIssuer, error) {
	ti := &policy.TrustedIssuer{Namespace: o.Namespace, Name: o.Name, Issuer: o.Spec.Issuer, AllowSHA1: o.Spec.AllowSHA1}
	if o.Spec.Certificates != nil {
		certs, err := r.certificates(o.Spec.Certificates)
		if err != nil {
			return nil, fmt.Errorf("certificates: %w", err)
		}
		ti.Certificates = certs
	}
	for _, u := range o.Spec.AllowedUsages {
		ti.AllowedUsages = append(ti.AllowedUsages, string(u))
	}
	for _, t := range o.Spec.TokenTypes {
		ti.TokenTypes = append(ti.TokenTypes, policy.TokenType(t))
	}
	if w := o.Spec.Webhook; w != nil {
		// A webhook whose CA bundle cannot be read leaves the whole issuer
		// out: its tokens are refused rather than checked against other
		// roots.
		hook := &policy.Webhook{URL: w.URL, Timeout: durationOr(w.Timeout, policy.DefaultWebhookTimeout)}
		if hook.Timeout > policy.MaxWebhookTimeout {
			hook.Timeout = policy.MaxWebhookTimeout
		}
		if w.CABundle != nil {
			cas, err := r.certificates(w.CABundle)
			if err != nil {
				return nil, fmt.Errorf("webhook.caBundle: %w", err)
			}
			hook.CAs = cas
		}
		for _, t := range o.Spec.TokenTypes {
			if custom := string(t); !slices.Contains(policy.BuiltinTokenTypes, custom) && !lostTypes[custom] {
				hook.TokenTypes = append(hook.TokenTypes, custom)
			}
		}
		ti.Webhook = hook
	}
	return ti, nil
}

// webhookTokenTypeLosers resolves the custom token types trusted issuers'
// webhooks claim as issuer names are resolved (policy.ResolveClaims), so
// that one webhook reviews each type: for each issuer of sts, the types it
// loses to one that takes precedence, with a Problem for each.
func webhookTokenTypeLosers(objs *Objects, sts *stsv1alpha1.SecurityTokenService, tiLosers map[*stsv1alpha1.TrustedIssuer]bool) (map[*stsv1alpha1.TrustedIssuer]map[string]bool, []Problem) {
	var bound []*stsv1alpha1.TrustedIssuer
	var claims []policy.Claim
	for _, o := range objs.TrustedIssuers {
		if o.Namespace != sts.Namespace || o.Spec.STSRef.Name != sts.Name || tiLosers[o] || o.Spec.Webhook == nil {
			continue
		}
		for _, t := range o.Spec.TokenTypes {
			if !slices.Contains(policy.BuiltinTokenTypes, string(t)) {
				bound = append(bound, o)
				claims = append(claims, policy.Claim{Namespace: o.Namespace, Name: o.Name, Created: o.CreationTimestamp.Time, Key: string(t)})
			}
		}
	}
	lost := map[*stsv1alpha1.TrustedIssuer]map[string]bool{}
	var problems []Problem
	for i, w := range policy.ResolveClaims(claims) {
		if w == i {
			continue
		}
		o, winner := bound[i], bound[w]
		if lost[o] == nil {
			lost[o] = map[string]bool{}
		}
		lost[o][claims[i].Key] = true
		problems = append(problems, Problem{Kind: "TrustedIssuer", NamespacedName: Key(o.Namespace, o.Name), Msg: "webhook not used for a token type: another trusted issuer's webhook takes precedence",
			Err: fmt.Errorf("TrustedIssuer %s's webhook already validates token type %s and takes precedence (created earlier, or in the same second with a name that sorts first): remove the type from one of the two", winner.Name, claims[i].Key)})
	}
	return lost, problems
}

func nameID(m *stsv1alpha1.NameIDMapping, inherited policy.NameID) policy.NameID {
	if m == nil {
		return inherited
	}
	return policy.NameID{Format: stringOr(m.Format, inherited.Format), Attribute: stringOr(m.Attribute, inherited.Attribute)}
}

// allowedRequestors checks what the CRD schema checks, as a manifests
// folder is read without it: each certificate entry has exactly one of a
// subject DN and a SHA-256 fingerprint, which is kept as lower-case hex.
func allowedRequestors(spec stsv1alpha1.AllowedRequestorsSpec) (policy.Requestors, error) {
	r := policy.Requestors{Users: spec.Users, Roles: spec.Roles}
	for i, c := range spec.Certificates {
		switch {
		case (c.Subject == "") == (c.SHA256Fingerprint == ""):
			return r, fmt.Errorf("certificates[%d]: give exactly one of subject or sha256Fingerprint", i)
		case c.Subject != "":
			dn, err := ldap.ParseDN(c.Subject)
			if err == nil && len(dn.RDNs) == 0 {
				err = errors.New("it is empty") // an empty DN would match certificates without a subject
			}
			if err != nil {
				return r, fmt.Errorf("certificates[%d].subject is not a distinguished name such as CN=orders-service,O=Example: %w", i, err)
			}
			r.Certificates = append(r.Certificates, policy.RequestorCertificate{Subject: c.Subject})
		default:
			fp := strings.ToLower(strings.ReplaceAll(c.SHA256Fingerprint, ":", ""))
			if _, err := hex.DecodeString(fp); err != nil || len(fp) != 2*sha256.Size {
				return r, fmt.Errorf("certificates[%d].sha256Fingerprint must be 64 hex digits, colons between bytes allowed", i)
			}
			r.Certificates = append(r.Certificates, policy.RequestorCertificate{SHA256: fp})
		}
	}
	return r, nil
}

func parseAddress(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		return netip.ParsePrefix(s)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func stringOr(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}

func durationOr(d *metav1.Duration, fallback time.Duration) time.Duration {
	if d == nil || d.Duration == 0 {
		return fallback
	}
	return d.Duration
}
