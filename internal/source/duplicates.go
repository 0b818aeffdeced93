package source

import (
	"fmt"
	"strings"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
	"github.com/trustbroker/trustbroker/internal/policy"
)

// msgConflict is the log message of a Problem about a duplicate.
const msgConflict = "object not used: another that takes precedence claims the same; its status says Accepted=False, reason Conflict"

// precedenceNote says in messages why the other object wins.
const precedenceNote = "created earlier, or in the same second with a name that sorts first"

// relyingPartyLosers returns the relying parties of sts that lose their
// endpoint to one that takes precedence (policy.ResolveClaims, the rule the operator's
// status follows too), with a Problem for each. Claims are resolved over
// the objects, not over what could be built from them, so a broken winner
// leaves its endpoint unserved rather than handing it to the loser the
// status calls out.
func relyingPartyLosers(objs *Objects, sts *stsv1alpha1.SecurityTokenService) (map[*stsv1alpha1.RelyingParty]bool, []Problem) {
	var bound []*stsv1alpha1.RelyingParty
	var claims []policy.Claim
	for _, o := range objs.RelyingParties {
		if o.Namespace != sts.Namespace || o.Spec.STSRef.Name != sts.Name {
			continue
		}
		bound = append(bound, o)
		claims = append(claims, policy.Claim{Namespace: o.Namespace, Name: o.Name, Created: o.CreationTimestamp.Time,
			Key: policy.RelyingPartyKey(o.Spec.Match == stsv1alpha1.MatchPrefix, o.Spec.Endpoint)})
	}
	losers := map[*stsv1alpha1.RelyingParty]bool{}
	var problems []Problem
	for i, w := range policy.ResolveClaims(claims) {
		if w == i {
			continue
		}
		o, winner := bound[i], bound[w]
		match := o.Spec.Match
		if match == "" {
			match = stsv1alpha1.MatchExact
		}
		losers[o] = true
		problems = append(problems, Problem{Kind: "RelyingParty", NamespacedName: Key(o.Namespace, o.Name), Msg: msgConflict,
			Err: fmt.Errorf("RelyingParty %s already claims endpoint %s (match %s) and takes precedence (%s): change spec.endpoint or delete one of the two",
				winner.Name, strings.TrimSpace(o.Spec.Endpoint), match, precedenceNote)})
	}
	return losers, problems
}

// trustedIssuerLosers is relyingPartyLosers for trusted issuers, which
// claim their Issuer name.
func trustedIssuerLosers(objs *Objects, sts *stsv1alpha1.SecurityTokenService) (map[*stsv1alpha1.TrustedIssuer]bool, []Problem) {
	var bound []*stsv1alpha1.TrustedIssuer
	var claims []policy.Claim
	for _, o := range objs.TrustedIssuers {
		if o.Namespace != sts.Namespace || o.Spec.STSRef.Name != sts.Name {
			continue
		}
		bound = append(bound, o)
		claims = append(claims, policy.Claim{Namespace: o.Namespace, Name: o.Name, Created: o.CreationTimestamp.Time,
			Key: policy.TrustedIssuerKey(o.Spec.Issuer)})
	}
	losers := map[*stsv1alpha1.TrustedIssuer]bool{}
	var problems []Problem
	for i, w := range policy.ResolveClaims(claims) {
		if w == i {
			continue
		}
		o, winner := bound[i], bound[w]
		losers[o] = true
		problems = append(problems, Problem{Kind: "TrustedIssuer", NamespacedName: Key(o.Namespace, o.Name), Msg: msgConflict,
			Err: fmt.Errorf("TrustedIssuer %s already claims issuer %s and takes precedence (%s): change spec.issuer or delete one of the two",
				winner.Name, o.Spec.Issuer, precedenceNote)})
	}
	return losers, problems
}
