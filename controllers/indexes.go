package controllers

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/source"
)

// Field indexes the reconcilers look objects up by. They are registered once
// per manager by RegisterIndexes.
const (
	// indexSTSRef indexes RelyingParty and TrustedIssuer by spec.stsRef.name.
	indexSTSRef = "spec.stsRef.name"
	// indexEndpoint indexes RelyingParty by STS, match and endpoint, so the
	// parties that claim one endpoint are found together.
	indexEndpoint = "trustbroker.endpointKey"
	// indexIssuer indexes TrustedIssuer by STS and issuer name, so the
	// issuers that claim one name are found together.
	indexIssuer = "trustbroker.issuerKey"
	// indexSecrets indexes all three kinds by the Secret names they refer to.
	indexSecrets = "trustbroker.secretRefs"
	// indexConfigMaps indexes RelyingParty and TrustedIssuer by the ConfigMap
	// names they refer to.
	indexConfigMaps = "trustbroker.configMapRefs"
)

// RegisterIndexes adds the field indexes the reconcilers need to the
// manager's cache. Call it once, before the reconcilers' SetupWithManager.
func RegisterIndexes(ctx context.Context, idx client.FieldIndexer) error {
	type entry struct {
		obj   client.Object
		field string
		fn    client.IndexerFunc
	}
	entries := []entry{
		{&stsv1alpha1.RelyingParty{}, indexSTSRef, func(o client.Object) []string {
			return []string{o.(*stsv1alpha1.RelyingParty).Spec.STSRef.Name}
		}},
		{&stsv1alpha1.TrustedIssuer{}, indexSTSRef, func(o client.Object) []string {
			return []string{o.(*stsv1alpha1.TrustedIssuer).Spec.STSRef.Name}
		}},
		{&stsv1alpha1.RelyingParty{}, indexEndpoint, func(o client.Object) []string {
			return []string{endpointKey(o.(*stsv1alpha1.RelyingParty))}
		}},
		{&stsv1alpha1.TrustedIssuer{}, indexIssuer, func(o client.Object) []string {
			return []string{issuerKey(o.(*stsv1alpha1.TrustedIssuer))}
		}},
		{&stsv1alpha1.SecurityTokenService{}, indexSecrets, func(o client.Object) []string {
			return source.ReferencesOf(o.(*stsv1alpha1.SecurityTokenService), nil, nil).Secrets
		}},
		{&stsv1alpha1.RelyingParty{}, indexSecrets, func(o client.Object) []string {
			s, _ := rpSourceNames(o.(*stsv1alpha1.RelyingParty))
			return s
		}},
		{&stsv1alpha1.TrustedIssuer{}, indexSecrets, func(o client.Object) []string {
			s, _ := tiSourceNames(o.(*stsv1alpha1.TrustedIssuer))
			return s
		}},
		{&stsv1alpha1.RelyingParty{}, indexConfigMaps, func(o client.Object) []string {
			_, c := rpSourceNames(o.(*stsv1alpha1.RelyingParty))
			return c
		}},
		{&stsv1alpha1.TrustedIssuer{}, indexConfigMaps, func(o client.Object) []string {
			_, c := tiSourceNames(o.(*stsv1alpha1.TrustedIssuer))
			return c
		}},
	}
	for _, e := range entries {
		if err := idx.IndexField(ctx, e.obj, e.field, e.fn); err != nil {
			return err
		}
	}
	return nil
}

// endpointKey identifies what a relying party claims: its STS, how it
// matches and its endpoint, keyed as the STS keys it (policy.RelyingPartyKey).
func endpointKey(rp *stsv1alpha1.RelyingParty) string {
	return rp.Spec.STSRef.Name + "\x00" + policy.RelyingPartyKey(rp.Spec.Match == stsv1alpha1.MatchPrefix, rp.Spec.Endpoint)
}

// issuerKey identifies what a trusted issuer claims: its STS and the
// Issuer name its tokens carry.
func issuerKey(ti *stsv1alpha1.TrustedIssuer) string {
	return ti.Spec.STSRef.Name + "\x00" + policy.TrustedIssuerKey(ti.Spec.Issuer)
}

// sourceNames returns the Secret and ConfigMap a certificate source names.
func sourceNames(src *stsv1alpha1.CertificateSource) (secrets, configMaps []string) {
	if src == nil {
		return nil, nil
	}
	if src.SecretRef != nil {
		secrets = append(secrets, src.SecretRef.Name)
	}
	if src.ConfigMapRef != nil {
		configMaps = append(configMaps, src.ConfigMapRef.Name)
	}
	return secrets, configMaps
}

// rpSourceNames returns the Secret and ConfigMap a relying party's encryption
// certificate comes from.
func rpSourceNames(rp *stsv1alpha1.RelyingParty) (secrets, configMaps []string) {
	if rp.Spec.Encryption == nil {
		return nil, nil
	}
	return sourceNames(rp.Spec.Encryption.Certificate)
}

// tiSourceNames returns the Secrets and ConfigMaps a trusted issuer's
// certificates and its webhook's CA bundle come from.
func tiSourceNames(ti *stsv1alpha1.TrustedIssuer) (secrets, configMaps []string) {
	secrets, configMaps = sourceNames(ti.Spec.Certificates)
	if w := ti.Spec.Webhook; w != nil {
		s, c := sourceNames(w.CABundle)
		secrets, configMaps = append(secrets, s...), append(configMaps, c...)
	}
	return secrets, configMaps
}
