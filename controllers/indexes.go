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
			return source.RelyingPartyReferences(o.(*stsv1alpha1.RelyingParty)).Secrets
		}},
		{&stsv1alpha1.TrustedIssuer{}, indexSecrets, func(o client.Object) []string {
			return source.TrustedIssuerReferences(o.(*stsv1alpha1.TrustedIssuer)).Secrets
		}},
		{&stsv1alpha1.RelyingParty{}, indexConfigMaps, func(o client.Object) []string {
			return source.RelyingPartyReferences(o.(*stsv1alpha1.RelyingParty)).ConfigMaps
		}},
		{&stsv1alpha1.TrustedIssuer{}, indexConfigMaps, func(o client.Object) []string {
			return source.TrustedIssuerReferences(o.(*stsv1alpha1.TrustedIssuer)).ConfigMaps
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
