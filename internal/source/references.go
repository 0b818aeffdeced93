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
	spec := sts.Spec
	refs.secret(spec.Signing.SecretRef)
	if p := spec.Signing.PKCS11; p != nil {
		refs.secret(&p.PINSecretRef)
	}
	refs.certs(spec.Signing.Certificate)
	refs.certs(spec.Signing.PreviousCertificates)
	if spec.TLS != nil {
		refs.secret(&spec.TLS.SecretRef)
	}
	if spec.RequestDecryption != nil {
		refs.secret(&spec.RequestDecryption.SecretRef)
	}
	if ut := spec.Authentication.UsernameToken; ut != nil && ut.UserStore != nil {
		refs.secret(ut.UserStore.SecretRef)
		if l := ut.UserStore.LDAP; l != nil {
			refs.secret(l.BindPasswordSecretRef)
			refs.certs(l.CA)
		}
	}
	if x := spec.Authentication.X509; x != nil {
		refs.secret(x.TrustedCASecretRef)
		refs.certs(x.ClientCertificates)
	}
	if k := spec.Authentication.Kerberos; k != nil {
		refs.secret(k.KeytabSecretRef)
	}
	if s := spec.ReplayDetection.Store; s != nil && s.Redis != nil {
		refs.secret(s.Redis.PasswordSecretRef)
	}
	if p := spec.SignInPage; p != nil {
		refs.secret(p.SessionKeySecretRef)
	}
	for _, rp := range rps {
		if rp.Namespace == sts.Namespace && rp.Spec.STSRef.Name == sts.Name {
			refs.relyingParty(rp)
		}
	}
	for _, ti := range tis {
		if ti.Namespace == sts.Namespace && ti.Spec.STSRef.Name == sts.Name {
			refs.trustedIssuer(ti)
		}
	}
	return refs.sorted()
}

// RelyingPartyReferences lists what one relying party refers to, whichever
// STS it names (the operator indexes relying parties by these names).
func RelyingPartyReferences(rp *stsv1alpha1.RelyingParty) References {
	var refs References
	refs.relyingParty(rp)
	return refs.sorted()
}

// TrustedIssuerReferences lists what one trusted issuer refers to,
// whichever STS it names.
func TrustedIssuerReferences(ti *stsv1alpha1.TrustedIssuer) References {
	var refs References
	refs.trustedIssuer(ti)
	return refs.sorted()
}

func (refs *References) relyingParty(rp *stsv1alpha1.RelyingParty) {
	if rp.Spec.Encryption != nil {
		refs.certs(rp.Spec.Encryption.Certificate)
	}
}

func (refs *References) trustedIssuer(ti *stsv1alpha1.TrustedIssuer) {
	refs.certs(ti.Spec.Certificates)
	if ti.Spec.Webhook != nil {
		refs.certs(ti.Spec.Webhook.CABundle)
	}
}

func (refs *References) secret(s *stsv1alpha1.SecretKeySelector) {
	if s != nil {
		refs.Secrets = append(refs.Secrets, s.Name)
	}
}

func (refs *References) certs(c *stsv1alpha1.CertificateSource) {
	if c == nil {
		return
	}
	refs.secret(c.SecretRef)
	if c.ConfigMapRef != nil {
		refs.ConfigMaps = append(refs.ConfigMaps, c.ConfigMapRef.Name)
	}
}

// sorted sorts the names and drops duplicates.
func (refs References) sorted() References {
	slices.Sort(refs.Secrets)
	slices.Sort(refs.ConfigMaps)
	refs.Secrets = slices.Compact(refs.Secrets)
	refs.ConfigMaps = slices.Compact(refs.ConfigMaps)
	return refs
}
