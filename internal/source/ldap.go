package source

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
	"github.com/trustbroker/trustbroker/internal/userstore"
)

// ldapStores keeps one LDAP user store, with its connection pools, across
// snapshots while its settings stay the same: a relying party change must
// not reconnect to the directory. A changed setting closes the old store.
type ldapStores struct {
	mu          sync.Mutex
	store       *userstore.LDAP
	fingerprint string
}

// ldapStore returns the store for spec, reusing the current one if nothing
// that shapes it changed.
func (b *Builder) ldapStore(spec *stsv1alpha1.LDAPSpec, r resolver) (*userstore.LDAP, error) {
	cfg, cas, err := ldapConfig(spec, r)
	if err != nil {
		return nil, err
	}
	cfg.Cache = b.Passwords
	fp := ldapFingerprint(spec, cfg.BindPassword, cas)

	b.ldap.mu.Lock()
	defer b.ldap.mu.Unlock()
	if b.ldap.store != nil && b.ldap.fingerprint == fp {
		return b.ldap.store, nil
	}
	store, err := userstore.NewLDAP(cfg)
	if err != nil {
		return nil, fmt.Errorf("userStore.ldap: %w", err)
	}
	if b.ldap.store != nil {
		b.ldap.store.Close()
	}
	b.ldap.store, b.ldap.fingerprint = store, fp
	return store, nil
}

// ldapConfig reads the store's settings and the Secrets they name; it also
// returns the CA certificates, which are part of what identifies the store.
func ldapConfig(spec *stsv1alpha1.LDAPSpec, r resolver) (userstore.LDAPConfig, []*x509.Certificate, error) {
	cfg := userstore.LDAPConfig{
		URL:         spec.URL,
		StartTLS:    spec.StartTLS,
		BindDN:      spec.BindDN,
		UserBaseDN:  spec.UserBaseDN,
		UserFilter:  spec.UserFilter,
		GroupBaseDN: spec.GroupBaseDN,
		GroupFilter: spec.GroupFilter,
		Attributes:  spec.Attributes,
	}
	if spec.Timeout != nil {
		cfg.Timeout = spec.Timeout.Duration
	}
	if ref := spec.BindPasswordSecretRef; ref != nil {
		password, err := r.secretKey(*ref, "password")
		if err != nil {
			return cfg, nil, fmt.Errorf("userStore.ldap.bindPasswordSecretRef: %w", err)
		}
		cfg.BindPassword = string(password)
	}
	var cas []*x509.Certificate
	if spec.CA != nil {
		var err error
		if cas, err = r.certificates(spec.CA); err != nil {
			return cfg, nil, fmt.Errorf("userStore.ldap.ca: %w", err)
		}
		cfg.CA = x509.NewCertPool()
		for _, c := range cas {
			cfg.CA.AddCert(c)
		}
	}
	return cfg, cas, nil
}

// ldapFingerprint identifies the settings of an LDAP store: the spec, the
// bind password (as a digest) and the CA certificates.
func ldapFingerprint(spec *stsv1alpha1.LDAPSpec, bindPassword string, cas []*x509.Certificate) string {
	h := sha256.New()
	settings, _ := json.Marshal(spec) // plain data: it always marshals
	h.Write(settings)
	fmt.Fprintf(h, "\x00%s\x00", bindPassword)
	for _, c := range cas {
		h.Write(c.Raw)
	}
	return hex.EncodeToString(h.Sum(nil))
}
