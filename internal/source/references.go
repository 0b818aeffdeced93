package source

import (
	"slices"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
)

// References are the Secrets and ConfigMaps, by name, that an STS and its
// relying parties and trusted issuers read: what an STS pod must watch and
// may read, and nothing more.
type References struct {
	Secrets    []string
	ConfigMaps []string
}

// ReferencesOf lists what sts and the rps and tis bound to it refer to,
// sorted and without duplicates.
func ReferencesOf(sts *stsv1alpha1.SecurityTokenService, rps []*stsv1alpha1.RelyingParty, tis []*stsv1alpha1.TrustedIssuer) References {
	var refs References
	secret := func(s *stsv1alpha1.SecretKeySelector) {
		if s != nil {
			refs.Secrets = append(refs.Secrets, s.Name)
		}
	}
	certs := func(c *stsv1alpha1.CertificateSource) {
		if c == nil {
			return
		}
		secret(c.SecretRef)
		if c.ConfigMapRef != nil {
			refs.ConfigMaps = append(refs.ConfigMaps, c.ConfigMapRef.Name)
		}
	}
	spec := sts.Spec
	secret(spec.Signing.SecretRef)
	if p := spec.Signing.PKCS11; p != nil {
		secret(&p.PINSecretRef)
	}
	certs(spec.Signing.Certificate)
	certs(spec.Signing.PreviousCertificates)
	if spec.TLS != nil {
		secret(&spec.TLS.SecretRef)
	}
	if spec.RequestDecryption != nil {
		secret(&spec.RequestDecryption.SecretRef)
	}
	if ut := spec.Authentication.UsernameToken; ut != nil && ut.UserStore != nil {
		secret(ut.UserStore.SecretRef)
		if l := ut.UserStore.LDAP; l != nil {
			secret(l.BindPasswordSecretRef)
			certs(l.CA)
		}
	}
	if x := spec.Authentication.X509; x != nil {
		secret(x.TrustedCASecretRef)
		certs(x.ClientCertificates)
	}
	if k := spec.Authentication.Kerberos; k != nil {
		secret(k.KeytabSecretRef)
	}
	if s := spec.ReplayDetection.Store; s != nil && s.Redis != nil {
		secret(s.Redis.PasswordSecretRef)
	}
	if p := spec.SignInPage; p != nil {
		secret(p.SessionKeySecretRef)
	}
	for _, rp := range rps {
		if rp.Namespace == sts.Namespace && rp.Spec.STSRef.Name == sts.Name && rp.Spec.Encryption != nil {
			certs(rp.Spec.Encryption.Certificate)
		}
	}
	for _, ti := range tis {
		if ti.Namespace == sts.Namespace && ti.Spec.STSRef.Name == sts.Name {
			certs(ti.Spec.Certificates)
			if ti.Spec.Webhook != nil {
				certs(ti.Spec.Webhook.CABundle)
			}
		}
	}
	slices.Sort(refs.Secrets)
	slices.Sort(refs.ConfigMaps)
	refs.Secrets = slices.Compact(refs.Secrets)
	refs.ConfigMaps = slices.Compact(refs.ConfigMaps)
	return refs
}
