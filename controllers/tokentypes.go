package controllers

import (
	"fmt"
	"slices"
	"strings"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
	"github.com/trustbroker/trustbroker/internal/policy"
)

// ReasonUnhandledTokenType: onBehalfOf.allowedTokenTypes lists a custom
// token type URI that no TrustedIssuer of the STS validates with a webhook,
// so the STS refuses every token of that type. A CEL rule on the
// SecurityTokenService cannot see the TrustedIssuers; the status says it.
const ReasonUnhandledTokenType = "UnhandledTokenType"

// tokenTypesHandled checks that every custom token type the STS accepts for
// translation has a trusted issuer whose webhook validates it: one bound to
// the STS, holding its issuer name (the STS leaves the others out), with
// the type in spec.tokenTypes and a spec.webhook.
func tokenTypesHandled(sts *stsv1alpha1.SecurityTokenService, tis []stsv1alpha1.TrustedIssuer) verdict {
	handled := map[string]bool{}
	for i := range tis {
		ti := &tis[i]
		if ti.Spec.Webhook == nil || !holdsIssuerName(ti, tis) {
			continue
		}
		for _, t := range ti.Spec.TokenTypes {
			handled[string(t)] = true
		}
	}
	var unhandled []string
	for _, t := range sts.Spec.OnBehalfOf.AllowedTokenTypes {
		if !slices.Contains(policy.BuiltinTokenTypes, t) && !handled[t] && !slices.Contains(unhandled, t) {
			unhandled = append(unhandled, t)
		}
	}
	if len(unhandled) == 0 {
		return verdict{OK: true, Reason: stsv1alpha1.ConditionReady}
	}
	return verdict{
		Reason: ReasonUnhandledTokenType,
		Message: fmt.Sprintf("spec.onBehalfOf.allowedTokenTypes lists %s, which no TrustedIssuer of this STS validates, so tokens of that type are refused: add a TrustedIssuer with spec.webhook and the type in spec.tokenTypes, or remove the type",
			strings.Join(unhandled, ", ")),
	}
}

// holdsIssuerName reports whether ti wins its issuer name among tis (the
// trusted issuers of one STS), as the STS resolves it.
func holdsIssuerName(ti *stsv1alpha1.TrustedIssuer, tis []stsv1alpha1.TrustedIssuer) bool {
	var same []*stsv1alpha1.TrustedIssuer
	for i := range tis {
		if tis[i].Spec.Issuer == ti.Spec.Issuer {
			same = append(same, &tis[i])
		}
	}
	return claimHolder(ti, same).GetName() == ti.Name
}
